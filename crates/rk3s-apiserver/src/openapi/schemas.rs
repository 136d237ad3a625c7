//! `components.schemas` of one group-version document: the kinds' schemas from their codecs,
//! everything they reference, synthesized `<Kind>List` schemas and the request/response types,
//! converted from schemars' JSON Schema 2020-12 output to OpenAPI 3.0. Entry point:
//! [`component_schemas`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    DeleteOptions, ListMeta, ObjectMeta, Patch, Status, WatchEvent,
};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use rk3s_core::{Registry, ResourceType};
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};

use super::FieldExtensions;
use super::naming::untyped_schema_name;

/// Where the documents keep their schemas, as a `$ref` prefix.
pub(super) const COMPONENTS_REF: &str = "#/components/schemas/";

pub(super) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
pub(super) const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
pub(super) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(super) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(super) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
pub(super) const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/// A group/version/kind as the documents spell it (keys in upstream's order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    pub fn to_json(&self) -> Value {
        json!({ "group": self.group, "kind": self.kind, "version": self.version })
    }
}

/// The schemas of one document and which schema describes which kind.
#[derive(Debug, Default)]
pub(super) struct Components {
    /// Sorted by name.
    pub schemas: Map<String, Value>,
    kinds: Vec<(Gvk, String)>,
}

impl Components {
    /// The schema name describing a kind, if the document has one.
    pub fn schema_of(&self, group: &str, version: &str, kind: &str) -> Option<&str> {
        self.kinds
            .iter()
            .find(|(gvk, _)| gvk.group == group && gvk.version == version && gvk.kind == kind)
            .map(|(_, name)| name.as_str())
    }
}

/// `$ref` to a named component schema.
pub(super) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("{COMPONENTS_REF}{}", encode_ref_name(name)) })
}

/// Builds the schemas the kinds of one group-version need. `registry` resolves subresource kinds
/// served elsewhere (e.g. `autoscaling/v1` `Scale` for `deployments/scale`).
pub(super) fn component_schemas(
    registry: &Registry,
    types: &[&ResourceType],
    ext: &[FieldExtensions],
) -> Components {
    let mut generator = SchemaGenerator::default();
    for add in [
        add_schema::<ObjectMeta>,
        add_schema::<ListMeta>,
        add_schema::<Status>,
        add_schema::<DeleteOptions>,
        add_schema::<Patch>,
        add_schema::<WatchEvent<RawExtension>>,
    ] {
        add(&mut generator);
    }

    let mut kinds: Vec<(Gvk, String)> = Vec::new();
    let mut untyped: Vec<(String, Value)> = Vec::new();
    let mut lists: Vec<(Gvk, String, String)> = Vec::new();
    for t in types {
        let gvk = Gvk {
            group: t.group.clone(),
            version: t.version.clone(),
            kind: t.kind.clone(),
        };
        let name = match &t.codec {
            Some(codec) => {
                let schema = (codec.schema)(&mut generator).to_value();
                let name = (codec.schema_name)();
                if !is_ref_to(&schema, &name) {
                    generator.definitions_mut().insert(name.clone(), schema);
                }
                name
            }
            None => {
                let name = untyped_schema_name(&t.group, &t.version, &t.kind);
                untyped.push((name.clone(), untyped_kind_schema(t)));
                name
            }
        };
        if t.has_verb("list") || t.has_verb("watch") {
            let list_gvk = Gvk {
                kind: t.list_kind(),
                ..gvk.clone()
            };
            lists.push((list_gvk, format!("{name}List"), name.clone()));
        }
        push_kind(&mut kinds, gvk, name);

        for sub in &t.subresources {
            if kinds.iter().any(|(g, _)| {
                g.group == sub.group && g.version == sub.version && g.kind == sub.kind
            }) {
                continue;
            }
            let gvk = Gvk {
                group: sub.group.clone(),
                version: sub.version.clone(),
                kind: sub.kind.clone(),
            };
            if let Some(name) = subresource_kind_schema(&mut generator, registry, &gvk) {
                push_kind(&mut kinds, gvk, name);
            }
        }
    }

    let mut defs = generator.take_definitions(false);
    for (name, schema) in untyped {
        defs.entry(name).or_insert(schema);
    }
    for (gvk, list_name, item_name) in &lists {
        if !defs.contains_key(list_name) {
            defs.insert(list_name.clone(), list_schema(gvk, item_name));
        }
    }

    let mut schemas = Map::new();
    let mut hoisted = Map::new();
    for (name, mut schema) in defs {
        to_openapi30(&mut schema, &mut hoisted);
        schemas.insert(name, schema);
    }
    for (name, schema) in hoisted {
        schemas.entry(name).or_insert(schema);
    }

    for (gvk, name) in &kinds {
        annotate_kind(&mut schemas, name, gvk);
    }
    for (gvk, name, _) in &lists {
        annotate_kind(&mut schemas, name, gvk);
    }
    add_kubernetes_formats(&mut schemas);
    for e in ext {
        apply_field_extensions(&mut schemas, e);
    }

    schemas.sort_keys();
    for (gvk, name, _) in lists {
        push_kind(&mut kinds, gvk, name);
    }
    Components { schemas, kinds }
}

