//! The error type shared by every PKI operation; variants name the step that failed.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot read {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot create directory {}", .path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a usable certificate: {reason}", .path.display())]
    BadCertificate { path: PathBuf, reason: String },
    #[error("{} is not a usable private key: {reason}", .path.display())]
    BadKey { path: PathBuf, reason: String },
    #[error("private key {} does not belong to certificate {}", .key_path.display(), .cert_path.display())]
    KeyMismatch {
        cert_path: PathBuf,
        key_path: PathBuf,
    },
    #[error("certificate {} exists but its private key {} is missing", .cert_path.display(), .key_path.display())]
    MissingKey {
        cert_path: PathBuf,
        key_path: PathBuf,
    },
    #[error("invalid subject alternative name {value:?}: {reason}")]
    InvalidSan { value: String, reason: &'static str },
    #[error("invalid certificate subject name {value:?}: {reason}")]
    InvalidSubject { value: String, reason: &'static str },
    #[error("certificate generation failed")]
    Generate(#[source] rcgen::Error),
    #[error("cannot parse certificate: {0}")]
    ParseCertificate(String),
    #[error("client certificate has no usable common name")]
    MissingCommonName,
    #[error("malformed token: {0}")]
    MalformedToken(&'static str),
    #[error("token in {} is malformed: {reason}", .path.display())]
    MalformedStoredToken { path: PathBuf, reason: &'static str },
    #[error("token CA hash {given} does not match this server's CA certificate hash {expected}")]
    TokenCaMismatch { given: String, expected: String },
    #[error("server token must use the username \"server\", not {0:?}")]
    TokenWrongUser(String),
    #[error("invalid kubeconfig input: {0}")]
    InvalidKubeconfigInput(&'static str),
}

impl From<rcgen::Error> for PkiError {
    fn from(e: rcgen::Error) -> Self {
        PkiError::Generate(e)
    }
}
