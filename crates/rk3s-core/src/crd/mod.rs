//! CustomResourceDefinition support as pure functions: CRD validation and defaulting
//! ([`validate_crd`], [`default_crd`]), the resource types a CRD serves ([`resource_types`]), and
//! the per-version structural schema that prunes, defaults and validates custom objects
//! ([`StructuralSchema`]), the scale subresource ([`ScalePaths`]) and name acceptance
//! ([`accept_names`]).

mod definition;
mod errors;
mod formats;
mod naming;
mod schema;
mod serving;
mod structural;

mod defaults;
mod prune;
mod scale;
mod validate;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use definition::{
    default_crd, prepare_crd_create, prepare_crd_update, storage_version, validate_crd,
};
pub use errors::{CrdError, FieldError};
pub use naming::accept_names;
pub use scale::ScalePaths;
pub use schema::StructuralSchema;
pub use serving::{compare_versions, resource_types};

/// Resolves a stored object into `version` under the `None` conversion strategy: only
/// `apiVersion` changes, the rest of the object is served as stored.
pub fn convert_none(obj: &mut Value, group: &str, version: &str) {
    if let Value::Object(map) = obj {
        map.insert(
            "apiVersion".to_owned(),
            Value::String(format!("{group}/{version}")),
        );
    }
}

/// `a.b[2].c` style paths, as upstream's field errors print them.
pub(crate) fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// `properties[name]`, the form CRD validation uses for schema paths.
pub(crate) fn keyed(path: &str, field: &str, key: &str) -> String {
    format!("{}[{key}]", child(path, field))
}