fn add_schema<T: JsonSchema>(generator: &mut SchemaGenerator) {
    generator.subschema_for::<T>();
}

fn push_kind(kinds: &mut Vec<(Gvk, String)>, gvk: Gvk, name: String) {
    if !kinds.iter().any(|(g, _)| *g == gvk) {
        kinds.push((gvk, name));
    }
}

fn is_ref_to(schema: &Value, name: &str) -> bool {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(ref_target)
        .is_some_and(|target| target == name)
}

/// The schema of a subresource's kind when it differs from the parent's: a kind the registry
/// serves, or one of the fixed request kinds of built-in subresources.
fn subresource_kind_schema(
    generator: &mut SchemaGenerator,
    registry: &Registry,
    gvk: &Gvk,
) -> Option<String> {
    use k8s_openapi::api::{authentication, autoscaling, core, policy};

    fn add<T: JsonSchema>(generator: &mut SchemaGenerator) -> Option<String> {
        generator.subschema_for::<T>();
        Some(T::schema_name().into_owned())
    }

    if let Some(codec) = registry
        .by_kind(&gvk.group, &gvk.version, &gvk.kind)
        .and_then(|t| t.codec)
    {
        let schema = (codec.schema)(generator).to_value();
        let name = (codec.schema_name)();
        if !is_ref_to(&schema, &name) {
            generator.definitions_mut().insert(name.clone(), schema);
        }
        return Some(name);
    }
    match (gvk.group.as_str(), gvk.version.as_str(), gvk.kind.as_str()) {
        ("autoscaling", "v1", "Scale") => add::<autoscaling::v1::Scale>(generator),
        ("policy", "v1", "Eviction") => add::<policy::v1::Eviction>(generator),
        ("authentication.k8s.io", "v1", "TokenRequest") => {
            add::<authentication::v1::TokenRequest>(generator)
        }
        ("", "v1", "Binding") => add::<core::v1::Binding>(generator),
        _ => None,
    }
}

