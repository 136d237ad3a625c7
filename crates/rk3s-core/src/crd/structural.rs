//! Checks that a CRD version's `openAPIV3Schema` is structural (upstream's invariants: every
//! specified node typed, value validations in junctors only, metadata restricted to name and
//! generateName, ...) and that its defaults validate. Entry point: [`check_schema`].

use serde_json::{Map, Value};

use super::errors::FieldError;
use super::schema::{compile, compile_pattern};
use super::{child, index, keyed};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Item,
    Field,
}

const TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];
const JUNCTORS: [&str; 3] = ["allOf", "anyOf", "oneOf"];

fn strs(items: &[&str]) -> Vec<Value> {
    items.iter().map(|s| Value::from(*s)).collect()
}

fn is_true(map: &Map<String, Value>, key: &str) -> bool {
    map.get(key) == Some(&Value::Bool(true))
}

fn type_of(map: &Map<String, Value>) -> &str {
    map.get("type").and_then(Value::as_str).unwrap_or("")
}

/// Checks one version's schema, found at `path` (`spec.versions[0].schema.openAPIV3Schema`);
/// errors are sorted by text as upstream sorts them.
pub(crate) fn check_schema(schema: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Value::Object(map) = schema else {
        errs.push(FieldError::invalid(path, schema, "must be an object"));
        return errs;
    };
    invariants(map, Level::Root, path, &mut errs);
    junctor_completeness(map, Some(map), path, path, &mut errs);
    errs.sort_by_key(|e| e.to_string());
    // Only a structural schema is compiled: its keyword shapes and defaults are checked next.
    if errs.is_empty() {
        let prefix = path.strip_suffix("openAPIV3Schema").unwrap_or(path);
        match compile(schema, "openAPIV3Schema") {
            Ok(_) => defaults(map, path, &mut errs),
            Err(super::CrdError::MalformedSchema { path: at, reason }) => {
                let field = format!("{prefix}{at}");
                errs.push(FieldError::invalid(&field, &Value::Null, &reason));
            }
            // Patterns were checked above with upstream's message.
            Err(_) => {}
        }
    }
    errs
}

