//! The API server's shared state: registry, store, metrics and caches built once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use rk3s_core::Registry;
use rk3s_core::patch::SchemaNav;
use rk3s_store::Backend;

use crate::metrics::Metrics;
use crate::openapi::OpenApiV3;

/// The served API surface: the registry and the OpenAPI documents built from it. Replaced as a
/// whole when custom resource definitions change, so a request sees one consistent view.
pub struct Surface {
    pub registry: Registry,
    pub openapi: OpenApiV3,
}

/// Everything a request handler needs; shared by all connections.
pub struct ApiState {
    surface: RwLock<Arc<Surface>>,
    /// The built-in kinds; CRD kinds are added to a copy of this.
    builtin: Registry,
    pub store: Arc<dyn Backend>,
    pub metrics: Metrics,
    /// `host:port` clients use to reach this server (discovery's serverAddressByClientCIDRs).
    pub server_address: String,
    /// Strategic-merge schema navigation per kind (schema name), built on first use.
    schema_navs: Mutex<HashMap<String, Arc<SchemaNav>>>,
    /// Where service cluster IPs and node ports come from.
    pub service_network: crate::allocator::ServiceNetwork,
    /// Signing keys of service-account tokens; without them bearer tokens are not accepted.
    pub token_keys: Option<Arc<crate::serviceaccount::TokenKeys>>,
    /// PEM of the CA that signed the serving certificate: published to every namespace as
    /// ConfigMap `kube-root-ca.crt` and into legacy token secrets (`None`: not published).
    pub root_ca_pem: Option<String>,
    /// Audiences tokens must carry to authenticate here (empty: the issuer).
    pub api_audiences: Vec<String>,
    /// RBAC + Node authorization; `None` allows only `system:masters` (in-process tests).
    pub authorizer: Option<Arc<crate::rbac::RbacAuthorizer>>,
    /// The CRD set the current surface was built from (empty: none).
    crd_fingerprint: Mutex<String>,
}

fn build_surface(registry: Registry) -> Surface {
    let openapi = OpenApiV3::build(&registry, &crate::openapi_extensions());
    Surface { registry, openapi }
}

impl ApiState {
    pub fn new(registry: Registry, store: Arc<dyn Backend>, server_address: String) -> Self {
        ApiState {
            surface: RwLock::new(Arc::new(build_surface(registry.clone()))),
            builtin: registry,
            store,
            metrics: Metrics::default(),
            server_address,
            schema_navs: Mutex::new(HashMap::new()),
            service_network: crate::allocator::ServiceNetwork::default(),
            token_keys: None,
            root_ca_pem: None,
            api_audiences: Vec::new(),
            authorizer: None,
            crd_fingerprint: Mutex::new(String::new()),
        }
    }

    /// Accept and issue service-account tokens signed with these keys.
    pub fn with_token_keys(mut self, keys: crate::serviceaccount::TokenKeys) -> Self {
        self.token_keys = Some(Arc::new(keys));
        self
    }

    /// Publish this CA (PEM) to namespaces and token secrets.
    pub fn with_root_ca(mut self, pem: impl Into<String>) -> Self {
        self.root_ca_pem = Some(pem.into()).filter(|p| !p.is_empty());
        self
    }

    /// Authorize requests with RBAC and the Node authorizer.
    pub fn with_authorizer(mut self, authz: Arc<crate::rbac::RbacAuthorizer>) -> Self {
        self.authorizer = Some(authz);
        self
    }

    /// Use this service network instead of the default 10.43.0.0/16, 30000-32767.
    pub fn with_service_network(mut self, net: crate::allocator::ServiceNetwork) -> Self {
        self.service_network = net;
        self
    }

    /// The current API surface (registry + OpenAPI).
    pub fn surface(&self) -> Arc<Surface> {
        match self.surface.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The built-in registry, without custom resources.
    pub fn builtin_registry(&self) -> &Registry {
        &self.builtin
    }

    /// Serve exactly the built-in kinds plus `extra` (the kinds of established CRDs).
    /// `fingerprint` identifies the CRD set; an unchanged one keeps the current surface (the
    /// OpenAPI documents are not rebuilt for nothing).
    pub fn set_extra_types_if_changed(
        &self,
        fingerprint: String,
        extra: Vec<rk3s_core::ResourceType>,
    ) {
        if let Ok(mut f) = self.crd_fingerprint.lock() {
            if *f == fingerprint {
                return;
            }
            *f = fingerprint;
        }
        self.set_extra_types(extra);
    }

    /// Serve exactly the built-in kinds plus `extra` (the kinds of established CRDs).
    pub fn set_extra_types(&self, extra: Vec<rk3s_core::ResourceType>) {
        let mut types: Vec<rk3s_core::ResourceType> =
            self.builtin.all().map(|t| (**t).clone()).collect();
        types.extend(extra);
        let surface = Arc::new(build_surface(Registry::new(types)));
        match self.surface.write() {
            Ok(mut s) => *s = surface,
            Err(poisoned) => *poisoned.into_inner() = surface,
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
