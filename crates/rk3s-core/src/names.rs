//! Object name, label and annotation validation with upstream's rules and messages; entry
//! points: [`validate_name`], [`validate_labels`], [`validate_annotations`], [`generate_name`].
//!
//! Messages are upstream's word for word (double spaces in the example lists included) because
//! clients and tests match on them.

use std::collections::BTreeMap;

pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
pub const DNS1035_LABEL_MAX_LENGTH: usize = 63;
pub const QUALIFIED_NAME_MAX_LENGTH: usize = 63;
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;
/// Upper bound on the summed length of all annotation keys and values.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;
/// A generated name is at most this long before the random suffix is appended.
pub const MAX_GENERATED_NAME_PREFIX: usize = 58;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// Upstream's regex error text: the message, examples, and the regex itself.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let mut out = String::from(msg);
    out.push_str(" (");
    if !examples.is_empty() {
        out.push_str("e.g. ");
        for (i, ex) in examples.iter().enumerate() {
            if i > 0 {
                out.push_str(" or ");
            }
            out.push('\'');
            out.push_str(ex);
            out.push_str("', ");
        }
    }
    out.push_str("regex used for validation is '");
    out.push_str(fmt);
    out.push_str("')");
    out
}

fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?` (no length bound).
fn is_label_shape(s: &str, first: fn(u8) -> bool) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) => {
            first(f)
                && (l.is_ascii_lowercase() || l.is_ascii_digit())
                && b.iter()
                    .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        }
        _ => false,
    }
}

fn lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn is_subdomain_shape(s: &str) -> bool {
    s.split('.').all(|part| is_label_shape(part, lower_alnum))
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_qualified_name_shape(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// RFC 1123 label: namespaces and other names that become DNS labels.
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !is_label_shape(value, lower_alnum) {
        if is_subdomain_shape(value) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// RFC 1123 subdomain: the name rule of most kinds.
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !is_subdomain_shape(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// RFC 1035 label: services (their names become DNS labels that must not start with a digit).
pub fn is_dns1035_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1035_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1035_LABEL_MAX_LENGTH));
    }
    if !is_label_shape(value, |c| c.is_ascii_lowercase()) {
        errs.push(regex_error(
            DNS1035_LABEL_MSG,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// Names that only have to be usable as one URL path segment (RBAC kinds).
pub fn is_path_segment_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value == "." || value == ".." {
        errs.push(format!("may not be '{value}'"));
    }
    for bad in ["/", "%"] {
        if value.contains(bad) {
            errs.push(format!("may not contain '{bad}'"));
        }
    }
    errs
}

/// A qualified name: `name` or `prefix/name` with a DNS subdomain prefix (label keys,
/// annotation keys, finalizers).
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    is_dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > QUALIFIED_NAME_MAX_LENGTH {
        errs.push(format!(
            "name part {}",
            max_len_error(QUALIFIED_NAME_MAX_LENGTH)
        ));
    }
    if !is_qualified_name_shape(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// A label key is a qualified name.
pub fn validate_label_key(key: &str) -> Vec<String> {
    is_qualified_name(key)
}

/// A label value: empty, or up to 63 characters shaped like a qualified name.
pub fn validate_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(max_len_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !value.is_empty() && !is_qualified_name_shape(value) {
        errs.push(regex_error(
            LABEL_VALUE_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Quotes a value the way Go's `%q` does for the printable cases that matter here.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Upstream's `field.Invalid` text: `<path>: Invalid value: "<value>": <detail>`.
pub fn invalid_field(path: &str, value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {}: {detail}", go_quote(value))
}

/// Validates `metadata.labels`; each message is a complete field error as upstream prints it.
pub fn validate_labels(labels: &BTreeMap<String, String>) -> Vec<String> {
    let path = "metadata.labels";
    let mut errs = Vec::new();
    for (k, v) in labels {
        errs.extend(
            validate_label_key(k)
                .iter()
                .map(|m| invalid_field(path, k, m)),
        );
        errs.extend(
            validate_label_value(v)
                .iter()
                .map(|m| invalid_field(path, v, m)),
        );
    }
    errs
}

/// Validates `metadata.annotations`: keys are qualified names (case-insensitively) and the
/// keys and values together stay within 256 KiB.
pub fn validate_annotations(annotations: &BTreeMap<String, String>) -> Vec<String> {
    let path = "metadata.annotations";
    let mut errs = Vec::new();
    let mut total: usize = 0;
    for (k, v) in annotations {
        errs.extend(
            is_qualified_name(&k.to_lowercase())
                .iter()
                .map(|m| invalid_field(path, k, m)),
        );
        total = total.saturating_add(k.len()).saturating_add(v.len());
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(format!(
            "{path}: Too long: may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"
        ));
    }
    errs
}

/// Which rule a kind's object names follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    Dns1123Subdomain,
    Dns1123Label,
    Dns1035Label,
    PathSegment,
    /// `<version>.<group>`, a path segment with a dot (APIService).
    ApiService,
    /// The canonical text form of an IP address (IPAddress).
    IpAddress,
    /// A DNS subdomain of at most the given length (CronJob: 52, CSIDriver: 63).
    ShortSubdomain(usize),
}

/// The name rule upstream applies to a kind, by group and plural.
pub fn name_rule(group: &str, plural: &str) -> NameRule {
    match (group, plural) {
        ("", "namespaces") => NameRule::Dns1123Label,
        ("", "services") => NameRule::Dns1035Label,
        ("rbac.authorization.k8s.io", _) => NameRule::PathSegment,
        ("apiregistration.k8s.io", "apiservices") => NameRule::ApiService,
        ("networking.k8s.io", "ipaddresses") => NameRule::IpAddress,
        // Jobs created from a CronJob append 11 characters and must stay a DNS-1035 label.
        ("batch", "cronjobs") => NameRule::ShortSubdomain(52),
        ("storage.k8s.io", "csidrivers") => NameRule::ShortSubdomain(63),
        _ => NameRule::Dns1123Subdomain,
    }
}

fn check_rule(rule: NameRule, name: &str) -> Vec<String> {
    match rule {
        NameRule::Dns1123Subdomain => is_dns1123_subdomain(name),
        NameRule::Dns1123Label => is_dns1123_label(name),
        NameRule::Dns1035Label => is_dns1035_label(name),
        NameRule::PathSegment => is_path_segment_name(name),
        NameRule::ApiService => {
            let mut errs = is_path_segment_name(name);
            if !name.contains('.') {
                errs.push("API Service name must satisfy <version>.<group>".to_string());
            }
            errs
        }
        NameRule::IpAddress => match name.parse::<std::net::IpAddr>() {
            Ok(ip) if ip.to_string() == name => Vec::new(),
            Ok(ip) => vec![format!("must be in canonical form (\"{ip}\")")],
            Err(_) => {
                vec!["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".to_string()]
            }
        },
        NameRule::ShortSubdomain(max) => {
            let mut errs = is_dns1123_subdomain(name);
            if name.len() > max && name.len() <= DNS1123_SUBDOMAIN_MAX_LENGTH {
                errs.insert(0, max_len_error(max));
            }
            errs
        }
    }
}

/// Validates an object name of the kind `group`/`plural`; the messages are upstream's details.
pub fn validate_name(group: &str, plural: &str, name: &str) -> Result<(), Vec<String>> {
    if name.is_empty() {
        return Err(vec!["name or generateName is required".to_string()]);
    }
    let errs = check_rule(name_rule(group, plural), name);
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

/// Validates a `metadata.generateName` prefix: as a name, except that a trailing `-` is fine
/// because a random suffix follows.
pub fn validate_generate_name(group: &str, plural: &str, prefix: &str) -> Result<(), Vec<String>> {
    if prefix.is_empty() {
        return Ok(());
    }
    let masked = match prefix.strip_suffix('-') {
        Some(rest) => format!("{rest}a"),
        None => prefix.to_string(),
    };
    let errs = check_rule(name_rule(group, plural), &masked);
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

/// The name for `generateName`: the prefix cut to 58 bytes (on a character boundary) followed
/// by the random suffix, so a 5-character suffix always yields a name of at most 63.
pub fn generate_name(prefix: &str, random_suffix: &str) -> String {
    let mut cut = prefix.len().min(MAX_GENERATED_NAME_PREFIX);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{}", &prefix[..cut], random_suffix)
}

/// Five random characters for [`generate_name`], from upstream's alphabet: no vowels (no
/// accidental words) and no confusable characters.
pub fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let u = uuid::Uuid::new_v4();
    u.as_bytes()
        .iter()
        .take(5)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn random_suffixes_are_five_valid_characters_and_differ() {
        let a = random_suffix();
        assert_eq!(a.len(), 5);
        assert!(is_dns1123_label(&a).is_empty(), "{a}");
        assert!((0..20).any(|_| random_suffix() != a));
    }

    #[test]
    fn most_kinds_take_dns_subdomain_names() {
        assert!(validate_name("", "pods", "web-0.example").is_ok());
        assert!(validate_name("apps", "deployments", "nginx").is_ok());
        let errs = validate_name("", "pods", "Web").unwrap_err();
        assert_eq!(
            errs,
            vec![
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ]
        );
    }

    #[test]
    fn subdomain_longer_than_253_is_rejected_with_length_message() {
        let name = "a".repeat(254);
        assert_eq!(
            validate_name("", "configmaps", &name).unwrap_err(),
            vec!["must be no more than 253 characters"]
        );
        assert!(validate_name("", "configmaps", &"a".repeat(253)).is_ok());
    }

    #[test]
    fn namespaces_must_be_dns_labels() {
        assert!(validate_name("", "namespaces", "kube-system").is_ok());
        assert_eq!(
            validate_name("", "namespaces", "a.b").unwrap_err(),
            vec!["must not contain dots"]
        );
        assert_eq!(
            validate_name("", "namespaces", &"a".repeat(64)).unwrap_err(),
            vec!["must be no more than 63 characters"]
        );
        let errs = validate_name("", "namespaces", "-x").unwrap_err();
        assert!(
            errs[0].starts_with("a lowercase RFC 1123 label must consist"),
            "{errs:?}"
        );
        assert!(
            errs[0].contains("(e.g. 'my-name',  or '123-abc', regex used"),
            "{errs:?}"
        );
    }

    #[test]
    fn services_must_start_with_a_letter() {
        assert!(validate_name("", "services", "kubernetes").is_ok());
        let errs = validate_name("", "services", "1abc").unwrap_err();
        assert_eq!(
            errs,
            vec![
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
            ]
        );
    }

    #[test]
    fn rbac_names_are_path_segments() {
        let g = "rbac.authorization.k8s.io";
        assert!(validate_name(g, "clusterroles", "system:controller:Foo_bar").is_ok());
        assert_eq!(
            validate_name(g, "roles", "..").unwrap_err(),
            vec!["may not be '..'"]
        );
        assert_eq!(
            validate_name(g, "roles", ".").unwrap_err(),
            vec!["may not be '.'"]
        );
        assert_eq!(
            validate_name(g, "rolebindings", "a/b%c").unwrap_err(),
            vec!["may not contain '/'", "may not contain '%'"]
        );
    }

    #[test]
    fn empty_name_is_required() {
        assert_eq!(
            validate_name("", "pods", "").unwrap_err(),
            vec!["name or generateName is required"]
        );
    }

    #[test]
    fn apiservice_and_ipaddress_names_follow_their_special_rules() {
        assert!(validate_name("apiregistration.k8s.io", "apiservices", "v1.apps").is_ok());
        assert!(validate_name("apiregistration.k8s.io", "apiservices", "v1").is_err());
        assert!(validate_name("networking.k8s.io", "ipaddresses", "10.0.0.1").is_ok());
        assert!(validate_name("networking.k8s.io", "ipaddresses", "2001:db8::1").is_ok());
        assert!(validate_name("networking.k8s.io", "ipaddresses", "2001:DB8::1").is_err());
        assert!(validate_name("networking.k8s.io", "ipaddresses", "nope").is_err());
    }

    #[test]
    fn cronjob_names_are_limited_to_52_characters() {
        assert!(validate_name("batch", "cronjobs", &"a".repeat(52)).is_ok());
        assert_eq!(
            validate_name("batch", "cronjobs", &"a".repeat(53)).unwrap_err(),
            vec!["must be no more than 52 characters"]
        );
    }

    #[test]
    fn generate_name_prefix_may_end_in_a_dash() {
        assert!(validate_generate_name("", "pods", "web-").is_ok());
        assert!(validate_generate_name("", "pods", "Web-").is_err());
        assert!(validate_name("", "pods", "web-").is_err());
    }

    #[test]
    fn generate_name_truncates_prefix_to_58() {
        assert_eq!(generate_name("web-", "abcde"), "web-abcde");
        let long = "x".repeat(100);
        let name = generate_name(&long, "abcde");
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("xabcde"));
        // A multi-byte character straddling the cut must not panic.
        let tricky = format!("{}é", "a".repeat(57));
        assert_eq!(
            generate_name(&tricky, "zzzzz"),
            format!("{}zzzzz", "a".repeat(57))
        );
    }

    #[test]
    fn label_keys_and_values_follow_upstream_rules() {
        assert!(validate_label_key("app.kubernetes.io/name").is_empty());
        assert!(validate_label_key("Foo_Bar.baz").is_empty());
        assert_eq!(
            validate_label_key("/x"),
            vec!["prefix part must be non-empty"]
        );
        let errs = validate_label_key("example.com/");
        assert_eq!(errs[0], "name part must be non-empty");
        assert_eq!(errs.len(), 2);
        assert!(validate_label_key("a/b/c")[0].starts_with("a qualified name must consist of"));
        assert_eq!(
            validate_label_key(&"k".repeat(64)),
            vec!["name part must be no more than 63 characters"]
        );
        assert!(
            validate_label_key("Example.com/x")[0]
                .starts_with("prefix part a lowercase RFC 1123 subdomain")
        );
        assert!(validate_label_value("").is_empty());
        assert!(validate_label_value("v1.2_3-x").is_empty());
        assert_eq!(
            validate_label_value("-bad"),
            vec![
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
            ]
        );
    }

    #[test]
    fn label_map_errors_carry_field_path_and_value() {
        let labels = BTreeMap::from([("bad key".to_string(), "ok".to_string())]);
        let errs = validate_labels(&labels);
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with(
                "metadata.labels: Invalid value: \"bad key\": name part must consist of"
            ),
            "{errs:?}"
        );
    }

    #[test]
    fn annotations_allow_upper_case_keys_but_not_oversize_totals() {
        let ok = BTreeMap::from([(
            "Example.COM/Note".to_string(),
            "anything at all ✓".to_string(),
        )]);
        assert!(validate_annotations(&ok).is_empty());
        let big = BTreeMap::from([("a".to_string(), "v".repeat(TOTAL_ANNOTATION_SIZE_LIMIT))]);
        assert_eq!(
            validate_annotations(&big),
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
        let exact =
            BTreeMap::from([("a".to_string(), "v".repeat(TOTAL_ANNOTATION_SIZE_LIMIT - 1))]);
        assert!(validate_annotations(&exact).is_empty());
    }

    proptest! {
        #[test]
        fn validators_never_panic(s in any::<String>(), prefix in any::<String>()) {
            for (g, p) in [("", "pods"), ("", "namespaces"), ("", "services"), ("rbac.authorization.k8s.io", "roles"),
                           ("apiregistration.k8s.io", "apiservices"), ("networking.k8s.io", "ipaddresses"), ("batch", "cronjobs")] {
                let _ = validate_name(g, p, &s);
                let _ = validate_generate_name(g, p, &s);
            }
            let _ = is_qualified_name(&s);
            let _ = validate_label_value(&s);
            let _ = generate_name(&prefix, &s);
            let m = BTreeMap::from([(s.clone(), prefix.clone())]);
            let _ = validate_labels(&m);
            let _ = validate_annotations(&m);
        }

        #[test]
        fn names_matching_the_subdomain_regex_are_accepted(
            s in "[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?){0,5}"
        ) {
            prop_assert!(validate_name("", "configmaps", &s).is_ok());
        }

        #[test]
        fn names_matching_the_label_regex_are_accepted(s in "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?") {
            prop_assert!(validate_name("", "namespaces", &s).is_ok());
        }

        #[test]
        fn names_matching_the_dns1035_regex_are_accepted(s in "[a-z]([-a-z0-9]{0,61}[a-z0-9])?") {
            prop_assert!(validate_name("", "services", &s).is_ok());
        }

        #[test]
        fn label_values_matching_the_regex_are_accepted(s in "(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?") {
            prop_assert!(validate_label_value(&s).is_empty());
        }

        #[test]
        fn generated_names_fit_63_with_a_5_char_suffix(prefix in any::<String>(), suffix in "[a-z0-9]{5}") {
            let name = generate_name(&prefix, &suffix);
            prop_assert!(name.len() <= 63);
            prop_assert!(name.ends_with(&suffix));
        }
    }
}
