//! Field selectors: the `fieldSelector` query form (`a=b,c!=d`, `\` escapes `\`, `,` and `=`
//! in values) and the fields each kind lets clients select on, as upstream defines them.

use std::fmt;

use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FieldSelectorError {
    /// A term has no operator.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    BadTerm { selector: String, term: String },
    #[error("invalid field selector: invalid escape sequence: {0}")]
    InvalidEscape(String),
    #[error("invalid field selector: unescaped character in value: {0:?}")]
    UnescapedRune(char),
    /// The kind does not offer this field for selection (upstream answers 400 BadRequest).
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOp {
    /// `=` or `==`.
    Equals,
    /// `!=`.
    NotEquals,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub op: FieldOp,
    /// Unescaped.
    pub value: String,
}

/// A conjunction of field terms; the empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    pub fn new(requirements: Vec<FieldRequirement>) -> Self {
        FieldSelector { requirements }
    }

    pub fn everything() -> Self {
        FieldSelector::default()
    }

    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// Parses `a=b,c!=d,e==f`. Field names are taken as written (no trimming), as upstream does.
    pub fn parse(selector: &str) -> Result<Self, FieldSelectorError> {
        let mut requirements = Vec::new();
        for term in split_terms(selector) {
            if term.is_empty() {
                continue;
            }
            let Some((field, op, raw)) = split_term(term) else {
                return Err(FieldSelectorError::BadTerm {
                    selector: selector.to_string(),
                    term: term.to_string(),
                });
            };
            requirements.push(FieldRequirement {
                field: field.to_string(),
                op,
                value: unescape(raw)?,
            });
        }
        Ok(FieldSelector { requirements })
    }

    /// The name an exact `metadata.name=<x>` term pins, if any: lets a list or watch look up
    /// one key instead of scanning.
    pub fn exact_name(&self) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == "metadata.name" && r.op == FieldOp::Equals)
            .map(|r| r.value.as_str())
    }

    /// Matches against a field lookup; a field the lookup does not know counts as "".
    pub fn matches(&self, get: &dyn Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| {
            let have = get(&r.field).unwrap_or_default();
            match r.op {
                FieldOp::Equals => have == r.value,
                FieldOp::NotEquals => have != r.value,
            }
        })
    }

    /// Checks every field is selectable on the kind, so a bad selector fails before any listing.
    pub fn validate_for(&self, group: &str, plural: &str) -> Result<(), FieldSelectorError> {
        for r in &self.requirements {
            if !is_supported(group, plural, &r.field) {
                return Err(FieldSelectorError::UnsupportedField(r.field.clone()));
            }
        }
        Ok(())
    }

    /// Matches one object of the kind `group`/`plural`.
    pub fn matches_object(
        &self,
        group: &str,
        plural: &str,
        obj: &Value,
    ) -> Result<bool, FieldSelectorError> {
        for r in &self.requirements {
            let have = field_value(group, plural, obj, &r.field)?.unwrap_or_default();
            let ok = match r.op {
                FieldOp::Equals => have == r.value,
                FieldOp::NotEquals => have != r.value,
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = match r.op {
                FieldOp::Equals => "=",
                FieldOp::NotEquals => "!=",
            };
            write!(f, "{}{}{}", r.field, op, escape(&r.value))?;
        }
        Ok(())
    }
}

impl std::str::FromStr for FieldSelector {
    type Err = FieldSelectorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FieldSelector::parse(s)
    }
}

/// Splits on commas that are not escaped.
fn split_terms(s: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// The leftmost operator wins; at one position `!=` and `==` are tried before `=`.
fn split_term(term: &str) -> Option<(&str, FieldOp, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, kind) in [
            ("!=", FieldOp::NotEquals),
            ("==", FieldOp::Equals),
            ("=", FieldOp::Equals),
        ] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], kind, value));
            }
        }
    }
    None
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn unescape(raw: &str) -> Result<String, FieldSelectorError> {
    let mut out = String::with_capacity(raw.len());
    let mut in_slash = false;
    for c in raw.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(FieldSelectorError::InvalidEscape(format!("\\{c}")));
            }
            out.push(c);
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => return Err(FieldSelectorError::UnescapedRune(c)),
            c => out.push(c),
        }
    }
    if in_slash {
        return Err(FieldSelectorError::InvalidEscape("\\".to_string()));
    }
    Ok(out)
}

