//! The generic resource handlers: one per verb, for every kind in the registry.
//! Entry point: [`handle`], which routes a request and renders errors as `Status`.

mod create;
mod delete;
mod filter;
mod get;
mod list;
mod patch;
mod pods;
pub(crate) mod render;
mod reviews;
mod scale;
mod update;
mod watch;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;

use crate::auth::{self, Identity, PeerIdentity};
use crate::discovery;
use crate::error::{ApiError, ApiResult, Subject};
use crate::negotiate::{self, DiscoveryForm, MAX_BODY_BYTES};
use crate::rbac::Attributes;
use crate::request::{self, ApiTarget, Query, Route};
use crate::state::ApiState;

pub(crate) use delete::{delete_namespace_contents, spawn_namespace_finalizer};

/// One resource request, resolved: who, what, where, with which parameters.
pub struct Ctx<'a> {
    pub state: &'a Arc<ApiState>,
    pub target: ApiTarget,
    pub query: Query,
    pub headers: &'a HeaderMap,
    pub identity: &'a Identity,
}

impl Ctx<'_> {
    pub fn subject(&self, name: &str) -> Subject {
        Subject::new(&self.target.rt.group, &self.target.rt.plural, name)
    }

    /// Who is writing, for managedFields: `fieldManager`, else the client's program name from
    /// its User-Agent, as upstream derives it.
    pub fn field_manager(&self) -> String {
        if let Some(m) = self
            .query
            .field_manager
            .as_deref()
            .filter(|m| !m.is_empty())
        {
            return m.to_string();
        }
        self.headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .and_then(|ua| ua.split('/').next())
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(128).collect())
            .unwrap_or_else(|| "unknown".to_string())
    }

    /// The object's storage key (the request must name one).
    pub fn key(&self, name: &str) -> String {
        self.target.rt.key(self.target.namespace.as_deref(), name)
    }
}

/// Serve one HTTP request.
pub async fn handle(
    state: Arc<ApiState>,
    peer: PeerIdentity,
    req: http::Request<Body>,
) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let mut metric_verb = parts.method.as_str().to_string();
    let mut metric_resource = String::new();
    // Read the whole body before answering anything: an error sent while the client is
    // still writing would reset the connection instead of reaching it.
    let body = read_body(body).await;
    let result = serve(
        &state,
        &peer,
        &parts,
        body,
        &mut metric_verb,
        &mut metric_resource,
    )
    .await;
    let response = result.unwrap_or_else(|e| e.into_response());
    let code = response.status().as_u16();
    state
        .metrics
        .observe_request(&metric_verb, &metric_resource, code, started.elapsed());
    tracing::debug!(method = %parts.method, path = %path, code, elapsed_ms = started.elapsed().as_millis() as u64, "request");
    response
}

async fn read_body(body: Body) -> ApiResult<Bytes> {
    let limited = http_body_util::Limited::new(body, MAX_BODY_BYTES);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::TooLarge(
            "Request entity too large: limit is 3145728".into(),
        )),
        Err(e) => Err(ApiError::BadRequest(format!(
            "reading the request body failed: {e}"
        ))),
    }
}

