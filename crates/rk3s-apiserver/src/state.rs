//! The API server's shared state: registry, store, metrics and caches built once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rk3s_core::Registry;
use rk3s_core::patch::SchemaNav;
use rk3s_store::Backend;

use crate::metrics::Metrics;
use crate::openapi::OpenApiV3;

/// Everything a request handler needs; shared by all connections.
pub struct ApiState {
    pub registry: Arc<Registry>,
    pub store: Arc<dyn Backend>,
    pub metrics: Metrics,
    pub openapi: OpenApiV3,
    /// `host:port` clients use to reach this server (discovery's serverAddressByClientCIDRs).
    pub server_address: String,
    /// Strategic-merge schema navigation per kind (schema name), built on first use.
    schema_navs: Mutex<HashMap<String, Arc<SchemaNav>>>,
}

impl ApiState {
    pub fn new(registry: Registry, store: Arc<dyn Backend>, server_address: String) -> Self {
        let openapi = OpenApiV3::build(&registry, &crate::openapi_extensions());
        ApiState {
            registry: Arc::new(registry),
            store,
            metrics: Metrics::default(),
            openapi,
            server_address,
            schema_navs: Mutex::new(HashMap::new()),
        }
    }

    /// The strategic-merge navigation for a typed kind.
    pub fn schema_nav(&self, codec: &rk3s_core::TypedCodec) -> Arc<SchemaNav> {
        let name = (codec.schema_name)();
        if let Some(nav) = self
            .schema_navs
            .lock()
            .ok()
            .and_then(|m| m.get(&name).cloned())
        {
            return nav;
        }
        let nav = Arc::new(SchemaNav::for_codec(codec));
        if let Ok(mut m) = self.schema_navs.lock() {
            m.insert(name, nav.clone());
        }
        nav
    }
}