const POD_FIELDS: &[&str] = &[
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
    // Old v1 clients send `spec.host`; upstream maps it to spec.nodeName.
    "spec.host",
];
const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];
const EVENTS_V1_FIELDS: &[&str] = &[
    "regarding.kind",
    "regarding.namespace",
    "regarding.name",
    "regarding.uid",
    "regarding.apiVersion",
    "regarding.resourceVersion",
    "regarding.fieldPath",
    "reason",
    "reportingController",
    "type",
];

/// The fields a kind offers beyond `metadata.name` and `metadata.namespace`.
pub fn supported_fields(group: &str, plural: &str) -> &'static [&'static str] {
    match (group, plural) {
        ("", "pods") => POD_FIELDS,
        ("", "events") => EVENT_FIELDS,
        ("events.k8s.io", "events") => EVENTS_V1_FIELDS,
        ("", "secrets") => &["type"],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "namespaces") => &["status.phase"],
        ("", "replicationcontrollers") | ("apps", "replicasets") => &["status.replicas"],
        ("batch", "jobs") => &["status.successful"],
        ("certificates.k8s.io", "certificatesigningrequests") => &["spec.signerName"],
        _ => &[],
    }
}

fn is_supported(group: &str, plural: &str, field: &str) -> bool {
    field == "metadata.name"
        || field == "metadata.namespace"
        || supported_fields(group, plural).contains(&field)
}

fn at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, k| v.get(k))
}

fn string_at(obj: &Value, path: &[&str]) -> Option<String> {
    at(obj, path).and_then(Value::as_str).map(str::to_string)
}

/// Booleans print as Go's `FormatBool` would, with the zero value when absent.
fn bool_at(obj: &Value, path: &[&str]) -> Option<String> {
    Some(
        at(obj, path)
            .and_then(Value::as_bool)
            .unwrap_or(false)
            .to_string(),
    )
}

/// Integers print in decimal, with the zero value when absent.
fn int_at(obj: &Value, path: &[&str]) -> Option<String> {
    Some(
        at(obj, path)
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .to_string(),
    )
}

fn first_string(candidates: &[Option<String>]) -> Option<String> {
    candidates.iter().flatten().find(|s| !s.is_empty()).cloned()
}