async fn serve(
    state: &Arc<ApiState>,
    peer: &PeerIdentity,
    parts: &http::request::Parts,
    body: ApiResult<Bytes>,
    metric_verb: &mut String,
    metric_resource: &mut String,
) -> ApiResult<Response> {
    let path = parts.uri.path();
    // Health endpoints answer load balancers and probes without credentials.
    if matches!(path, "/healthz" | "/livez" | "/readyz")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/")
    {
        return health(state, path).await;
    }
    let identity = &impersonate(
        state,
        authenticate(state, peer, &parts.headers).await?,
        &parts.headers,
    )?;
    if !path.starts_with("/api/")
        && !path.starts_with("/apis/")
        && path != "/api"
        && path != "/apis"
    {
        auth::check(
            state,
            identity,
            &Attributes::non_resource(&parts.method.as_str().to_ascii_lowercase(), path),
        )?;
        return non_resource(state, parts, path);
    }
    let surface = state.surface();
    let route = request::route(&surface.registry, path)?.ok_or_else(not_found_path)?;
    let target = match route {
        Route::DiscoveryRoot { legacy } => {
            auth::check(
                state,
                identity,
                &Attributes::non_resource(&parts.method.as_str().to_ascii_lowercase(), path),
            )?;
            return Ok(discovery_root(state, &parts.headers, legacy));
        }
        Route::DiscoveryGroup { group } => {
            auth::check(
                state,
                identity,
                &Attributes::non_resource(&parts.method.as_str().to_ascii_lowercase(), path),
            )?;
            let doc =
                discovery::api_group_doc(&surface.registry, &group).ok_or_else(not_found_path)?;
            return Ok(render::json(StatusCode::OK, &doc));
        }
        Route::DiscoveryGroupVersion { group, version } => {
            auth::check(
                state,
                identity,
                &Attributes::non_resource(&parts.method.as_str().to_ascii_lowercase(), path),
            )?;
            return Ok(render::json(
                StatusCode::OK,
                &discovery::api_resource_list(&surface.registry, &group, &version),
            ));
        }
        Route::Resource(t) => t,
    };
    let query = Query::parse(parts.uri.query())?;
    let rt = target.rt.clone();
    let verb = verb_for(&parts.method, &target, &query)?;
    *metric_verb = verb.to_ascii_uppercase();
    *metric_resource = rt.plural.clone();
    // A list or watch narrowed to one name is authorized as that name, as upstream does.
    let selected_name = query
        .field_selector
        .as_deref()
        .and_then(|f| rk3s_core::selectors::FieldSelector::parse(f).ok())
        .and_then(|f| f.exact_name().map(str::to_string));
    let name = target.name.clone().or(selected_name).unwrap_or_default();
    let attrs = Attributes::resource(
        verb,
        &rt.group,
        &rt.plural,
        target.namespace.as_deref().unwrap_or(""),
    )
    .with_name(&name)
    .with_subresource(target.subresource.as_deref().unwrap_or(""));
    auth::check(state, identity, &attrs)?;
    if let Some(sub) = &target.subresource {
        if rt.subresource(sub).is_none() {
            return Err(not_found_path());
        }
        if !matches!(
            sub.as_str(),
            "status" | "scale" | "token" | "binding" | "eviction"
        ) {
            return Err(ApiError::MethodNotAllowed(format!(
                "the subresource {sub:?} of {} is not served yet",
                rt.plural
            )));
        }
    }
    if !rt.has_verb(verb) && target.subresource.is_none() {
        return Err(ApiError::MethodNotAllowed(format!(
            "the server does not allow this method on the requested resource ({verb} {})",
            rt.plural
        )));
    }
    let ctx = Ctx {
        state,
        target,
        query,
        headers: &parts.headers,
        identity,
    };
    if ctx.target.subresource.as_deref() == Some("token")
        && ctx.target.rt.group.is_empty()
        && ctx.target.rt.plural == "serviceaccounts"
    {
        return match verb {
            "create" => reviews::token_request(&ctx, &body?).await,
            _ => Err(ApiError::MethodNotAllowed(format!(
                "{verb} is not allowed on serviceaccounts/token"
            ))),
        };
    }
    if ctx.target.rt.group.is_empty() && ctx.target.rt.plural == "pods" {
        match (ctx.target.subresource.as_deref(), verb) {
            (Some("binding"), "create") => {
                let name = ctx.target.name.clone().unwrap_or_default();
                return pods::bind(&ctx, &name, &body?).await;
            }
            (Some("eviction"), "create") => {
                return pods::evict(&ctx, &body?).await;
            }
            (Some("binding" | "eviction"), _) => {
                return Err(ApiError::MethodNotAllowed(format!(
                    "{verb} is not allowed on this subresource"
                )));
            }
            _ => {}
        }
    }
    // The legacy `bindings` resource: POST …/namespaces/{ns}/bindings with the pod's name.
    if ctx.target.rt.group.is_empty() && ctx.target.rt.plural == "bindings" && verb == "create" {
        let bytes = body?;
        let format = negotiate::body_format(ctx.headers)?;
        let binding = negotiate::decode_body(format, &bytes)?;
        let name = binding
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        return pods::bind(&ctx, &name, &bytes).await;
    }
    if ctx.target.rt.group.is_empty() && ctx.target.rt.plural == "componentstatuses" {
        return component_statuses(&ctx, verb).await;
    }
    // Kinds without storage (reviews, bindings, component statuses) are answered, not stored.
    if ctx.target.rt.storage_prefix.is_empty() {
        return match verb {
            "create" => reviews::create(&ctx, &body?).await,
            _ => Err(ApiError::MethodNotAllowed(format!(
                "{verb} is not supported on {}",
                ctx.target.rt.plural
            ))),
        };
    }
    if ctx.target.subresource.as_deref() == Some("scale") {
        return match verb {
            "get" => scale::get(&ctx).await,
            "update" => scale::write(&ctx, &body?, false).await,
            "patch" => scale::write(&ctx, &body?, true).await,
            _ => Err(ApiError::MethodNotAllowed(format!(
                "{verb} is not allowed on the scale subresource"
            ))),
        };
    }
    match verb {
        "get" => get::get(&ctx).await,
        "list" => list::list(&ctx).await,
        "watch" => watch::watch(&ctx).await,
        "create" => {
            let body = body?;
            create::create(&ctx, &body).await
        }
        "update" => {
            let body = body?;
            update::update(&ctx, &body).await
        }
        "patch" => {
            let body = body?;
            patch::patch(&ctx, &body).await
        }
        "delete" => {
            let body = body?;
            delete::delete(&ctx, &body).await
        }
        "deletecollection" => {
            let body = body?;
            delete::delete_collection(&ctx, &body).await
        }
        _ => Err(ApiError::MethodNotAllowed(format!(
            "unsupported verb {verb}"
        ))),
    }
}

