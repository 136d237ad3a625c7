//! An in-process kube-rs client for the components the server runs (controllers, scheduler):
//! requests go straight to the API handlers — no socket, no TLS — yet pass authentication,
//! authorization and admission like any client's. Entry point: [`client`].

use std::sync::Arc;

use rk3s_apiserver::ApiState;
use rk3s_apiserver::auth::{Identity, PeerIdentity};

/// A client acting as `identity` against `state`.
pub fn client(state: Arc<ApiState>, identity: Identity) -> kube::Client {
    let svc = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let state = state.clone();
        let peer = PeerIdentity(Some(identity.clone()));
        async move {
            let req = req.map(axum::body::Body::new);
            let resp = rk3s_apiserver::handlers::handle(state, peer, req).await;
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    kube::Client::new(svc, "default")
}