/// A kind without a typed schema (a CRD without a structural schema yet): any fields accepted.
fn untyped_kind_schema(t: &ResourceType) -> Value {
    json!({
        "description": format!("{} of {}; its fields are not described.", t.kind, t.api_version()),
        "type": "object",
        "properties": {
            "apiVersion": { "description": "The versioned schema of this object.", "type": "string" },
            "kind": { "description": "The REST resource this object represents.", "type": "string" },
            "metadata": { "allOf": [schema_ref(OBJECT_META)], "description": "Standard object's metadata." },
        },
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

fn list_schema(list: &Gvk, item_name: &str) -> Value {
    let item_kind = list.kind.strip_suffix("List").unwrap_or(&list.kind);
    json!({
        "description": format!("{} is a list of {} objects.", list.kind, item_kind),
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object.",
                "type": "string",
            },
            "items": {
                "description": format!("List of {} objects.", item_kind),
                "type": "array",
                "items": schema_ref(item_name),
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this object represents.",
                "type": "string",
            },
            "metadata": {
                "allOf": [schema_ref(LIST_META)],
                "description": "Standard list metadata.",
            },
        },
        "required": ["items"],
    })
}

fn annotate_kind(schemas: &mut Map<String, Value>, name: &str, gvk: &Gvk) {
    let Some(schema) = schemas.get_mut(name).and_then(Value::as_object_mut) else {
        return;
    };
    // k8s-openapi marks `metadata` required because its types always carry it; the API does
    // not (generateName, and kubectl explain would print it as required).
    if let Some(Value::Array(required)) = schema.get_mut("required") {
        required.retain(|r| r != "metadata");
        if required.is_empty() {
            schema.remove("required");
        }
    }
    let entry = schema
        .entry("x-kubernetes-group-version-kind")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(gvks) = entry {
        let value = gvk.to_json();
        if !gvks.contains(&value) {
            gvks.push(value);
        }
    }
}

/// The value forms upstream's v3 documents give these two types (a string or a number).
fn add_kubernetes_formats(schemas: &mut Map<String, Value>) {
    if let Some(Value::Object(s)) = schemas.get_mut(INT_OR_STRING) {
        s.entry("format").or_insert_with(|| json!("int-or-string"));
        s.entry("oneOf")
            .or_insert_with(|| json!([{ "type": "integer" }, { "type": "string" }]));
    }
    if let Some(Value::Object(s)) = schemas.get_mut(QUANTITY) {
        s.entry("oneOf")
            .or_insert_with(|| json!([{ "type": "string" }, { "type": "number" }]));
    }
}

fn apply_field_extensions(schemas: &mut Map<String, Value>, e: &FieldExtensions) {
    let Some(prop) = schemas
        .get_mut(e.type_name)
        .and_then(|s| s.get_mut("properties"))
        .and_then(|p| p.get_mut(e.field))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if !e.list_map_keys.is_empty() {
        prop.insert("x-kubernetes-list-map-keys".into(), json!(e.list_map_keys));
    }
    if let Some(v) = e.list_type {
        prop.insert("x-kubernetes-list-type".into(), json!(v));
    }
    if let Some(v) = e.patch_merge_key {
        prop.insert("x-kubernetes-patch-merge-key".into(), json!(v));
    }
    if let Some(v) = e.patch_strategy {
        prop.insert("x-kubernetes-patch-strategy".into(), json!(v));
    }
    // A `$ref` must not have siblings in OpenAPI 3.0.
    move_ref_into_all_of(prop);
}

/// The schema name a `$ref` points to, for the definition locations schemars may use.
pub(super) fn ref_target(reference: &str) -> Option<String> {
    ["#/components/schemas/", "#/$defs/", "#/definitions/"]
        .iter()
        .find_map(|prefix| reference.strip_prefix(prefix))
        .map(|name| name.replace("~1", "/").replace("~0", "~"))
}

fn encode_ref_name(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// JSON Schema keywords OpenAPI 3.0 does not have; they carry no meaning a client of these
/// documents relies on.
const UNSUPPORTED_KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "$anchor",
    "$comment",
    "$dynamicRef",
    "$dynamicAnchor",
    "unevaluatedProperties",
    "unevaluatedItems",
    "dependentRequired",
    "dependentSchemas",
    "contentEncoding",
    "contentMediaType",
    "patternProperties",
    "propertyNames",
    "contains",
    "minContains",
    "maxContains",
    "if",
    "then",
    "else",
];

/// Rewrites one schema (and its subschemas) from JSON Schema 2020-12 to OpenAPI 3.0: refs into
/// `components/schemas`, null types to `nullable`, `const` to `enum`, `$ref` siblings into
/// `allOf`, nested `$defs` hoisted into `hoisted`.
pub(super) fn to_openapi30(schema: &mut Value, hoisted: &mut Map<String, Value>) {
    match schema {
        Value::Bool(true) => *schema = json!({}),
        Value::Bool(false) => *schema = json!({ "not": {} }),
        Value::Object(obj) => object_to_openapi30(obj, hoisted),
        _ => {}
    }
}

fn object_to_openapi30(obj: &mut Map<String, Value>, hoisted: &mut Map<String, Value>) {
    for key in ["$defs", "definitions"] {
        if let Some(Value::Object(defs)) = obj.remove(key) {
            for (name, mut sub) in defs {
                to_openapi30(&mut sub, hoisted);
                hoisted.entry(name).or_insert(sub);
            }
        }
    }
    for key in UNSUPPORTED_KEYWORDS {
        obj.remove(*key);
    }
    if let Some(Value::Array(examples)) = obj.remove("examples")
        && let Some(first) = examples.into_iter().next()
    {
        obj.entry("example").or_insert(first);
    }
    if let Some(value) = obj.remove("const") {
        obj.insert("enum".into(), Value::Array(vec![value]));
    }
    // Tuple forms have no 3.0 equivalent; "any of the positions" keeps the item types.
    if let Some(Value::Array(prefix)) = obj.remove("prefixItems")
        && !obj.contains_key("items")
    {
        obj.insert("items".into(), json!({ "anyOf": prefix }));
    }
    convert_type(obj);

    if let Some(Value::Object(props)) = obj.get_mut("properties") {
        props.values_mut().for_each(|s| to_openapi30(s, hoisted));
    }
    if let Some(additional @ Value::Object(_)) = obj.get_mut("additionalProperties") {
        to_openapi30(additional, hoisted);
    }
    if let Some(not) = obj.get_mut("not") {
        to_openapi30(not, hoisted);
    }
    match obj.get_mut("items") {
        Some(Value::Array(tuple)) => {
            let mut alternatives = std::mem::take(tuple);
            alternatives
                .iter_mut()
                .for_each(|s| to_openapi30(s, hoisted));
            obj.insert("items".into(), json!({ "anyOf": alternatives }));
        }
        Some(items) => to_openapi30(items, hoisted),
        None => {}
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        let Some(Value::Array(subs)) = obj.get_mut(key) else {
            continue;
        };
        let before = subs.len();
        subs.retain(|s| !is_null_schema(s));
        let had_null = subs.len() != before;
        subs.iter_mut().for_each(|s| to_openapi30(s, hoisted));
        let empty = subs.is_empty();
        if empty {
            obj.remove(key);
        }
        if had_null {
            obj.insert("nullable".into(), Value::Bool(true));
        }
    }

    if let Some(Value::String(reference)) = obj.get("$ref")
        && let Some(name) = ref_target(reference)
    {
        let rewritten = format!("{COMPONENTS_REF}{}", encode_ref_name(&name));
        obj.insert("$ref".into(), Value::String(rewritten));
    }
    move_ref_into_all_of(obj);
}

/// OpenAPI 3.0 ignores the siblings of a `$ref` (descriptions, extensions), so a referencing
/// schema with siblings wraps the reference in `allOf`, as upstream's documents do.
fn move_ref_into_all_of(obj: &mut Map<String, Value>) {
    if obj.len() > 1
        && let Some(reference) = obj.remove("$ref")
    {
        match obj
            .entry("allOf")
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(all_of) => all_of.insert(0, json!({ "$ref": reference })),
            other => *other = json!([{ "$ref": reference }]),
        }
    }
}

fn is_null_schema(s: &Value) -> bool {
    s.get("type").and_then(Value::as_str) == Some("null")
}

fn convert_type(obj: &mut Map<String, Value>) {
    let nullable = match obj.get("type") {
        Some(Value::String(t)) if t == "null" => {
            obj.remove("type");
            true
        }
        Some(Value::Array(types)) => {
            let nullable = types.iter().any(|t| t == "null");
            let rest: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
            obj.remove("type");
            match <[Value; 1]>::try_from(rest) {
                Ok([only]) => {
                    obj.insert("type".into(), only);
                }
                Err(rest) if !rest.is_empty() => {
                    let alternatives: Vec<Value> =
                        rest.into_iter().map(|t| json!({ "type": t })).collect();
                    obj.entry("anyOf").or_insert(Value::Array(alternatives));
                }
                Err(_) => {}
            }
            nullable
        }
        _ => false,
    };
    if nullable {
        obj.insert("nullable".into(), Value::Bool(true));
    }
}