/// Who is calling: the client certificate of the connection, else a service-account bearer
/// token (the token itself is never logged).
async fn authenticate(
    state: &ApiState,
    peer: &PeerIdentity,
    headers: &HeaderMap,
) -> ApiResult<Identity> {
    if let Some(id) = &peer.0 {
        return Ok(id.clone());
    }
    let token = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let (Some(token), Some(keys)) = (token, &state.token_keys) {
        let now = jiff::Timestamp::now().as_second();
        if let Some((user, groups, _)) = crate::serviceaccount::authenticate(
            keys,
            state.store.as_ref(),
            token,
            &state.api_audiences,
            now,
        )
        .await
        {
            return Ok(Identity { user, groups });
        }
    }
    Err(ApiError::Unauthorized)
}

/// Act as another user when the caller asks with `Impersonate-User`/`Impersonate-Group`
/// headers and may `impersonate` them, as upstream does (e.g. `kubectl --as`).
fn impersonate(state: &ApiState, caller: Identity, headers: &HeaderMap) -> ApiResult<Identity> {
    let Some(user) = headers
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok())
        .filter(|u| !u.is_empty())
    else {
        if headers.contains_key("impersonate-group") {
            return Err(ApiError::BadRequest(
                "requested impersonation of groups without a user".into(),
            ));
        }
        return Ok(caller);
    };
    let allowed = |resource: &str, name: &str, ns: &str| {
        auth::check(
            state,
            &caller,
            &Attributes::resource("impersonate", "", resource, ns).with_name(name),
        )
        .is_ok()
    };
    let sa = user
        .strip_prefix("system:serviceaccount:")
        .and_then(|r| r.split_once(':'));
    let may = match sa {
        Some((ns, name)) => allowed("serviceaccounts", name, ns),
        None => allowed("users", user, ""),
    };
    if !may {
        return Err(ApiError::Forbidden {
            message: format!(
                "users \"{user}\" is forbidden: User \"{}\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope",
                caller.user
            ),
            kind: "users".into(),
            name: user.to_string(),
            group: String::new(),
        });
    }
    let mut groups: Vec<String> = Vec::new();
    for g in headers.get_all("impersonate-group") {
        let g = g
            .to_str()
            .map_err(|_| ApiError::BadRequest("Impersonate-Group is not valid text".into()))?;
        if !allowed("groups", g, "") {
            return Err(ApiError::Forbidden {
                message: format!(
                    "groups \"{g}\" is forbidden: User \"{}\" cannot impersonate resource \"groups\" in API group \"\" at the cluster scope",
                    caller.user
                ),
                kind: "groups".into(),
                name: g.to_string(),
                group: String::new(),
            });
        }
        groups.push(g.to_string());
    }
    if let Some((ns, _)) = sa {
        groups.push("system:serviceaccounts".into());
        groups.push(format!("system:serviceaccounts:{ns}"));
    }
    if user != "system:anonymous" && !groups.iter().any(|g| g == "system:authenticated") {
        groups.push("system:authenticated".into());
    }
    Ok(Identity {
        user: user.to_string(),
        groups,
    })
}

