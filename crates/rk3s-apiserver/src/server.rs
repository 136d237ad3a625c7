//! The HTTPS listener: TLS with optional client certificates, HTTP/1.1 and HTTP/2 on one port,
//! and the peer's identity handed to every request of the connection.
//! Entry point: [`serve`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::auth::{Identity, PeerIdentity};
use crate::handlers;
use crate::state::ApiState;

/// TLS material of the API server, as PEM.
#[derive(Clone)]
pub struct TlsMaterial {
    pub serving_cert: String,
    pub serving_key: String,
    /// Client certificates signed by this CA authenticate.
    pub client_ca: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid TLS material: {0}")]
    Tls(String),
    #[error("accepting connections failed")]
    Accept(#[source] std::io::Error),
}

/// Build the rustls configuration: our serving cert, client certs optional but verified
/// against the client CA when presented, ALPN h2 and http/1.1.
pub fn tls_config(tls: &TlsMaterial) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(tls.serving_cert.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| ServerError::Tls(format!("serving certificate: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(tls.serving_key.as_bytes())
        .map_err(|e| ServerError::Tls(format!("serving key: {e}")))?;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(tls.client_ca.as_bytes()) {
        let c = c.map_err(|e| ServerError::Tls(format!("client CA: {e}")))?;
        roots
            .add(c)
            .map_err(|e| ServerError::Tls(format!("client CA: {e}")))?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .map_err(|e| ServerError::Tls(format!("client verifier: {e}")))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| ServerError::Tls(format!("serving certificate and key: {e}")))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Accept connections until `shutdown` fires; each connection is served on its own task.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: Arc<ApiState>,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let (tcp, peer_addr) = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Running out of file descriptors is transient; back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let state = state.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(peer = %peer_addr, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            let identity = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| Identity::from_cert(c));
            serve_connection(tls, peer_addr, PeerIdentity(identity), state, shutdown).await;
        });
    }
}

async fn serve_connection<S>(
    io: S,
    peer_addr: SocketAddr,
    peer: PeerIdentity,
    state: Arc<ApiState>,
    shutdown: CancellationToken,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let state = state.clone();
        let peer = peer.clone();
        async move {
            let req = req.map(Body::new);
            Ok::<_, std::convert::Infallible>(handlers::handle(state, peer, req).await)
        }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), svc);
    tokio::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                tracing::debug!(peer = %peer_addr, error = %e, "connection ended with an error");
            }
        }
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        }
    }
}
