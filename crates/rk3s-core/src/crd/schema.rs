//! The compiled OpenAPI v3 schema of one CRD version ([`StructuralSchema`]): parsed once from
//! JSON, patterns compiled, defaults pre-pruned, then used for every object of the version.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::{Map, Value};

use super::errors::{CrdError, FieldError};
use super::{child, keyed};
use crate::printers::{CustomColumn, custom_resource_columns};

/// Hostile patterns must not make one schema cost unbounded memory.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// What a map allows beyond its `properties`.
#[derive(Debug, Clone, Default)]
pub(crate) enum Additional {
    /// `additionalProperties` not given.
    #[default]
    Unset,
    /// `additionalProperties: true`: anything, kept as is.
    Any,
    /// `additionalProperties: false`.
    Deny,
    Schema(Box<Node>),
}

/// One schema node with the keywords rk3s understands; unknown keywords are ignored.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    pub type_: Option<String>,
    pub format: Option<String>,
    pub nullable: bool,
    pub properties: BTreeMap<String, Node>,
    pub additional: Additional,
    pub items: Option<Box<Node>>,
    pub required: Vec<String>,
    pub enum_: Option<Vec<Value>>,
    pub minimum: Option<f64>,
    pub exclusive_minimum: bool,
    pub maximum: Option<f64>,
    pub exclusive_maximum: bool,
    pub multiple_of: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<(String, Regex)>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub unique_items: bool,
    pub min_properties: Option<u64>,
    pub max_properties: Option<u64>,
    pub default: Option<Value>,
    pub preserve_unknown: bool,
    pub embedded: bool,
    pub int_or_string: bool,
    pub list_type: Option<String>,
    pub list_map_keys: Vec<String>,
    pub all_of: Vec<Node>,
    pub any_of: Vec<Node>,
    pub one_of: Vec<Node>,
    pub not: Option<Box<Node>>,
}

/// The structural schema of one CRD version, compiled once.
#[derive(Debug, Clone)]
pub struct StructuralSchema {
    pub(crate) root: Node,
    /// The `spec.versions[]` entry, for printer columns.
    version: Value,
}

impl StructuralSchema {
    /// Compiles `spec.versions[name=version].schema.openAPIV3Schema`. A version without a schema
    /// (only possible for CRDs that predate v1) keeps every field.
    pub fn from_crd_version(crd: &Value, version: &str) -> Result<StructuralSchema, CrdError> {
        let versions = crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .ok_or(CrdError::MissingField("spec.versions"))?;
        let entry = versions
            .iter()
            .find(|v| v.get("name").and_then(Value::as_str) == Some(version))
            .ok_or_else(|| CrdError::UnknownVersion(version.to_owned()))?;
        let mut root = match entry.pointer("/schema/openAPIV3Schema") {
            Some(schema) => compile(schema, "openAPIV3Schema")?,
            None => Node {
                preserve_unknown: true,
                ..Node::default()
            },
        };
        if crd.pointer("/spec/preserveUnknownFields") == Some(&Value::Bool(true)) {
            root.preserve_unknown = true;
        }
        Ok(StructuralSchema {
            root,
            version: entry.clone(),
        })
    }

    /// Compiles a bare OpenAPI v3 schema (the value of `openAPIV3Schema`).
    pub fn from_schema(schema: &Value) -> Result<StructuralSchema, CrdError> {
        Ok(StructuralSchema {
            root: compile(schema, "openAPIV3Schema")?,
            version: Value::Null,
        })
    }

    /// Drops fields the schema does not know; returns their paths (`spec.foo`, `spec.a[0].b`).
    pub fn prune(&self, obj: &mut Value) -> Vec<String> {
        let mut pruned = Vec::new();
        super::prune::prune_root(obj, &self.root, &mut pruned);
        pruned
    }

    /// Fills in schema defaults, upstream's order: run after [`StructuralSchema::prune`]; the
    /// defaults themselves were pruned when the schema was compiled.
    pub fn apply_defaults(&self, obj: &mut Value) {
        super::defaults::apply(obj, &self.root);
    }

    /// Validates an object against the schema; errors carry upstream's paths and messages.
    pub fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        super::validate::validate_node(&self.root, obj, "", &mut errs);
        errs
    }

    /// The printer columns of this version (an Age column when none are defined).
    pub fn printer_columns(&self) -> Vec<CustomColumn> {
        custom_resource_columns(&self.version)
    }

    /// The `spec.versions[]` entry this schema was compiled from (`null` for a bare schema).
    pub fn version_entry(&self) -> &Value {
        &self.version
    }
}

fn malformed(path: &str, reason: &str) -> CrdError {
    CrdError::MalformedSchema {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

fn count(map: &Map<String, Value>, key: &str, path: &str) -> Result<Option<u64>, CrdError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) => Ok(Some(v)),
            None => match n.as_f64() {
                Some(f) if f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64 => {
                    Ok(Some(f as u64))
                }
                _ => Err(malformed(
                    &child(path, key),
                    "must be a non-negative integer",
                )),
            },
        },
        Some(_) => Err(malformed(
            &child(path, key),
            "must be a non-negative integer",
        )),
    }
}

