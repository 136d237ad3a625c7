//! OpenAPI v3 documents for the served API: the `/openapi/v3` index and one document per
//! group-version, built once per registry by [`OpenApiV3::build`] and served as bytes.
//!
//! The documents are pure data derived from the registry (k8s-openapi's schemars schemas for
//! typed kinds) plus the caller's Kubernetes field extensions (patch merge keys and list types).
//! kubectl depends on them: `apply` looks for a PATCH operation with the object's GVK and an inline
//! `fieldValidation` parameter, `explain` reads the kind schemas, and client-side apply reads the
//! strategic-merge extensions.

mod digest;
mod naming;
mod paths;
mod schemas;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use rk3s_core::Registry;
use serde_json::{Map, Value, json};

/// The Kubernetes extensions of one field of one schema, e.g. `io.k8s.api.core.v1.PodSpec` /
/// `containers` with merge key `name`. Built by the caller from the patch metadata table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldExtensions<'a> {
    /// The schema name, e.g. `io.k8s.api.core.v1.PodSpec`.
    pub type_name: &'a str,
    /// The JSON field name, e.g. `containers`.
    pub field: &'a str,
    pub patch_strategy: Option<&'a str>,
    pub patch_merge_key: Option<&'a str>,
    pub list_type: Option<&'a str>,
    pub list_map_keys: &'a [&'a str],
}

/// The version the documents' `info` block reports, matching `/version`.
const INFO_VERSION: &str = "v1.33.0";

/// The `/openapi/v3` index path of a group-version: `api/v1` or `apis/apps/v1`.
pub fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The `/openapi/v3` index: each served group-version with the URL of its document. `hashes`
/// maps an index path (`api/v1`) to the digest of that document; a group-version without a
/// hash is listed without the `hash` query parameter.
pub fn index(registry: &Registry, hashes: &BTreeMap<String, String>) -> Value {
    let mut paths = Map::new();
    for gv in registry.groups() {
        for version in &gv.versions {
            let path = group_version_path(&gv.group, version);
            let url = match hashes.get(&path) {
                Some(hash) => format!("/openapi/v3/{path}?hash={hash}"),
                None => format!("/openapi/v3/{path}"),
            };
            paths.insert(path, json!({ "serverRelativeURL": url }));
        }
    }
    json!({ "paths": paths })
}

/// The OpenAPI 3.0 document of one group-version, or `None` if the registry serves no kind there.
pub fn group_version_document(
    registry: &Registry,
    group: &str,
    version: &str,
    ext: &[FieldExtensions],
) -> Option<Value> {
    let types: Vec<_> = registry
        .in_group_version(group, version)
        .map(|t| t.as_ref())
        .collect();
    if types.is_empty() {
        return None;
    }
    let components = schemas::component_schemas(registry, &types, ext);
    let paths = paths::paths(&types, &components);
    Some(json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": INFO_VERSION },
        "paths": paths,
        "components": { "schemas": components.schemas },
    }))
}

/// One pre-serialized group-version document.
#[derive(Debug, Clone)]
struct Document {
    bytes: Vec<u8>,
    hash: String,
}

/// Every OpenAPI v3 document of one registry, serialized once. Rebuild it when the registry
/// changes (CRDs added or removed); the hashes in the index change with the documents.
#[derive(Debug, Clone)]
pub struct OpenApiV3 {
    index: Vec<u8>,
    documents: BTreeMap<String, Document>,
}

impl OpenApiV3 {
    pub fn build(registry: &Registry, ext: &[FieldExtensions]) -> OpenApiV3 {
        let mut documents = BTreeMap::new();
        for gv in registry.groups() {
            for version in &gv.versions {
                let Some(doc) = group_version_document(registry, &gv.group, version, ext) else {
                    continue;
                };
                // Serializing a `Value` cannot fail: its map keys are strings.
                let bytes = doc.to_string().into_bytes();
                let hash = digest::hex_digest(&bytes);
                documents.insert(
                    group_version_path(&gv.group, version),
                    Document { bytes, hash },
                );
            }
        }
        let hashes = documents
            .iter()
            .map(|(path, doc)| (path.clone(), doc.hash.clone()))
            .collect();
        let index = index(registry, &hashes).to_string().into_bytes();
        OpenApiV3 { index, documents }
    }

    /// The serialized `/openapi/v3` index.
    pub fn index_json(&self) -> &[u8] {
        &self.index
    }

    /// The serialized document of an index path such as `api/v1` or `apis/apps/v1` (a leading
    /// `/` is ignored).
    pub fn document_json(&self, path: &str) -> Option<&[u8]> {
        self.documents
            .get(path.trim_start_matches('/'))
            .map(|d| d.bytes.as_slice())
    }

    /// The digest the index advertises for a document: a request whose `hash` parameter equals
    /// it may be cached as immutable.
    pub fn document_hash(&self, path: &str) -> Option<&str> {
        self.documents
            .get(path.trim_start_matches('/'))
            .map(|d| d.hash.as_str())
    }

    /// The index paths of all documents, in sorted order.
    pub fn document_paths(&self) -> impl Iterator<Item = &str> {
        self.documents.keys().map(String::as_str)
    }
}
