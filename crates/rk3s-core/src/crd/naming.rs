//! The naming controller's result as a pure function: which names of a CRD are accepted
//! against the other CRDs of its group, and the `NamesAccepted`/`Established` conditions that
//! `kubectl wait --for condition=established` watches. Entry point: [`accept_names`].

use serde_json::{Map, Value, json};

fn names_of<'a>(crd: &'a Value, pointer: &str) -> Option<&'a Map<String, Value>> {
    crd.pointer(pointer).and_then(Value::as_object)
}

fn name_field<'a>(names: Option<&'a Map<String, Value>>, key: &str) -> &'a str {
    names
        .and_then(|n| n.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn short_names(names: Option<&Map<String, Value>>) -> Vec<&str> {
    names
        .and_then(|n| n.get("shortNames"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The first conflict of `crd`'s requested names with the accepted names of `others` in the
/// same group: `(reason, message)`.
fn conflict(crd: &Value, others: &[Value]) -> Option<(&'static str, String)> {
    let group = crd.pointer("/spec/group");
    let name = crd.pointer("/metadata/name");
    let wanted = names_of(crd, "/spec/names");
    for other in others {
        if other.pointer("/spec/group") != group || other.pointer("/metadata/name") == name {
            continue;
        }
        let taken = names_of(other, "/status/acceptedNames");
        let taken_short = short_names(taken);
        let mut taken_all: Vec<&str> = ["plural", "singular"]
            .iter()
            .map(|k| name_field(taken, k))
            .collect();
        taken_all.extend(&taken_short);
        let checks: [(&str, &'static str, Vec<&str>); 2] = [
            ("plural", "PluralConflict", taken_all.clone()),
            ("singular", "SingularConflict", taken_all.clone()),
        ];
        for (key, reason, taken_names) in checks {
            let w = name_field(wanted, key);
            if !w.is_empty() && taken_names.contains(&w) {
                return Some((reason, format!("{w:?} is already in use")));
            }
        }
        for s in short_names(wanted) {
            if taken_all.contains(&s) {
                return Some(("ShortNamesConflict", format!("{s:?} is already in use")));
            }
        }
        let kinds = [name_field(taken, "kind"), name_field(taken, "listKind")];
        for (key, reason) in [("kind", "KindConflict"), ("listKind", "ListKindConflict")] {
            let w = name_field(wanted, key);
            if !w.is_empty() && kinds.contains(&w) {
                return Some((reason, format!("{w:?} is already in use")));
            }
        }
    }
    None
}

/// Sets one condition, keeping `lastTransitionTime` when the status does not change.
fn set_condition(
    conditions: &mut Vec<Value>,
    type_: &str,
    ok: bool,
    reason: &str,
    message: &str,
    now: &str,
) {
    let status = if ok { "True" } else { "False" };
    let old = conditions
        .iter()
        .position(|c| c.get("type").and_then(Value::as_str) == Some(type_));
    let since = old
        .map(|i| &conditions[i])
        .filter(|c| c.get("status").and_then(Value::as_str) == Some(status))
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| Value::from(now));
    let cond = json!({
        "type": type_, "status": status, "lastTransitionTime": since,
        "reason": reason, "message": message,
    });
    match old {
        Some(i) => conditions[i] = cond,
        None => conditions.push(cond),
    }
}

/// Accepts the names of `crd` unless another CRD of its group (in `others`, by accepted names)
/// holds one of them; sets `status.acceptedNames` and the `NamesAccepted` and `Established`
/// conditions (`now` is an RFC 3339 time). A CRD once established stays established.
/// Returns whether the names were accepted.
pub fn accept_names(crd: &mut Value, others: &[Value], now: &str) -> bool {
    let found = conflict(crd, others);
    let requested = crd.pointer("/spec/names").cloned();
    let Some(obj) = crd.as_object_mut() else {
        return false;
    };
    let status = obj
        .entry("status")
        .or_insert_with(|| Value::Object(Map::new()));
    if !status.is_object() {
        *status = Value::Object(Map::new());
    }
    let Some(status) = status.as_object_mut() else {
        return false;
    };
    let mut conditions: Vec<Value> = status
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let was_established = conditions.iter().any(|c| {
        c.get("type").and_then(Value::as_str) == Some("Established")
            && c.get("status").and_then(Value::as_str) == Some("True")
    });
    let accepted = found.is_none();
    match &found {
        None => {
            if let Some(names) = requested {
                status.insert("acceptedNames".into(), names);
            }
            set_condition(
                &mut conditions,
                "NamesAccepted",
                true,
                "NoConflicts",
                "no conflicts found",
                now,
            );
            if !was_established {
                set_condition(
                    &mut conditions,
                    "Established",
                    true,
                    "InitialNamesAccepted",
                    "the initial names have been accepted",
                    now,
                );
            }
        }
        Some((reason, message)) => {
            set_condition(
                &mut conditions,
                "NamesAccepted",
                false,
                reason,
                message,
                now,
            );
            if !was_established {
                set_condition(
                    &mut conditions,
                    "Established",
                    false,
                    "NotAccepted",
                    "not all names are accepted",
                    now,
                );
            }
        }
    }
    status.insert("conditions".into(), Value::Array(conditions));
    accepted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(plural: &str, kind: &str, short: &[&str]) -> Value {
        json!({
            "metadata": {"name": format!("{plural}.example.com")},
            "spec": {"group": "example.com", "names": {
                "plural": plural, "singular": plural.trim_end_matches('s'), "kind": kind,
                "listKind": format!("{kind}List"), "shortNames": short}},
        })
    }

    fn condition<'a>(crd: &'a Value, type_: &str) -> &'a Value {
        crd["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == type_))
            .unwrap()
    }

    #[test]
    fn names_without_conflict_are_accepted_and_established() {
        let mut c = crd("crontabs", "CronTab", &["ct"]);
        assert!(accept_names(&mut c, &[], "2024-05-01T12:00:00Z"));
        assert_eq!(c["status"]["acceptedNames"]["kind"], "CronTab");
        let est = condition(&c, "Established");
        assert_eq!(
            (est["status"].as_str(), est["reason"].as_str()),
            (Some("True"), Some("InitialNamesAccepted"))
        );
        assert_eq!(
            condition(&c, "NamesAccepted")["message"],
            "no conflicts found"
        );
        // A second pass keeps the transition time.
        assert!(accept_names(&mut c, &[], "2024-05-02T00:00:00Z"));
        assert_eq!(
            condition(&c, "Established")["lastTransitionTime"],
            "2024-05-01T12:00:00Z"
        );
        assert_eq!(c["status"]["conditions"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn names_held_by_another_crd_of_the_group_conflict() {
        let mut existing = crd("crontabs", "CronTab", &["ct"]);
        accept_names(&mut existing, &[], "t0");
        let others = [existing];
        let mut short = crd("crontables", "CronTable", &["ct"]);
        assert!(!accept_names(&mut short, &others, "t1"));
        let na = condition(&short, "NamesAccepted");
        assert_eq!(na["reason"], "ShortNamesConflict");
        assert_eq!(na["message"], "\"ct\" is already in use");
        assert_eq!(condition(&short, "Established")["status"], "False");
        assert!(short["status"].get("acceptedNames").is_none());

        let mut kind = crd("tabs", "CronTab", &[]);
        assert!(!accept_names(&mut kind, &others, "t1"));
        assert_eq!(condition(&kind, "NamesAccepted")["reason"], "KindConflict");

        let mut other_group = crd("crontabs", "CronTab", &["ct"]);
        other_group["spec"]["group"] = json!("other.com");
        assert!(accept_names(&mut other_group, &others, "t1"));
        // The CRD itself in the list is not a conflict.
        let mut same = others[0].clone();
        assert!(accept_names(&mut same, &others, "t1"));
    }

    #[test]
    fn hostile_status_is_replaced() {
        let mut c = crd("crontabs", "CronTab", &[]);
        c["status"] = json!("garbage");
        assert!(accept_names(
            &mut c,
            &[json!(null), json!({"spec": 1})],
            "t"
        ));
        assert_eq!(condition(&c, "Established")["status"], "True");
        let mut not_object = json!([1]);
        assert!(!accept_names(&mut not_object, &[], "t"));
    }
}