/// The value of a selectable field of an object of kind `group`/`plural`: `Ok(None)` when the
/// object lacks it (selectors compare that as ""), an error when the kind does not offer it.
pub fn field_value(
    group: &str,
    plural: &str,
    obj: &Value,
    field: &str,
) -> Result<Option<String>, FieldSelectorError> {
    if !is_supported(group, plural, field) {
        return Err(FieldSelectorError::UnsupportedField(field.to_string()));
    }
    let value = match (group, plural, field) {
        (_, _, "metadata.name") => string_at(obj, &["metadata", "name"]),
        (_, _, "metadata.namespace") => string_at(obj, &["metadata", "namespace"]),
        ("", "pods", "spec.hostNetwork") => bool_at(obj, &["spec", "hostNetwork"]),
        ("", "pods", "spec.host") => string_at(obj, &["spec", "nodeName"]),
        // Upstream reads the primary IP from podIPs; podIP mirrors it in objects we write.
        ("", "pods", "status.podIP") => first_string(&[
            at(obj, &["status", "podIPs"])
                .and_then(|ips| ips.get(0))
                .and_then(|ip| string_at(ip, &["ip"])),
            string_at(obj, &["status", "podIP"]),
        ]),
        ("", "events", "source") => first_string(&[
            string_at(obj, &["source", "component"]),
            string_at(obj, &["reportingComponent"]),
        ]),
        ("events.k8s.io", "events", f) if f.starts_with("regarding.") => {
            let sub = &f["regarding.".len()..];
            first_string(&[
                string_at(obj, &["regarding", sub]),
                string_at(obj, &["involvedObject", sub]),
            ])
        }
        // The two event forms share storage, so accept an object in either shape.
        ("events.k8s.io", "events", "reportingController") => first_string(&[
            string_at(obj, &["reportingController"]),
            string_at(obj, &["reportingComponent"]),
        ]),
        ("", "nodes", "spec.unschedulable") => bool_at(obj, &["spec", "unschedulable"]),
        ("", "replicationcontrollers", "status.replicas")
        | ("apps", "replicasets", "status.replicas") => int_at(obj, &["status", "replicas"]),
        // Upstream names the selectable field `successful` but reads `succeeded`.
        ("batch", "jobs", "status.successful") => int_at(obj, &["status", "succeeded"]),
        (_, _, f) => {
            let path: Vec<&str> = f.split('.').collect();
            string_at(obj, &path)
        }
    };
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn parses_equals_double_equals_and_not_equals() {
        let s = FieldSelector::parse("a=b,c!=d,e==f").unwrap();
        let ops: Vec<FieldOp> = s.requirements().iter().map(|r| r.op).collect();
        assert_eq!(
            ops,
            vec![FieldOp::Equals, FieldOp::NotEquals, FieldOp::Equals]
        );
        assert_eq!(s.requirements()[2].value, "f");
        assert_eq!(s.to_string(), "a=b,c!=d,e=f");
    }

    #[test]
    fn empty_and_trailing_comma_select_everything_else() {
        assert!(FieldSelector::parse("").unwrap().is_everything());
        assert_eq!(
            FieldSelector::parse("a=b,").unwrap().requirements().len(),
            1
        );
    }

    #[test]
    fn term_without_operator_is_rejected() {
        let err = FieldSelector::parse("a=b,oops").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid selector: 'a=b,oops'; can't understand 'oops'"
        );
    }

    #[test]
    fn escapes_are_honoured_and_bad_ones_rejected() {
        let s = FieldSelector::parse(r"a=x\,y\=z\\").unwrap();
        assert_eq!(s.requirements()[0].value, r"x,y=z\");
        assert_eq!(FieldSelector::parse(&s.to_string()).unwrap(), s);
        assert_eq!(
            FieldSelector::parse(r"a=\q").unwrap_err(),
            FieldSelectorError::InvalidEscape(r"\q".into())
        );
        assert_eq!(
            FieldSelector::parse(r"a=x\").unwrap_err(),
            FieldSelectorError::InvalidEscape(r"\".into())
        );
        assert_eq!(
            FieldSelector::parse("a=b=c").unwrap_err(),
            FieldSelectorError::UnescapedRune('=')
        );
    }

    #[test]
    fn pods_without_node_match_empty_node_name() {
        let pod = json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {}});
        let sel = FieldSelector::parse("spec.nodeName=").unwrap();
        assert!(sel.matches_object("", "pods", &pod).unwrap());
        let bound = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1"}});
        assert!(!sel.matches_object("", "pods", &bound).unwrap());
        assert!(
            FieldSelector::parse("spec.nodeName!=")
                .unwrap()
                .matches_object("", "pods", &bound)
                .unwrap()
        );
        assert!(
            FieldSelector::parse("spec.host=n1")
                .unwrap()
                .matches_object("", "pods", &bound)
                .unwrap()
        );
    }

    #[test]
    fn pod_fields_read_upstream_values() {
        let pod = json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"restartPolicy": "Always", "schedulerName": "default-scheduler", "serviceAccountName": "sa"},
            "status": {"phase": "Running", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.5"}], "nominatedNodeName": "n2"}
        });
        let v = |f: &str| field_value("", "pods", &pod, f).unwrap();
        assert_eq!(v("metadata.namespace").as_deref(), Some("ns"));
        assert_eq!(v("spec.hostNetwork").as_deref(), Some("false"));
        assert_eq!(v("status.podIP").as_deref(), Some("10.0.0.5"));
        assert_eq!(v("status.phase").as_deref(), Some("Running"));
        assert_eq!(v("status.nominatedNodeName").as_deref(), Some("n2"));
        assert_eq!(v("spec.serviceAccountName").as_deref(), Some("sa"));
    }

    #[test]
    fn unsupported_field_gives_upstream_message() {
        let pod = json!({"metadata": {"name": "p"}});
        let err = field_value("", "pods", &pod, "spec.containers").unwrap_err();
        assert_eq!(
            err.to_string(),
            "field label not supported: spec.containers"
        );
        let sel = FieldSelector::parse("status.phase=Active").unwrap();
        assert!(sel.validate_for("", "namespaces").is_ok());
        assert_eq!(
            sel.validate_for("", "configmaps").unwrap_err().to_string(),
            "field label not supported: status.phase"
        );
        assert!(
            FieldSelector::parse("metadata.name=x")
                .unwrap()
                .validate_for("apps", "deployments")
                .is_ok()
        );
    }

    #[test]
    fn event_fields_cover_both_event_forms() {
        let core = json!({
            "involvedObject": {"kind": "Pod", "name": "p", "uid": "u1"},
            "reason": "Scheduled", "type": "Normal", "reportingComponent": "default-scheduler", "source": {}
        });
        assert_eq!(
            field_value("", "events", &core, "involvedObject.kind")
                .unwrap()
                .as_deref(),
            Some("Pod")
        );
        assert_eq!(
            field_value("", "events", &core, "source")
                .unwrap()
                .as_deref(),
            Some("default-scheduler")
        );
        assert_eq!(
            field_value("", "events", &core, "reportingComponent")
                .unwrap()
                .as_deref(),
            Some("default-scheduler")
        );
        assert_eq!(
            field_value("events.k8s.io", "events", &core, "regarding.uid")
                .unwrap()
                .as_deref(),
            Some("u1")
        );
        let v1 = json!({"regarding": {"name": "x"}, "reportingController": "kubelet"});
        assert_eq!(
            field_value("events.k8s.io", "events", &v1, "regarding.name")
                .unwrap()
                .as_deref(),
            Some("x")
        );
        assert_eq!(
            field_value("events.k8s.io", "events", &v1, "reportingController")
                .unwrap()
                .as_deref(),
            Some("kubelet")
        );
        assert!(field_value("events.k8s.io", "events", &v1, "involvedObject.name").is_err());
    }

    #[test]
    fn kind_specific_fields_default_like_upstream() {
        let empty = json!({});
        assert_eq!(
            field_value("", "nodes", &empty, "spec.unschedulable")
                .unwrap()
                .as_deref(),
            Some("false")
        );
        assert_eq!(
            field_value("apps", "replicasets", &empty, "status.replicas")
                .unwrap()
                .as_deref(),
            Some("0")
        );
        let rc = json!({"status": {"replicas": 3}});
        assert_eq!(
            field_value("", "replicationcontrollers", &rc, "status.replicas")
                .unwrap()
                .as_deref(),
            Some("3")
        );
        let job = json!({"status": {"succeeded": 2}});
        assert_eq!(
            field_value("batch", "jobs", &job, "status.successful")
                .unwrap()
                .as_deref(),
            Some("2")
        );
        let secret = json!({"type": "kubernetes.io/tls"});
        assert!(
            FieldSelector::parse("type=kubernetes.io/tls")
                .unwrap()
                .matches_object("", "secrets", &secret)
                .unwrap()
        );
        let csr = json!({"spec": {"signerName": "kubernetes.io/kubelet-serving"}});
        assert_eq!(
            field_value(
                "certificates.k8s.io",
                "certificatesigningrequests",
                &csr,
                "spec.signerName"
            )
            .unwrap()
            .as_deref(),
            Some("kubernetes.io/kubelet-serving")
        );
        let ns = json!({"status": {"phase": "Terminating"}});
        assert!(
            FieldSelector::parse("status.phase!=Active")
                .unwrap()
                .matches_object("", "namespaces", &ns)
                .unwrap()
        );
    }

    #[test]
    fn exact_name_finds_the_pinned_name() {
        assert_eq!(
            FieldSelector::parse("metadata.name=x")
                .unwrap()
                .exact_name(),
            Some("x")
        );
        assert_eq!(
            FieldSelector::parse("metadata.name!=x")
                .unwrap()
                .exact_name(),
            None
        );
    }

    #[test]
    fn matches_with_a_lookup_treats_missing_as_empty() {
        let s = FieldSelector::parse("a=,b=2").unwrap();
        assert!(s.matches(&|f| if f == "b" {
            Some("2".to_string())
        } else {
            None
        }));
        assert!(!s.matches(&|_| None));
    }

    fn requirement_strategy() -> impl Strategy<Value = FieldRequirement> {
        ("[a-zA-Z][a-zA-Z.]{0,15}", any::<bool>(), any::<String>()).prop_map(
            |(field, ne, value)| FieldRequirement {
                field,
                op: if ne {
                    FieldOp::NotEquals
                } else {
                    FieldOp::Equals
                },
                value,
            },
        )
    }

    proptest! {
        #[test]
        fn parse_of_print_gives_back_the_selector(reqs in proptest::collection::vec(requirement_strategy(), 1..5)) {
            let s = FieldSelector::new(reqs);
            prop_assert_eq!(FieldSelector::parse(&s.to_string()).unwrap(), s);
        }

        #[test]
        fn parse_and_lookup_never_panic(input in any::<String>(), field in any::<String>()) {
            if let Ok(s) = FieldSelector::parse(&input) {
                let obj = json!({"metadata": {"name": "x"}, "spec": {"nodeName": 5}});
                let _ = s.matches_object("", "pods", &obj);
                let _ = s.matches_object("events.k8s.io", "events", &obj);
            }
            let _ = field_value("", "pods", &json!(null), &field);
            let _ = field_value("", "events", &json!([1]), &field);
        }
    }
}