fn number(map: &Map<String, Value>, key: &str, path: &str) -> Result<Option<f64>, CrdError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(malformed(&child(path, key), "must be a number")),
    }
}

fn flag(map: &Map<String, Value>, key: &str, path: &str) -> Result<bool, CrdError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(malformed(&child(path, key), "must be a boolean")),
    }
}

fn string(map: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>, CrdError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(malformed(&child(path, key), "must be a string")),
    }
}

fn strings(map: &Map<String, Value>, key: &str, path: &str) -> Result<Vec<String>, CrdError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| malformed(&child(path, key), "must be a list of strings"))
            })
            .collect(),
        Some(_) => Err(malformed(&child(path, key), "must be a list of strings")),
    }
}

fn schemas(map: &Map<String, Value>, key: &str, path: &str) -> Result<Vec<Node>, CrdError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, s)| compile(s, &format!("{}[{i}]", child(path, key))))
            .collect(),
        Some(_) => Err(malformed(&child(path, key), "must be a list of schemas")),
    }
}

pub(crate) fn compile_pattern(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(PATTERN_SIZE_LIMIT)
        .build()
}

/// Compiles one schema node; `path` names it in errors (`openAPIV3Schema.properties[spec]`).
pub(crate) fn compile(schema: &Value, path: &str) -> Result<Node, CrdError> {
    let map = match schema {
        Value::Object(map) => map,
        Value::Bool(true) => return Ok(Node::default()),
        _ => return Err(malformed(path, "must be an object")),
    };
    let mut node = Node {
        type_: string(map, "type", path)?,
        format: string(map, "format", path)?,
        nullable: flag(map, "nullable", path)?,
        required: strings(map, "required", path)?,
        minimum: number(map, "minimum", path)?,
        exclusive_minimum: flag(map, "exclusiveMinimum", path)?,
        maximum: number(map, "maximum", path)?,
        exclusive_maximum: flag(map, "exclusiveMaximum", path)?,
        multiple_of: number(map, "multipleOf", path)?,
        min_length: count(map, "minLength", path)?,
        max_length: count(map, "maxLength", path)?,
        min_items: count(map, "minItems", path)?,
        max_items: count(map, "maxItems", path)?,
        unique_items: flag(map, "uniqueItems", path)?,
        min_properties: count(map, "minProperties", path)?,
        max_properties: count(map, "maxProperties", path)?,
        default: map.get("default").cloned(),
        preserve_unknown: flag(map, "x-kubernetes-preserve-unknown-fields", path)?,
        embedded: flag(map, "x-kubernetes-embedded-resource", path)?,
        int_or_string: flag(map, "x-kubernetes-int-or-string", path)?,
        list_type: string(map, "x-kubernetes-list-type", path)?,
        list_map_keys: strings(map, "x-kubernetes-list-map-keys", path)?,
        all_of: schemas(map, "allOf", path)?,
        any_of: schemas(map, "anyOf", path)?,
        one_of: schemas(map, "oneOf", path)?,
        ..Node::default()
    };
    match map.get("enum") {
        None | Some(Value::Null) => {}
        Some(Value::Array(values)) => node.enum_ = Some(values.clone()),
        Some(_) => return Err(malformed(&child(path, "enum"), "must be a list")),
    }
    if let Some(pattern) = string(map, "pattern", path)? {
        let re = compile_pattern(&pattern).map_err(|e| CrdError::BadPattern {
            path: child(path, "pattern"),
            pattern: pattern.clone(),
            reason: e.to_string(),
        })?;
        node.pattern = Some((pattern, re));
    }
    match map.get("properties") {
        None | Some(Value::Null) => {}
        Some(Value::Object(props)) => {
            for (name, prop) in props {
                let compiled = compile(prop, &keyed(path, "properties", name))?;
                node.properties.insert(name.clone(), compiled);
            }
        }
        Some(_) => return Err(malformed(&child(path, "properties"), "must be an object")),
    }
    node.additional = match map.get("additionalProperties") {
        None | Some(Value::Null) => Additional::Unset,
        Some(Value::Bool(true)) => Additional::Any,
        Some(Value::Bool(false)) => Additional::Deny,
        Some(s) => Additional::Schema(Box::new(compile(s, &child(path, "additionalProperties"))?)),
    };
    match map.get("items") {
        None | Some(Value::Null) => {}
        Some(Value::Array(_)) => {
            return Err(malformed(
                &child(path, "items"),
                "must be a schema, not a list",
            ));
        }
        Some(items) => node.items = Some(Box::new(compile(items, &child(path, "items"))?)),
    }
    if let Some(not) = map.get("not") {
        node.not = Some(Box::new(compile(not, &child(path, "not"))?));
    }
    // Defaults are stored pruned, so applying one never brings back a field pruning removes.
    if let Some(mut default) = node.default.take() {
        super::prune::prune_value(&mut default, &node, &mut Vec::new(), "");
        node.default = Some(default);
    }
    Ok(node)
}
