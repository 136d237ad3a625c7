//! The built-in kinds rk3s serves, as upstream Kubernetes 1.33 serves them: names, scope, verbs,
//! subresources, storage prefixes and typed codecs. Entry point: [`resource_types`].
//!
//! The table is in discovery order: the core group, then the groups by upstream's priority
//! (apiregistration first), resources alphabetical within a group/version.
//! Kinds that are never persisted (bindings, the review kinds, componentstatuses) have an empty
//! `storage_prefix`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::registry::{ResourceType, Subresource, TypedCodec};

type Gv = (&'static str, &'static str);

const CORE: Gv = ("", "v1");
const APIREG: Gv = ("apiregistration.k8s.io", "v1");
const APPS: Gv = ("apps", "v1");
const EVENTS: Gv = ("events.k8s.io", "v1");
const AUTHN: Gv = ("authentication.k8s.io", "v1");
const AUTHZ: Gv = ("authorization.k8s.io", "v1");
const AUTOSCALING_V2: Gv = ("autoscaling", "v2");
const AUTOSCALING_V1: Gv = ("autoscaling", "v1");
const BATCH: Gv = ("batch", "v1");
const CERTS: Gv = ("certificates.k8s.io", "v1");
const NETWORKING: Gv = ("networking.k8s.io", "v1");
const POLICY: Gv = ("policy", "v1");
const RBAC: Gv = ("rbac.authorization.k8s.io", "v1");
const STORAGE: Gv = ("storage.k8s.io", "v1");
const ADMISSION: Gv = ("admissionregistration.k8s.io", "v1");
const APIEXT: Gv = ("apiextensions.k8s.io", "v1");
const SCHEDULING: Gv = ("scheduling.k8s.io", "v1");
const COORDINATION: Gv = ("coordination.k8s.io", "v1");
const NODE: Gv = ("node.k8s.io", "v1");
const DISCOVERY: Gv = ("discovery.k8s.io", "v1");
const FLOWCONTROL: Gv = ("flowcontrol.apiserver.k8s.io", "v1");

const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
/// Namespaces and services have no delete-collection endpoint upstream.
const NO_DELETECOLLECTION: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];
const CREATE: &[&str] = &["create"];
const GET_LIST: &[&str] = &["get", "list"];
const GET_PATCH_UPDATE: &[&str] = &["get", "patch", "update"];
const CREATE_GET: &[&str] = &["create", "get"];
const PROXY: &[&str] = &["create", "delete", "get", "patch", "update"];

#[derive(Clone, Copy)]
enum Scope {
    Namespaced,
    Cluster,
}
use Scope::{Cluster, Namespaced};

fn roundtrip<T: DeserializeOwned + Serialize>(
    value: serde_json::Value,
) -> Result<serde_json::Value, serde_json::Error> {
    let typed: T = serde_json::from_value(value)?;
    serde_json::to_value(typed)
}

fn schema_name<T: schemars::JsonSchema>() -> String {
    T::schema_name().into_owned()
}

/// The codec of a k8s-openapi type.
pub fn codec<T>() -> TypedCodec
where
    T: DeserializeOwned + Serialize + schemars::JsonSchema,
{
    TypedCodec {
        roundtrip: roundtrip::<T>,
        schema: T::json_schema,
        schema_name: schema_name::<T>,
    }
}

/// One table row under construction; defaults: every verb, stored at `/registry/<plural>`.
struct Def(ResourceType);

fn res<T>(gv: Gv, kind: &str, plural: &str, scope: Scope) -> Def
where
    T: DeserializeOwned + Serialize + schemars::JsonSchema,
{
    Def(ResourceType {
        group: gv.0.to_string(),
        version: gv.1.to_string(),
        kind: kind.to_string(),
        plural: plural.to_string(),
        singular: kind.to_lowercase(),
        short_names: Vec::new(),
        categories: Vec::new(),
        namespaced: matches!(scope, Namespaced),
        verbs: strings(ALL_VERBS),
        subresources: Vec::new(),
        storage_prefix: format!("/registry/{plural}"),
        codec: Some(codec::<T>()),
        custom: None,
    })
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl Def {
    fn short(mut self, names: &[&str]) -> Self {
        self.0.short_names = strings(names);
        self
    }

    /// In the `all` category (`kubectl get all`).
    fn all(mut self) -> Self {
        self.0.categories.push("all".to_string());
        self
    }

    /// In the `api-extensions` category.
    fn api_extension(mut self) -> Self {
        self.0.categories.push("api-extensions".to_string());
        self
    }

    fn verbs(mut self, verbs: &[&str]) -> Self {
        self.0.verbs = strings(verbs);
        self
    }

    fn at(mut self, prefix: &str) -> Self {
        self.0.storage_prefix = prefix.to_string();
        self
    }

    /// A kind that is only ever created and answered, never persisted.
    fn unstored(mut self) -> Self {
        self.0.storage_prefix = String::new();
        self
    }

    fn sub(mut self, name: &str, gv: Gv, kind: &str, verbs: &[&str]) -> Self {
        self.0.subresources.push(Subresource {
            name: name.to_string(),
            group: gv.0.to_string(),
            version: gv.1.to_string(),
            kind: kind.to_string(),
            verbs: strings(verbs),
        });
        self
    }

    /// The `status` subresource, answering with the kind itself.
    fn status(mut self) -> Self {
        self.0.subresources.push(Subresource {
            name: "status".to_string(),
            group: self.0.group.clone(),
            version: self.0.version.clone(),
            kind: self.0.kind.clone(),
            verbs: strings(GET_PATCH_UPDATE),
        });
        self
    }

    fn scale(self) -> Self {
        self.sub("scale", AUTOSCALING_V1, "Scale", GET_PATCH_UPDATE)
    }

    fn done(mut self) -> ResourceType {
        self.0.subresources.sort_by(|a, b| a.name.cmp(&b.name));
        self.0
    }
}

mod apis;
mod core_v1;
#[cfg(test)]
mod tests;

/// Every built-in resource type, in discovery order.
pub fn resource_types() -> Vec<ResourceType> {
    [core_v1::core_v1(), apis::apis_first(), apis::apis_rest()]
        .into_iter()
        .flatten()
        .map(Def::done)
        .collect()
}
