//! The resource registry: every kind the API serves (built-in and, later, CRD kinds), with the
//! facts discovery, routing, storage and validation need. Entry point: [`Registry`].

use std::sync::Arc;

/// How an object of a typed (built-in) kind is checked and described.
///
/// `roundtrip` deserializes the JSON into the k8s-openapi type and serializes it back: the
/// output is the normalized object (unknown fields dropped), an error names what is wrong.
/// `schema` produces the OpenAPI (JSON Schema) description of the kind.
#[derive(Clone, Copy)]
pub struct TypedCodec {
    pub roundtrip: fn(serde_json::Value) -> Result<serde_json::Value, serde_json::Error>,
    pub schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
    /// The schema's name, e.g. `io.k8s.api.core.v1.Pod`.
    pub schema_name: fn() -> String,
}

impl std::fmt::Debug for TypedCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TypedCodec")
    }
}

/// A subresource such as `pods/status` or `deployments/scale`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subresource {
    /// e.g. `status`, `scale`, `log`, `exec`, `binding`, `eviction`, `token`.
    pub name: String,
    /// The kind the subresource answers with, e.g. `Scale` in group `autoscaling` v1.
    pub group: String,
    pub version: String,
    pub kind: String,
    pub verbs: Vec<String>,
}

/// One served resource of one group/version.
#[derive(Debug, Clone)]
pub struct ResourceType {
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// Lower-case plural, the path segment: `pods`.
    pub plural: String,
    /// Lower-case singular: `pod`.
    pub singular: String,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub namespaced: bool,
    /// Verbs as discovery lists them: get, list, watch, create, update, patch, delete,
    /// deletecollection (a subset for some kinds).
    pub verbs: Vec<String>,
    pub subresources: Vec<Subresource>,
    /// Storage key prefix without a trailing slash, following upstream's layout:
    /// `/registry/pods`, `/registry/deployments`,
    /// `/registry/apiextensions.k8s.io/customresourcedefinitions`.
    /// Two served versions of one resource share one prefix.
    pub storage_prefix: String,
    /// Present for built-in kinds typed by k8s-openapi.
    pub codec: Option<TypedCodec>,
    /// Present for custom resources: their structural schema, scale paths, printer columns.
    pub custom: Option<Arc<CustomKind>>,
}

/// What serving one version of a custom resource needs from its CRD, compiled once.
#[derive(Debug)]
pub struct CustomKind {
    pub schema: crate::crd::StructuralSchema,
    pub scale: Option<crate::crd::ScalePaths>,
    pub columns: Vec<crate::printers::CustomColumn>,
}

impl ResourceType {
    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// The storage key of one object: `<prefix>/<ns>/<name>` or `<prefix>/<name>`.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}/{}/{}", self.storage_prefix, ns, name),
            _ => format!("{}/{}", self.storage_prefix, name),
        }
    }

    /// The storage prefix under which a list looks: a namespace's objects or all of them.
    /// Always ends in `/`.
    pub fn list_prefix(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}/{}/", self.storage_prefix, ns),
            _ => format!("{}/", self.storage_prefix),
        }
    }

    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    pub fn subresource(&self, name: &str) -> Option<&Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }
}

/// A group and the versions it serves, most preferred first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupVersions {
    pub group: String,
    pub versions: Vec<String>,
}

/// All resource types the API serves. Cheap to clone; replaced as a whole when CRDs change.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    types: Vec<Arc<ResourceType>>,
}

impl Registry {
    pub fn new(types: Vec<ResourceType>) -> Self {
        Registry {
            types: types.into_iter().map(Arc::new).collect(),
        }
    }

    /// The registry of every built-in kind rk3s serves.
    pub fn builtin() -> Self {
        Registry::new(crate::builtin::resource_types())
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<ResourceType>> {
        self.types.iter()
    }

    /// Look up by group, version and plural (the URL form).
    pub fn by_resource(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<&Arc<ResourceType>> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// Look up by group, version and kind.
    pub fn by_kind(&self, group: &str, version: &str, kind: &str) -> Option<&Arc<ResourceType>> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.kind == kind)
    }

    /// Groups with their versions, in the order discovery lists them (core group first).
    pub fn groups(&self) -> Vec<GroupVersions> {
        let mut out: Vec<GroupVersions> = Vec::new();
        for t in &self.types {
            match out.iter_mut().find(|g| g.group == t.group) {
                Some(g) => {
                    if !g.versions.contains(&t.version) {
                        g.versions.push(t.version.clone());
                    }
                }
                None => out.push(GroupVersions {
                    group: t.group.clone(),
                    versions: vec![t.version.clone()],
                }),
            }
        }
        out
    }

    /// The resource types of one group/version, in registry order.
    pub fn in_group_version<'a>(
        &'a self,
        group: &'a str,
        version: &'a str,
    ) -> impl Iterator<Item = &'a Arc<ResourceType>> + 'a {
        self.types
            .iter()
            .filter(move |t| t.group == group && t.version == version)
    }
}
