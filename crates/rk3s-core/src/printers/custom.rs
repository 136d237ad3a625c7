//! Tables for custom resources, built from a CRD version's `additionalPrinterColumns`. Entry
//! points: [`custom_resource_columns`], [`custom_resource_cells`].

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::Value;

use super::fields::{self, items, text};
use super::jsonpath::JsonPath;
use super::{NAME, duration};

/// One printer column of a custom resource; the Name column is implied and not listed.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomColumn {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i32,
    pub json_path: String,
    /// `None` when `json_path` does not parse; the column then shows empty cells.
    path: Option<JsonPath>,
}

impl CustomColumn {
    pub fn new(name: &str, type_: &str, json_path: &str) -> Self {
        CustomColumn {
            name: name.to_owned(),
            type_: type_.to_owned(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            json_path: json_path.to_owned(),
            path: JsonPath::parse(json_path).ok(),
        }
    }
}

/// The columns of one CRD version (an entry of `spec.versions`). A version that defines none gets
/// an Age column, as the apiserver does.
pub fn custom_resource_columns(crd_version: &Value) -> Vec<CustomColumn> {
    let defined = items(crd_version, &["additionalPrinterColumns"]);
    if defined.is_empty() {
        let mut age = CustomColumn::new("Age", "date", ".metadata.creationTimestamp");
        age.description = super::AGE.description.to_owned();
        return vec![age];
    }
    defined
        .iter()
        .map(|c| {
            let mut col = CustomColumn::new(
                text(c, &["name"]),
                text(c, &["type"]),
                text(c, &["jsonPath"]),
            );
            col.format = text(c, &["format"]).to_owned();
            col.description = text(c, &["description"]).to_owned();
            col.priority = i32::try_from(fields::int(c, &["priority"])).unwrap_or(0);
            col
        })
        .collect()
}

/// The `columnDefinitions` of a custom resource table: Name, then `cols`.
pub fn custom_resource_column_definitions(cols: &[CustomColumn]) -> Value {
    let mut defs = vec![serde_json::json!({
        "name": NAME.name, "type": NAME.type_, "format": NAME.format,
        "description": NAME.description, "priority": NAME.priority,
    })];
    defs.extend(cols.iter().map(|c| {
        serde_json::json!({
            "name": c.name, "type": c.type_, "format": c.format,
            "description": c.description, "priority": c.priority,
        })
    }));
    Value::Array(defs)
}

/// One row: the object's name, then one cell per column (`null` where the path finds nothing or
/// the value does not fit the column type).
pub fn custom_resource_cells(cols: &[CustomColumn], obj: &Value, now: Timestamp) -> Vec<Value> {
    let mut row = vec![Value::from(fields::name(obj))];
    row.extend(cols.iter().map(|col| {
        let first = col
            .path
            .as_ref()
            .and_then(|p| p.find(obj).into_iter().next());
        match first {
            Some(value) if !value.is_null() => typed_cell(&col.type_, value, now),
            _ => Value::Null,
        }
    }));
    row
}

fn typed_cell(type_: &str, value: &Value, now: Timestamp) -> Value {
    match (type_, value) {
        ("string", Value::String(s)) => Value::from(s.as_str()),
        // Non-string values in a string column are printed as text: scalars plainly, lists and
        // maps as compact JSON with sorted keys.
        ("string", Value::Array(_) | Value::Object(_)) => {
            Value::from(serde_json::to_string(&sorted(value)).unwrap_or_default())
        }
        ("string", other) => Value::from(other.to_string()),
        ("integer", Value::Number(n)) => match n.as_i64() {
            Some(i) => Value::from(i),
            // Go truncates a float towards zero; `as` saturates instead of wrapping.
            None => n.as_f64().map_or(Value::Null, |f| Value::from(f as i64)),
        },
        ("number", Value::Number(n)) => n.as_f64().map_or(Value::Null, Value::from),
        ("boolean", Value::Bool(b)) => Value::from(*b),
        ("date", Value::String(s)) => match s.parse::<Timestamp>() {
            Ok(t) => Value::from(duration::since(Some(t), now)),
            Err(_) => Value::from("<invalid>"),
        },
        _ => Value::Null,
    }
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let ordered: BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(ordered.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(list) => Value::Array(list.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn version_without_columns_gets_age() {
        let cols = custom_resource_columns(&json!({"name": "v1"}));
        assert_eq!(cols.len(), 1);
        assert_eq!(
            (cols[0].name.as_str(), cols[0].type_.as_str()),
            ("Age", "date")
        );
        let obj = json!({"metadata": {"name": "w", "creationTimestamp": "2024-05-01T11:00:00Z"}});
        assert_eq!(
            custom_resource_cells(&cols, &obj, now()),
            vec![json!("w"), json!("60m")]
        );
        let defs = custom_resource_column_definitions(&cols);
        assert_eq!(defs[0]["format"], "name");
        assert_eq!(defs[1]["type"], "date");
    }

    #[test]
    fn printer_columns_are_typed() {
        let version = json!({"name": "v1", "additionalPrinterColumns": [
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "Ratio", "type": "number", "jsonPath": ".status.ratio"},
            {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
            {"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused", "priority": 1},
            {"name": "Started", "type": "date", "jsonPath": ".status.startTime"},
            {"name": "Ports", "type": "string", "jsonPath": ".spec.ports"},
            {"name": "Count", "type": "string", "jsonPath": ".spec.replicas"},
            {"name": "Missing", "type": "string", "jsonPath": ".spec.nothing"},
            {"name": "Broken", "type": "string", "jsonPath": "spec"},
        ]});
        let cols = custom_resource_columns(&version);
        assert_eq!(cols[3].priority, 1);
        let obj = json!({
            "metadata": {"name": "db"},
            "spec": {"replicas": 2.9, "paused": false, "ports": [{"z": 1, "a": 2}]},
            "status": {"ratio": 3, "startTime": "2024-05-01T11:59:00Z",
                       "conditions": [{"type": "Ready", "status": "True"}]},
        });
        assert_eq!(
            custom_resource_cells(&cols, &obj, now()),
            vec![
                json!("db"),
                json!(2),
                json!(3.0),
                json!("True"),
                json!(false),
                json!("60s"),
                json!("[{\"a\":2,\"z\":1}]"),
                json!("2.9"),
                Value::Null,
                Value::Null,
            ]
        );
    }

    #[test]
    fn mistyped_values_give_null_or_invalid() {
        let cols = vec![
            CustomColumn::new("N", "integer", ".a"),
            CustomColumn::new("B", "boolean", ".a"),
            CustomColumn::new("D", "date", ".a"),
            CustomColumn::new("T", "weird", ".a"),
        ];
        let row = custom_resource_cells(&cols, &json!({"a": "yesterday"}), now());
        assert_eq!(
            row,
            vec![
                json!(""),
                Value::Null,
                Value::Null,
                json!("<invalid>"),
                Value::Null
            ]
        );
    }
}
