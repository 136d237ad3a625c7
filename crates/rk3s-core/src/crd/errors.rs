//! The error types of CRD handling: [`FieldError`] (one Kubernetes field error, as a Status cause
//! carries it) and [`CrdError`] (a CRD that cannot be served or compiled).

use serde_json::Value;

/// One field error in upstream's shape: `reason` is the Status cause type
/// (`FieldValueInvalid`, `FieldValueRequired`, ...), `message` is the text after the field
/// (`Invalid value: "x": detail`). `Display` prints `<field>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub reason: &'static str,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl FieldError {
    fn new(reason: &'static str, field: &str, message: String) -> Self {
        FieldError {
            reason,
            field: field.to_owned(),
            message,
        }
    }

    pub fn invalid(field: &str, value: &Value, detail: &str) -> Self {
        let mut message = format!("Invalid value: {}", go_value(value));
        if !detail.is_empty() {
            message.push_str(": ");
            message.push_str(detail);
        }
        Self::new("FieldValueInvalid", field, message)
    }

    pub fn invalid_str(field: &str, value: &str, detail: &str) -> Self {
        Self::invalid(field, &Value::String(value.to_owned()), detail)
    }

    pub fn required(field: &str, detail: &str) -> Self {
        let message = if detail.is_empty() {
            "Required value".to_owned()
        } else {
            format!("Required value: {detail}")
        };
        Self::new("FieldValueRequired", field, message)
    }

    pub fn forbidden(field: &str, detail: &str) -> Self {
        Self::new("FieldValueForbidden", field, format!("Forbidden: {detail}"))
    }

    pub fn duplicate(field: &str, value: &Value) -> Self {
        Self::new(
            "FieldValueDuplicate",
            field,
            format!("Duplicate value: {}", go_value(value)),
        )
    }

    pub fn not_supported(field: &str, value: &Value, supported: &[Value]) -> Self {
        let mut message = format!("Unsupported value: {}", go_value(value));
        if !supported.is_empty() {
            let list: Vec<String> = supported.iter().map(go_value).collect();
            message.push_str(": supported values: ");
            message.push_str(&list.join(", "));
        }
        Self::new("FieldValueNotSupported", field, message)
    }

    pub fn too_long(field: &str, max: u64) -> Self {
        Self::new(
            "FieldValueTooLong",
            field,
            format!("Too long: may not be more than {max} bytes"),
        )
    }

    pub fn too_many(field: &str, actual: usize, max: u64) -> Self {
        Self::new(
            "FieldValueTooMany",
            field,
            format!("Too many: {actual}: must have at most {max} items"),
        )
    }
}

/// Prints a value as upstream's field errors do: strings Go-quoted, numbers and booleans bare,
/// `null` for nil, compact JSON for lists and maps.
pub(crate) fn go_value(value: &Value) -> String {
    match value {
        Value::String(s) => go_quote(s),
        Value::Null => "null".to_owned(),
        other => other.to_string(),
    }
}

pub(crate) fn go_quote(s: &str) -> String {
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

/// Why a CRD cannot be served or its schema cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrdError {
    #[error("crd has no {0}")]
    MissingField(&'static str),
    #[error("value at {0:?} is not an object")]
    NotAnObject(String),
    #[error("crd does not define version {0}")]
    UnknownVersion(String),
    #[error("schema at {path} is malformed: {reason}")]
    MalformedSchema { path: String, reason: String },
    #[error("pattern {pattern:?} at {path} does not compile: {reason}")]
    BadPattern {
        path: String,
        pattern: String,
        reason: String,
    },
}