fn invariants(s: &Map<String, Value>, lvl: Level, path: &str, errs: &mut Vec<FieldError>) {
    let type_ = type_of(s);
    if let Some(t) = s.get("type")
        && !(t
            .as_str()
            .is_some_and(|t| TYPES.contains(&t) || t.is_empty()))
    {
        errs.push(FieldError::not_supported(
            &child(path, "type"),
            t,
            &strs(&TYPES),
        ));
    }
    if s.contains_key("$ref") {
        errs.push(FieldError::forbidden(
            &child(path, "$ref"),
            "$ref is not supported",
        ));
    }
    match s.get("items") {
        None if type_ == "array" => {
            errs.push(FieldError::required(
                &child(path, "items"),
                "must be specified",
            ));
        }
        Some(Value::Object(items)) => invariants(items, Level::Item, &child(path, "items"), errs),
        Some(Value::Array(_)) => errs.push(FieldError::forbidden(
            &child(path, "items"),
            "items must be a schema object and not an array",
        )),
        _ => {}
    }
    let props = s.get("properties").and_then(Value::as_object);
    if let Some(props) = props {
        for (k, v) in props {
            let p = keyed(path, "properties", k);
            match v {
                Value::Object(m) => invariants(m, Level::Field, &p, errs),
                other => errs.push(FieldError::invalid(&p, other, "must be an object")),
            }
        }
    }
    if let Some(ap) = s.get("additionalProperties") {
        let ap_path = child(path, "additionalProperties");
        if lvl == Level::Root {
            errs.push(FieldError::forbidden(
                &ap_path,
                "must not be used at the root",
            ));
        }
        if props.is_some_and(|p| !p.is_empty()) && ap != &Value::Bool(true) {
            errs.push(FieldError::forbidden(
                &ap_path,
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        if let Value::Object(m) = ap {
            invariants(m, Level::Field, &ap_path, errs);
        }
    }
    let int_or_string = is_true(s, "x-kubernetes-int-or-string");
    let preserve = is_true(s, "x-kubernetes-preserve-unknown-fields");
    let embedded = is_true(s, "x-kubernetes-embedded-resource");
    if s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
        errs.push(FieldError::invalid(
            &child(path, "x-kubernetes-preserve-unknown-fields"),
            &Value::Bool(false),
            "must be true or undefined",
        ));
    }
    if int_or_string && preserve {
        errs.push(FieldError::invalid(
            &child(path, "x-kubernetes-preserve-unknown-fields"),
            &Value::Bool(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if int_or_string && embedded {
        errs.push(FieldError::invalid(
            &child(path, "x-kubernetes-embedded-resource"),
            &Value::Bool(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    junctors(s, path, errs);
    if embedded && type_ != "object" {
        let p = child(path, "type");
        let msg = "must be object if x-kubernetes-embedded-resource is true";
        if type_.is_empty() {
            errs.push(FieldError::required(&p, msg));
        } else {
            errs.push(FieldError::invalid_str(&p, type_, msg));
        }
    } else if type_.is_empty() && !int_or_string && !preserve {
        let msg = match lvl {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errs.push(FieldError::required(&child(path, "type"), msg));
    }
    if embedded && s.contains_key("additionalProperties") {
        errs.push(FieldError::forbidden(
            &child(path, "additionalProperties"),
            "must not be used if x-kubernetes-embedded-resource is set",
        ));
    }
    if lvl == Level::Root && !type_.is_empty() && type_ != "object" {
        errs.push(FieldError::invalid_str(
            &child(path, "type"),
            type_,
            "must be object at the root",
        ));
    }
    if (lvl == Level::Root || embedded)
        && let Some(props) = props
    {
        meta_properties(props, lvl, path, errs);
    }
    if embedded && !preserve && props.is_none_or(|p| p.is_empty()) {
        errs.push(FieldError::required(
            &child(path, "properties"),
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
    value_checks(s, path, errs);
    list_type(s, type_, path, errs);
}

fn meta_properties(props: &Map<String, Value>, lvl: Level, path: &str, errs: &mut Vec<FieldError>) {
    for (field, want) in [
        ("kind", "string"),
        ("apiVersion", "string"),
        ("metadata", "object"),
    ] {
        if let Some(Value::Object(p)) = props.get(field)
            && type_of(p) != want
        {
            errs.push(FieldError::invalid_str(
                &child(&keyed(path, "properties", field), "type"),
                type_of(p),
                &format!("must be {want}"),
            ));
        }
    }
    if lvl != Level::Root {
        return;
    }
    let Some(Value::Object(meta)) = props.get("metadata") else {
        return;
    };
    // Only `type`, `default` and name/generateName restrictions may be given for metadata.
    let only_names = meta.iter().all(|(k, v)| match k.as_str() {
        "type" | "default" => true,
        "properties" => v
            .as_object()
            .is_some_and(|p| p.keys().all(|k| k == "name" || k == "generateName")),
        _ => false,
    });
    if !only_names {
        errs.push(FieldError::forbidden(
            &keyed(path, "properties", "metadata"),
            "must not specify anything other than name and generateName, but metadata is implicitly specified",
        ));
    }
}

/// Upstream's two int-or-string shapes (`anyOf: [{type: integer}, {type: string}]`, also as the
/// first `allOf` entry) may carry types under a junctor.
fn is_int_or_string_any_of(v: Option<&Value>) -> bool {
    let Some(Value::Array(list)) = v else {
        return false;
    };
    list.len() == 2
        && list[0] == serde_json::json!({"type": "integer"})
        && list[1] == serde_json::json!({"type": "string"})
}

fn junctors(s: &Map<String, Value>, path: &str, errs: &mut Vec<FieldError>) {
    let skip_any_of = is_int_or_string_any_of(s.get("anyOf"));
    let skip_first_all_of = s
        .get("allOf")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .is_some_and(|f| is_int_or_string_any_of(f.get("anyOf")));
    for j in JUNCTORS {
        if j == "anyOf" && skip_any_of {
            continue;
        }
        if let Some(Value::Array(list)) = s.get(j) {
            for (i, sub) in list.iter().enumerate() {
                let skip = j == "allOf" && i == 0 && skip_first_all_of;
                nested(sub, skip, &index(&child(path, j), i), errs);
            }
        }
    }
    if let Some(not) = s.get("not") {
        nested(not, false, &child(path, "not"), errs);
    }
}

/// A schema under a junctor: only value validations, no structure of its own.
fn nested(v: &Value, skip_any_of: bool, path: &str, errs: &mut Vec<FieldError>) {
    let Value::Object(s) = v else {
        errs.push(FieldError::invalid(path, v, "must be an object"));
        return;
    };
    if !skip_any_of && let Some(Value::Array(list)) = s.get("anyOf") {
        for (i, sub) in list.iter().enumerate() {
            nested(sub, false, &index(&child(path, "anyOf"), i), errs);
        }
    }
    for j in ["allOf", "oneOf"] {
        if let Some(Value::Array(list)) = s.get(j) {
            for (i, sub) in list.iter().enumerate() {
                nested(sub, false, &index(&child(path, j), i), errs);
            }
        }
    }
    if let Some(not) = s.get("not") {
        nested(not, false, &child(path, "not"), errs);
    }
    if let Some(items) = s.get("items") {
        nested(items, false, &child(path, "items"), errs);
    }
    if let Some(Value::Object(props)) = s.get("properties") {
        for (k, p) in props {
            nested(p, false, &keyed(path, "properties", k), errs);
        }
        if props.contains_key("metadata") {
            errs.push(FieldError::forbidden(
                &keyed(path, "properties", "metadata"),
                "must not be specified in a nested context",
            ));
        }
    }
    let forbidden: [(&str, bool, &str); 10] = [
        (
            "type",
            !type_of(s).is_empty(),
            "must be empty to be structural",
        ),
        (
            "additionalProperties",
            s.contains_key("additionalProperties"),
            "must be undefined to be structural",
        ),
        (
            "default",
            s.contains_key("default"),
            "must be undefined to be structural",
        ),
        (
            "title",
            non_empty_str(s, "title"),
            "must be empty to be structural",
        ),
        (
            "description",
            non_empty_str(s, "description"),
            "must be empty to be structural",
        ),
        (
            "nullable",
            is_true(s, "nullable"),
            "must be false to be structural",
        ),
        (
            "x-kubernetes-preserve-unknown-fields",
            is_true(s, "x-kubernetes-preserve-unknown-fields"),
            "must be false to be structural",
        ),
        (
            "x-kubernetes-embedded-resource",
            is_true(s, "x-kubernetes-embedded-resource"),
            "must be false to be structural",
        ),
        (
            "x-kubernetes-int-or-string",
            is_true(s, "x-kubernetes-int-or-string"),
            "must be false to be structural",
        ),
        (
            "x-kubernetes-list-type",
            s.contains_key("x-kubernetes-list-type"),
            "must be undefined to be structural",
        ),
    ];
    for (field, present, msg) in forbidden {
        if present {
            errs.push(FieldError::forbidden(&child(path, field), msg));
        }
    }
    if s.get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        errs.push(FieldError::forbidden(
            &child(path, "x-kubernetes-list-map-keys"),
            "must be empty to be structural",
        ));
    }
    value_checks(s, path, errs);
}

/// Every field a junctor of the root mentions must also exist in the structural part (upstream
/// checks this for the root's junctors only).
fn junctor_completeness(
    v: &Map<String, Value>,
    s: Option<&Map<String, Value>>,
    s_path: &str,
    v_path: &str,
    errs: &mut Vec<FieldError>,
) {
    for j in JUNCTORS {
        if let Some(Value::Array(list)) = v.get(j) {
            for (i, sub) in list.iter().enumerate() {
                nested_completeness(sub, s, s_path, &index(&child(v_path, j), i), errs);
            }
        }
    }
    if let Some(not) = v.get("not") {
        nested_completeness(not, s, s_path, &child(v_path, "not"), errs);
    }
}

fn nested_completeness(
    v: &Value,
    s: Option<&Map<String, Value>>,
    s_path: &str,
    v_path: &str,
    errs: &mut Vec<FieldError>,
) {
    let Value::Object(v) = v else { return };
    let Some(s) = s else {
        errs.push(FieldError::required(
            s_path,
            &format!("because it is defined in {v_path}"),
        ));
        return;
    };
    junctor_completeness(v, Some(s), s_path, v_path, errs);
    if let Some(items) = v.get("items") {
        let s_items = s.get("items").and_then(Value::as_object);
        nested_completeness(
            items,
            s_items,
            &child(s_path, "items"),
            &child(v_path, "items"),
            errs,
        );
    }
    if let Some(Value::Object(props)) = v.get("properties") {
        let s_props = s.get("properties").and_then(Value::as_object);
        let s_additional = s.get("additionalProperties").is_some_and(Value::is_object);
        for (k, p) in props {
            let sp = keyed(s_path, "properties", k);
            let vp = keyed(v_path, "properties", k);
            match s_props.and_then(|sp| sp.get(k)).and_then(Value::as_object) {
                Some(field) => nested_completeness(p, Some(field), &sp, &vp, errs),
                None if s_additional => {}
                None => errs.push(FieldError::required(
                    &sp,
                    &format!("because it is defined in {vp}"),
                )),
            }
        }
    }
}

fn non_empty_str(s: &Map<String, Value>, key: &str) -> bool {
    s.get(key)
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty())
}

fn value_checks(s: &Map<String, Value>, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(Value::String(p)) = s.get("pattern")
        && let Err(e) = compile_pattern(p)
    {
        errs.push(FieldError::invalid_str(
            &child(path, "pattern"),
            p,
            &format!("must be a valid regular expression, but isn't: {e}"),
        ));
    }
    if is_true(s, "uniqueItems") {
        errs.push(FieldError::forbidden(
            &child(path, "uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
}

fn list_type(s: &Map<String, Value>, type_: &str, path: &str, errs: &mut Vec<FieldError>) {
    let lt_path = child(path, "x-kubernetes-list-type");
    let keys_path = child(path, "x-kubernetes-list-map-keys");
    let list_type = s.get("x-kubernetes-list-type");
    let keys: Vec<&str> = s
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let lt = list_type.and_then(Value::as_str);
    if let Some(v) = list_type {
        if !matches!(lt, Some("atomic" | "set" | "map")) {
            errs.push(FieldError::not_supported(
                &lt_path,
                v,
                &strs(&["atomic", "map", "set"]),
            ));
        } else if type_ != "array" {
            errs.push(FieldError::invalid(
                &lt_path,
                v,
                "must only be used if type is array",
            ));
        }
    }
    if lt == Some("map") {
        let items = s.get("items").and_then(Value::as_object);
        if keys.is_empty() {
            errs.push(FieldError::required(
                &keys_path,
                "must not be empty if x-kubernetes-list-type is map",
            ));
        }
        match items {
            Some(items) if type_of(items) == "object" => {
                let props = items.get("properties").and_then(Value::as_object);
                if !keys
                    .iter()
                    .all(|k| props.is_some_and(|p| p.contains_key(*k)))
                {
                    errs.push(FieldError::invalid(
                        &keys_path,
                        &Value::from(keys.clone()),
                        "entries must all be names of item properties",
                    ));
                }
            }
            Some(items) => errs.push(FieldError::invalid_str(
                &child(&child(path, "items"), "type"),
                type_of(items),
                "must be object for an array of list-type map",
            )),
            None => {}
        }
    } else if !keys.is_empty() {
        errs.push(FieldError::forbidden(
            &keys_path,
            "must not be set if x-kubernetes-list-type is not map",
        ));
    }
}

/// Every `default` must validate against its own schema and survive pruning unchanged.
fn defaults(s: &Map<String, Value>, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(default) = s.get("default")
        && let Ok(node) = compile(&Value::Object(s.clone()), path)
    {
        let dpath = child(path, "default");
        let mut pruned = default.clone();
        let mut removed = Vec::new();
        super::prune::prune_value(&mut pruned, &node, &mut removed, "");
        if !removed.is_empty() {
            errs.push(FieldError::invalid(
                &dpath,
                default,
                &format!("must not have unknown fields: {}", removed.join(", ")),
            ));
        }
        let mut found = Vec::new();
        super::validate::validate_node(&node, default, "", &mut found);
        for mut e in found {
            e.field = if e.field.is_empty() {
                dpath.clone()
            } else {
                format!("{dpath}.{}", e.field)
            };
            errs.push(e);
        }
    }
    if let Some(Value::Object(props)) = s.get("properties") {
        for (k, v) in props {
            if let Value::Object(m) = v {
                defaults(m, &keyed(path, "properties", k), errs);
            }
        }
    }
    if let Some(Value::Object(items)) = s.get("items") {
        defaults(items, &child(path, "items"), errs);
    }
    if let Some(Value::Object(ap)) = s.get("additionalProperties") {
        defaults(ap, &child(path, "additionalProperties"), errs);
    }
}
