//! rk3s PKI: the server's CAs and certificates, the join token and kubeconfig files.
//!
//! Entry points: [`ensure_server_pki`] at server start, [`ensure_token`] for the join token,
//! [`write_kubeconfig`] for admin kubeconfigs, [`issue_client_cert`] for node credentials and
//! [`identity_from_cert_der`] for authenticating a verified client certificate.

pub mod certs;
pub mod error;
pub mod files;
pub mod identity;
pub mod kubeconfig;
pub mod sans;
pub mod server;
pub mod token;

pub use error::PkiError;
pub use identity::{CertIdentity, identity_from_cert_der};
pub use kubeconfig::{render_kubeconfig, write_kubeconfig};
pub use sans::San;
pub use server::{ServerPki, ensure_server_pki, ensure_server_pki_at, issue_client_cert};
pub use token::{ParsedToken, ca_hash, ensure_token, parse_token};
