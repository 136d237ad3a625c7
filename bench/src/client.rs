//! A minimal HTTPS/1.1 client for the benchmark: one [`Connection`] is one TCP+TLS connection,
//! so "N concurrent clients" really means N sockets on the server.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("reading {path}")]
    ReadPem {
        path: String,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("building the tls configuration")]
    Tls(#[from] rustls::Error),
    #[error("connecting to the server")]
    Connect(#[source] std::io::Error),
    #[error("tls handshake")]
    Handshake(#[source] std::io::Error),
    #[error("http handshake")]
    HttpHandshake(#[source] hyper::Error),
    #[error("building the request")]
    Request(#[from] http::Error),
    #[error("sending the request")]
    Send(#[source] hyper::Error),
    #[error("reading the response body")]
    Body(#[source] hyper::Error),
}

/// Trust and identity for talking to one rk3s server.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ClientConfig>,
}

impl Tls {
    /// Trusts `server_ca` and, when given, presents `client_cert`/`client_key` (the admin identity).
    pub fn load(server_ca: &Path, identity: Option<(&Path, &Path)>) -> Result<Self, ClientError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(server_ca).map_err(|e| pem_error(server_ca, e))? {
            let cert = cert.map_err(|e| pem_error(server_ca, e))?;
            roots.add(cert)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let config = match identity {
            Some((cert_path, key_path)) => {
                let certs = CertificateDer::pem_file_iter(cert_path)
                    .map_err(|e| pem_error(cert_path, e))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| pem_error(cert_path, e))?;
                let key =
                    PrivateKeyDer::from_pem_file(key_path).map_err(|e| pem_error(key_path, e))?;
                builder.with_client_auth_cert(certs, key)?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(Tls {
            config: Arc::new(config),
        })
    }
}

fn pem_error(path: &Path, source: rustls::pki_types::pem::Error) -> ClientError {
    ClientError::ReadPem {
        path: path.display().to_string(),
        source,
    }
}

/// One HTTP/1.1 connection; requests on it are sequential.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

/// A complete response.
pub struct Response {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Connection {
    pub async fn open(port: u16, tls: &Tls) -> Result<Self, ClientError> {
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(ClientError::Connect)?;
        // Small requests would otherwise wait on Nagle and skew latency figures.
        tcp.set_nodelay(true).map_err(ClientError::Connect)?;
        let name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
        let stream = TlsConnector::from(tls.config.clone())
            .connect(name, tcp)
            .await
            .map_err(ClientError::Handshake)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(ClientError::HttpHandshake)?;
        // The task ends by itself when the sender is dropped or the server closes.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Connection { sender })
    }

    /// Sends a request and returns the response head, leaving the body to stream.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Bytes,
    ) -> Result<http::Response<Incoming>, ClientError> {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, "127.0.0.1")
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Full::new(body))?;
        self.sender.ready().await.map_err(ClientError::Send)?;
        self.sender
            .send_request(req)
            .await
            .map_err(ClientError::Send)
    }

    /// Sends a request and reads the whole response body.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Bytes,
    ) -> Result<Response, ClientError> {
        let resp = self.send(method, path, content_type, body).await?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(ClientError::Body)?
            .to_bytes();
        Ok(Response { status, body })
    }

    pub async fn get(&mut self, path: &str) -> Result<Response, ClientError> {
        self.call(Method::GET, path, "application/json", Bytes::new())
            .await
    }

    pub async fn post_json(&mut self, path: &str, body: Bytes) -> Result<Response, ClientError> {
        self.call(Method::POST, path, "application/json", body)
            .await
    }
}