fn verb_for(method: &Method, target: &ApiTarget, query: &Query) -> ApiResult<&'static str> {
    let named = target.name.is_some();
    Ok(match (method.as_str(), named) {
        ("GET", true) if query.watch => "watch",
        ("GET", true) => "get",
        ("GET", false) if query.watch => "watch",
        ("GET", false) => "list",
        ("POST", false) => "create",
        // Subresources created on a named object: serviceaccounts/token, pods/eviction, ...
        ("POST", true) if target.subresource.is_some() => "create",
        ("PUT", true) => "update",
        ("PATCH", true) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        (m, _) => {
            return Err(ApiError::MethodNotAllowed(format!(
                "the server does not allow this method on the requested resource ({m})"
            )));
        }
    })
}

fn not_found_path() -> ApiError {
    ApiError::NotFound {
        message: "the server could not find the requested resource".into(),
        kind: String::new(),
        name: String::new(),
        group: String::new(),
    }
}

fn discovery_root(state: &ApiState, headers: &HeaderMap, legacy: bool) -> Response {
    let surface = state.surface();
    match negotiate::discovery_form(headers) {
        DiscoveryForm::AggregatedV2 => render::json_typed(
            StatusCode::OK,
            &discovery::aggregated(&surface.registry, legacy, "v2"),
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        ),
        DiscoveryForm::AggregatedV2Beta1 => render::json_typed(
            StatusCode::OK,
            &discovery::aggregated(&surface.registry, legacy, "v2beta1"),
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
        ),
        DiscoveryForm::Legacy if legacy => render::json(
            StatusCode::OK,
            &discovery::api_versions(&state.server_address),
        ),
        DiscoveryForm::Legacy => render::json(
            StatusCode::OK,
            &discovery::api_group_list(&surface.registry),
        ),
    }
}

async fn health(state: &ApiState, path: &str) -> ApiResult<Response> {
    // Ready means the datastore answers.
    let store_ok = state.store.current_revision().await.is_ok();
    let verbose = path.contains("verbose");
    let (code, text) = if store_ok {
        (
            StatusCode::OK,
            if verbose {
                "[+]ping ok\n[+]etcd ok\nhealthz check passed\n"
            } else {
                "ok"
            },
        )
    } else {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "[-]etcd failed: datastore unavailable\nhealthz check failed\n",
        )
    };
    Ok((
        code,
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response())
}

/// The version this server reports: Kubernetes 1.33 with an rk3s suffix.
pub fn version_info() -> Value {
    serde_json::json!({
        "major": "1",
        "minor": "33",
        "gitVersion": format!("v1.33.0+rk3s-{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": option_env!("RK3S_GIT_COMMIT").unwrap_or("unknown"),
        "gitTreeState": "clean",
        "buildDate": option_env!("RK3S_BUILD_DATE").unwrap_or("1970-01-01T00:00:00Z"),
        "goVersion": "go1.24.0",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, if std::env::consts::ARCH == "x86_64" { "amd64" } else if std::env::consts::ARCH == "aarch64" { "arm64" } else { std::env::consts::ARCH }),
    })
}

