//! Tolerant reads from untyped objects: a missing, null or mistyped field reads as absent, so a
//! printer shows a placeholder instead of failing on odd input.

use jiff::Timestamp;
use serde_json::Value;

use super::duration;

/// The value at `path`, treating JSON `null` as absent.
pub(crate) fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(v, |cur, key| cur.get(*key))
        .filter(|v| !v.is_null())
}

pub(crate) fn opt_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(v, path).and_then(Value::as_str)
}

/// The string at `path`, or `""`.
pub(crate) fn text<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    opt_str(v, path).unwrap_or("")
}

/// The string at `path` unless missing or empty.
pub(crate) fn non_empty<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    opt_str(v, path).filter(|s| !s.is_empty())
}

pub(crate) fn opt_int(v: &Value, path: &[&str]) -> Option<i64> {
    let value = get(v, path)?;
    value.as_i64().or_else(|| value.as_u64().map(|_| i64::MAX))
}

/// The integer at `path`, or 0.
pub(crate) fn int(v: &Value, path: &[&str]) -> i64 {
    opt_int(v, path).unwrap_or(0)
}

pub(crate) fn opt_bool(v: &Value, path: &[&str]) -> Option<bool> {
    get(v, path).and_then(Value::as_bool)
}

/// The array at `path`, or an empty slice.
pub(crate) fn items<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    get(v, path)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// How many entries the map at `path` has (0 if it is not a map).
pub(crate) fn map_len(v: &Value, path: &[&str]) -> usize {
    get(v, path)
        .and_then(Value::as_object)
        .map_or(0, serde_json::Map::len)
}

/// The string-valued entries of the map at `path`, sorted by key.
pub(crate) fn string_map<'a>(v: &'a Value, path: &[&str]) -> Vec<(&'a str, &'a str)> {
    let mut entries: Vec<(&str, &str)> = get(v, path)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    entries.sort_unstable();
    entries
}

/// A resource quantity as written (`"500m"`, `"1Gi"`); quantities may also arrive as bare
/// numbers.
pub(crate) fn quantity(v: &Value, path: &[&str]) -> Option<String> {
    match get(v, path)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An int-or-string field (`2` or `"50%"`) rendered as text.
pub(crate) fn int_or_string(v: &Value, path: &[&str]) -> Option<String> {
    match get(v, path)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn timestamp(v: &Value, path: &[&str]) -> Option<Timestamp> {
    opt_str(v, path)?.parse().ok()
}

pub(crate) fn name(obj: &Value) -> &str {
    text(obj, &["metadata", "name"])
}

pub(crate) fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    opt_str(obj, &["metadata", "annotations", key])
}

pub(crate) fn is_deleting(obj: &Value) -> bool {
    get(obj, &["metadata", "deletionTimestamp"]).is_some()
}

/// The AGE cell: time since `metadata.creationTimestamp`.
pub(crate) fn age(obj: &Value, now: Timestamp) -> String {
    duration::since(timestamp(obj, &["metadata", "creationTimestamp"]), now)
}

/// The CREATED AT cell: `metadata.creationTimestamp` in RFC 3339.
pub(crate) fn created_at(obj: &Value) -> String {
    duration::rfc3339(timestamp(obj, &["metadata", "creationTimestamp"]))
}

/// Whether `conditions` has one of `type_` whose status is `True`.
pub(crate) fn condition_true(conditions: &[Value], type_: &str) -> bool {
    conditions
        .iter()
        .any(|c| text(c, &["type"]) == type_ && text(c, &["status"]) == "True")
}

/// Joins a list of strings with a cap: `a,b,c + 2 more...`.
pub(crate) fn list_with_more(list: &[String], total: usize, max: usize) -> String {
    let shown = list.join(",");
    if total > max {
        format!("{shown} + {} more...", total - max)
    } else {
        shown
    }
}

/// Container names and images of a pod spec, comma-joined (the wide CONTAINERS/IMAGES cells).
pub(crate) fn containers_and_images(pod_spec: Option<&Value>) -> (String, String) {
    let containers = pod_spec.map_or(&[][..], |spec| items(spec, &["containers"]));
    let names: Vec<&str> = containers.iter().map(|c| text(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| text(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn null_and_mistyped_fields_read_as_absent() {
        let v = json!({"a": null, "b": {"c": 3}, "d": "x", "e": [1]});
        assert_eq!(get(&v, &["a"]), None);
        assert_eq!(opt_str(&v, &["b", "c"]), None);
        assert_eq!(int(&v, &["d"]), 0);
        assert_eq!(int(&v, &["b", "c"]), 3);
        assert!(items(&v, &["d"]).is_empty());
        assert_eq!(items(&v, &["e"]).len(), 1);
        assert_eq!(text(&v, &["e", "0"]), "");
        assert_eq!(int(&json!(1.5), &[]), 0);
    }

    #[test]
    fn string_map_is_sorted_and_skips_non_strings() {
        let v = json!({"m": {"b": "2", "a": "1", "c": 3}});
        assert_eq!(string_map(&v, &["m"]), vec![("a", "1"), ("b", "2")]);
    }

    #[test]
    fn list_with_more_counts_the_hidden_entries() {
        let list = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        assert_eq!(list_with_more(&list, 3, 3), "a,b,c");
        assert_eq!(list_with_more(&list, 5, 3), "a,b,c + 2 more...");
    }
}
