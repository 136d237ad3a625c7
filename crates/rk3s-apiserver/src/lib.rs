//! rk3s-apiserver: the Kubernetes REST API over the rk3s store — TLS and authentication,
//! discovery, OpenAPI, and generic handlers for every kind in the registry.
//! Entry points: [`ApiState::new`], [`bootstrap`], [`server::serve`].

pub mod admission;
pub mod allocator;
pub mod auth;
pub mod bootstrap;
pub mod crds;
pub mod discovery;
pub mod error;
pub mod events;
pub mod handlers;
pub mod metrics;
pub mod negotiate;
pub mod objects;
pub mod openapi;
pub mod protobuf;
pub mod rbac;
pub mod request;
pub mod rootca;
pub mod server;
pub mod serviceaccount;
pub mod state;
pub mod store_watch;

pub use state::ApiState;

/// The OpenAPI extensions for strategic merge (patch strategy, merge keys, list types), from
/// the patch engine's table: one source for both.
pub fn openapi_extensions() -> Vec<openapi::FieldExtensions<'static>> {
    rk3s_core::patch::patch_meta_table()
        .iter()
        .map(|(type_name, field, m)| openapi::FieldExtensions {
            type_name,
            field,
            patch_strategy: m.strategy,
            patch_merge_key: m.merge_key,
            list_type: m.list_type,
            list_map_keys: m.list_map_keys,
        })
        .collect()
}