fn non_resource(state: &ApiState, parts: &http::request::Parts, path: &str) -> ApiResult<Response> {
    if parts.method != Method::GET {
        return Err(ApiError::MethodNotAllowed(format!(
            "{} is not allowed on {path}",
            parts.method
        )));
    }
    match path {
        "/version" | "/version/" => Ok(render::json(StatusCode::OK, &version_info())),
        "/metrics" => Ok((
            StatusCode::OK,
            [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            state.metrics.render(),
        )
            .into_response()),
        "/openapi/v3" | "/openapi/v3/" => Ok(render::bytes_typed(
            state.surface().openapi.index_json().to_vec(),
            "application/json",
        )),
        p if p.starts_with("/openapi/v3/") => {
            let surface = state.surface();
            let doc = surface
                .openapi
                .document_json(&p["/openapi/v3/".len()..])
                .ok_or_else(not_found_path)?;
            Ok(render::bytes_typed(doc.to_vec(), "application/json"))
        }
        _ => Err(not_found_path()),
    }
}

/// Parse a `resourceVersion` parameter: `None` for unset or "0" ("any").
pub(crate) fn parse_rv(rv: Option<&str>) -> ApiResult<Option<i64>> {
    match rv {
        None | Some("") | Some("0") => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "invalid resource version {s:?}: must be a positive integer"
                ))
            }),
    }
}

/// A handler's body text as JSON (for delete options and the like): empty means `{}`.
pub(crate) fn optional_json(headers: &HeaderMap, body: &[u8]) -> ApiResult<Value> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Value::Object(Default::default()));
    }
    let format = negotiate::body_format(headers)?;
    negotiate::decode_body(format, body)
}

/// The schema navigation of the target kind (empty for kinds without a typed schema).
pub(crate) fn schema_for(ctx: &Ctx<'_>) -> Arc<rk3s_core::patch::SchemaNav> {
    match ctx.target.rt.codec {
        Some(codec) => ctx.state.schema_nav(&codec),
        None => Arc::new(rk3s_core::patch::SchemaNav::default()),
    }
}

/// Record the fields this write changed in `metadata.managedFields` (operation Update).
pub(crate) fn track_fields(ctx: &Ctx<'_>, old: Option<&Value>, new: Value) -> Value {
    let nav = schema_for(ctx);
    let now = crate::objects::now_rfc3339();
    rk3s_core::apply::track_update(
        old,
        &new,
        &ctx.field_manager(),
        &ctx.target.rt.api_version(),
        &now,
        &nav,
    )
}

/// `componentstatuses` (deprecated upstream, still listed by discovery): the health of what
/// this server runs — today the datastore, under upstream's name for it.
async fn component_statuses(ctx: &Ctx<'_>, verb: &str) -> ApiResult<Response> {
    let healthy = ctx.state.store.current_revision().await.is_ok();
    let item = serde_json::json!({
        "kind": "ComponentStatus",
        "apiVersion": "v1",
        "metadata": {"name": "etcd-0"},
        "conditions": [{
            "type": "Healthy",
            "status": if healthy { "True" } else { "False" },
            "message": if healthy { "ok" } else { "datastore unavailable" },
        }],
    });
    let repr = negotiate::representation(ctx.headers)?;
    match (verb, ctx.target.name.as_deref()) {
        ("get", Some("etcd-0")) => Ok(render::object(
            StatusCode::OK,
            &ctx.target.rt,
            &item,
            repr,
            None,
        )),
        ("get", Some(other)) => Err(ApiError::not_found(&ctx.subject(other))),
        ("list", _) => Ok(render::list(
            &ctx.target.rt,
            vec![item],
            serde_json::json!({}),
            repr,
            ctx.query.include_object.as_deref(),
        )),
        _ => Err(ApiError::MethodNotAllowed(format!(
            "{verb} is not supported on componentstatuses"
        ))),
    }
}
