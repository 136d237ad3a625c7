//! Label maps and label selectors rendered as the apiserver prints them (`app=web,tier in (a,b)`).

use serde_json::Value;

use super::fields;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("{0:?} is not a valid label selector operator")]
    UnknownOperator(String),
    #[error("operator {operator} for key {key:?} needs {needs} values, got {got}")]
    WrongValueCount {
        key: String,
        operator: &'static str,
        needs: &'static str,
        got: usize,
    },
    #[error("invalid label key {0:?}")]
    InvalidKey(String),
    #[error("invalid label value {0:?}")]
    InvalidValue(String),
    #[error("label selector is not an object")]
    NotAnObject,
}

/// A label map as `k=v,k2=v2` sorted by key, `<none>` when empty.
pub(crate) fn format_labels(obj: &Value, path: &[&str]) -> String {
    let pairs = fields::string_map(obj, path);
    if pairs.is_empty() {
        return "<none>".to_owned();
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A `LabelSelector` rendered the way the apiserver shows selectors: `<none>` when it selects
/// nothing or everything, `<error>` when it is invalid.
pub(crate) fn format_label_selector(selector: Option<&Value>) -> String {
    match selector_string(selector) {
        Ok(s) if s.is_empty() => "<none>".to_owned(),
        Ok(s) => s,
        Err(_) => "<error>".to_owned(),
    }
}

/// The canonical string of a `LabelSelector`: requirements sorted by key, set values sorted.
/// An absent or empty selector gives `""`.
pub(crate) fn selector_string(selector: Option<&Value>) -> Result<String, SelectorError> {
    let Some(selector) = selector.filter(|s| !s.is_null()) else {
        return Ok(String::new());
    };
    if !selector.is_object() {
        return Err(SelectorError::NotAnObject);
    }
    let mut requirements: Vec<(String, String)> = Vec::new();
    for (key, value) in fields::string_map(selector, &["matchLabels"]) {
        validate_key(key)?;
        validate_value(value)?;
        requirements.push((key.to_owned(), format!("{key}={value}")));
    }
    for expr in fields::items(selector, &["matchExpressions"]) {
        let key = fields::text(expr, &["key"]);
        validate_key(key)?;
        let mut values: Vec<&str> = fields::items(expr, &["values"])
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for v in &values {
            validate_value(v)?;
        }
        values.sort_unstable();
        let operator = fields::text(expr, &["operator"]);
        let rendered = match operator {
            "In" | "NotIn" => {
                if values.is_empty() {
                    return Err(wrong_count(key, operator, "one or more", 0));
                }
                let word = if operator == "In" { "in" } else { "notin" };
                format!("{key} {word} ({})", values.join(","))
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    return Err(wrong_count(key, operator, "no", values.len()));
                }
                if operator == "Exists" {
                    key.to_owned()
                } else {
                    format!("!{key}")
                }
            }
            other => return Err(SelectorError::UnknownOperator(other.to_owned())),
        };
        requirements.push((key.to_owned(), rendered));
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(requirements
        .into_iter()
        .map(|(_, r)| r)
        .collect::<Vec<_>>()
        .join(","))
}

fn wrong_count(key: &str, operator: &str, needs: &'static str, got: usize) -> SelectorError {
    let operator = match operator {
        "In" => "In",
        "NotIn" => "NotIn",
        "Exists" => "Exists",
        _ => "DoesNotExist",
    };
    SelectorError::WrongValueCount {
        key: key.to_owned(),
        operator,
        needs,
        got,
    }
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters.
fn validate_key(key: &str) -> Result<(), SelectorError> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            })
    });
    if prefix_ok && !name.is_empty() && is_label_name(name) {
        Ok(())
    } else {
        Err(SelectorError::InvalidKey(key.to_owned()))
    }
}

fn validate_value(value: &str) -> Result<(), SelectorError> {
    if value.is_empty() || is_label_name(value) {
        Ok(())
    } else {
        Err(SelectorError::InvalidValue(value.to_owned()))
    }
}

/// At most 63 of `[A-Za-z0-9._-]`, starting and ending alphanumeric.
fn is_label_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    s.len() <= 63
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn match_labels_and_expressions_are_sorted_by_key() {
        let sel = json!({
            "matchLabels": {"tier": "web", "app": "shop"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                {"key": "zone", "operator": "NotIn", "values": ["b"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "owner", "operator": "Exists", "values": []},
            ],
        });
        assert_eq!(
            format_label_selector(Some(&sel)),
            "app=shop,!canary,env in (dev,prod),owner,tier=web,zone notin (b)"
        );
    }

    #[test]
    fn empty_and_absent_selectors_print_none() {
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(
            selector_string(Some(&json!({"matchLabels": {}}))),
            Ok(String::new())
        );
    }

    #[test]
    fn invalid_selectors_print_error() {
        for sel in [
            json!({"matchExpressions": [{"key": "a", "operator": "Near"}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
            json!({"matchLabels": {"bad key": "x"}}),
            json!({"matchLabels": {"k": "bad value!"}}),
            json!("app=web"),
        ] {
            assert_eq!(format_label_selector(Some(&sel)), "<error>", "{sel}");
        }
    }

    #[test]
    fn prefixed_keys_are_accepted() {
        let sel = json!({"matchLabels": {"app.kubernetes.io/name": "web"}});
        assert_eq!(
            format_label_selector(Some(&sel)),
            "app.kubernetes.io/name=web"
        );
    }

    #[test]
    fn label_maps_print_sorted_pairs() {
        let obj = json!({"sel": {"b": "2", "a": "1"}});
        assert_eq!(format_labels(&obj, &["sel"]), "a=1,b=2");
        assert_eq!(format_labels(&obj, &["missing"]), "<none>");
    }
}
