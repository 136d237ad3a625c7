//! Navigation through a kind's JSON Schema (as schemars and k8s-openapi produce it), so the
//! strategic merge engine knows the Kubernetes type name at every field. Entry point:
//! [`SchemaNav`].

use serde_json::{Map, Value};

use crate::registry::TypedCodec;

/// `$ref` chains longer than this are treated as cycles and end in an unknown type.
const MAX_REF_HOPS: usize = 32;

/// A kind's root schema plus the definitions its `$ref`s point into. The default value knows
/// no types: every field is unknown, so a strategic merge patch degrades to merge-patch
/// behaviour. Build once per kind and reuse; navigation borrows.
#[derive(Debug, Clone, Default)]
pub struct SchemaNav {
    root_name: Option<String>,
    root: Value,
    definitions: Map<String, Value>,
}

impl SchemaNav {
    /// `root_name` is the schema name of `root` (e.g. `io.k8s.api.apps.v1.Deployment`) for
    /// when `root` is inline rather than a `$ref`. `definitions` maps schema names to schemas;
    /// `$ref`s are resolved by their last path segment, so `#/$defs/X` and `#/definitions/X`
    /// both work.
    pub fn new(root_name: Option<String>, root: Value, definitions: Map<String, Value>) -> Self {
        SchemaNav {
            root_name,
            root,
            definitions,
        }
    }

    /// Generates the schema of a built-in kind and keeps its definitions.
    pub fn for_codec(codec: &TypedCodec) -> Self {
        let mut generator = schemars::SchemaGenerator::default();
        let root = (codec.schema)(&mut generator).to_value();
        let definitions = generator.take_definitions(false);
        SchemaNav::new(Some((codec.schema_name)()), root, definitions)
    }

    /// The node of the whole object.
    pub fn root(&self) -> SchemaNode<'_> {
        let (schema, name) = self.resolve(&self.root);
        let name = name.or(self.root_name.as_deref());
        SchemaNode {
            nav: self,
            schema,
            name,
        }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> (Option<&'a Value>, Option<&'a str>) {
        let mut current = schema;
        let mut name = None;
        for _ in 0..MAX_REF_HOPS {
            let Some(target) = ref_target(current) else {
                return (Some(current), name);
            };
            match self.definitions.get(target) {
                Some(next) => {
                    name = Some(target);
                    current = next;
                }
                None => return (None, Some(target)),
            }
        }
        (None, None)
    }
}

/// The name a schema points to with `$ref` (or a one-element `allOf` wrapping a `$ref`).
fn ref_target(schema: &Value) -> Option<&str> {
    let obj = schema.as_object()?;
    let reference = match obj.get("$ref") {
        Some(r) => r.as_str()?,
        None => match obj.get("allOf")?.as_array()?.as_slice() {
            [single] => single.get("$ref")?.as_str()?,
            _ => return None,
        },
    };
    let last = reference.rsplit('/').next()?;
    Some(last)
}

/// One position in a schema: the schema there (if known) and its Kubernetes type name (if it
/// is a named definition).
#[derive(Debug, Clone, Copy)]
pub struct SchemaNode<'a> {
    nav: &'a SchemaNav,
    schema: Option<&'a Value>,
    name: Option<&'a str>,
}

impl<'a> SchemaNode<'a> {
    /// The definition name, e.g. `io.k8s.api.core.v1.PodSpec`.
    pub fn type_name(&self) -> Option<&'a str> {
        self.name
    }

    /// Whether the schema lists properties here, so field names can be checked.
    pub fn has_properties(&self) -> bool {
        self.schema
            .and_then(|s| s.get("properties"))
            .is_some_and(Value::is_object)
    }

    /// Whether `field` is a declared property.
    pub fn has_property(&self, field: &str) -> bool {
        self.schema
            .and_then(|s| s.get("properties"))
            .and_then(|p| p.get(field))
            .is_some()
    }

    /// The node of an object field: a declared property, else the schema of a map's values.
    pub fn field(&self, field: &str) -> SchemaNode<'a> {
        let Some(schema) = self.schema else {
            return self.unknown();
        };
        let child = schema
            .get("properties")
            .and_then(|p| p.get(field))
            .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()));
        self.descend(child)
    }

    /// The node of a list's items.
    pub fn items(&self) -> SchemaNode<'a> {
        let child = self
            .schema
            .and_then(|s| s.get("items"))
            .filter(|i| i.is_object());
        self.descend(child)
    }

    fn descend(&self, child: Option<&'a Value>) -> SchemaNode<'a> {
        match child {
            Some(child) => {
                let (schema, name) = self.nav.resolve(child);
                SchemaNode {
                    nav: self.nav,
                    schema,
                    name,
                }
            }
            None => self.unknown(),
        }
    }

    fn unknown(&self) -> SchemaNode<'a> {
        SchemaNode {
            nav: self.nav,
            schema: None,
            name: None,
        }
    }
}
