//! The service-account signing key: an ECDSA P-256 key pair kept as PEM files in the TLS
//! directory (`service.key`, `service.pub`), created once and reused across restarts so tokens
//! issued before a restart stay valid.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use serde_json::{Value, json};

use super::ServiceAccountError;

/// The issuer upstream clusters (kubeadm, k3s) use unless told otherwise.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

pub const PRIVATE_KEY_FILE: &str = "service.key";
pub const PUBLIC_KEY_FILE: &str = "service.pub";

/// DER of `SubjectPublicKeyInfo { id-ecPublicKey, prime256v1 }` up to the BIT STRING's
/// contents; the 65-byte uncompressed point follows.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The signing key, the issuer written into tokens and the issuers accepted back.
pub struct TokenKeys {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    public_spki: Vec<u8>,
    kid: String,
    issuer: String,
    accepted_issuers: Vec<String>,
}

// By hand so the private key can never reach a log line.
impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    /// Loads `<tls_dir>/service.key`, or creates it (mode 0600, written to a temporary file
    /// then renamed so a crash never leaves half a key). `service.pub` is (re)written from the
    /// private key whenever it is missing or differs. A present but unreadable key is an error,
    /// never replaced: replacing it would silently invalidate every token in the cluster.
    pub fn load_or_create(tls_dir: &Path) -> Result<TokenKeys, ServiceAccountError> {
        fs::create_dir_all(tls_dir).map_err(|source| ServiceAccountError::WriteKeyFailed {
            path: tls_dir.to_path_buf(),
            source,
        })?;
        let key_path = tls_dir.join(PRIVATE_KEY_FILE);
        let keys = match fs::read_to_string(&key_path) {
            Ok(pem) => {
                let der = pem_decode(&pem, "PRIVATE KEY").ok_or_else(|| {
                    ServiceAccountError::BadPrivateKey {
                        path: key_path.clone(),
                    }
                })?;
                let keys = TokenKeys::from_pkcs8(&der).map_err(|_| {
                    ServiceAccountError::BadPrivateKey {
                        path: key_path.clone(),
                    }
                })?;
                tighten_mode(&key_path)?;
                keys
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let rng = SystemRandom::new();
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| ServiceAccountError::KeyGenerationFailed)?;
                write_atomically(
                    &key_path,
                    pem_encode(pkcs8.as_ref(), "PRIVATE KEY").as_bytes(),
                    0o600,
                )?;
                TokenKeys::from_pkcs8(pkcs8.as_ref())?
            }
            Err(source) => {
                return Err(ServiceAccountError::ReadKeyFailed {
                    path: key_path,
                    source,
                });
            }
        };
        let pub_path = tls_dir.join(PUBLIC_KEY_FILE);
        let pub_pem = keys.public_key_pem();
        if fs::read_to_string(&pub_path).ok().as_deref() != Some(pub_pem.as_str()) {
            write_atomically(&pub_path, pub_pem.as_bytes(), 0o644)?;
        }
        Ok(keys)
    }

    /// A key pair from PKCS#8 DER (P-256, with the public key embedded, as ring and OpenSSL
    /// write it), issuing as [`DEFAULT_ISSUER`].
    pub fn from_pkcs8(der: &[u8]) -> Result<TokenKeys, ServiceAccountError> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng).map_err(
            |_| ServiceAccountError::BadPrivateKey {
                path: PathBuf::new(),
            },
        )?;
        let mut public_spki = P256_SPKI_PREFIX.to_vec();
        public_spki.extend_from_slice(pair.public_key().as_ref());
        let kid = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, &public_spki));
        Ok(TokenKeys {
            pair,
            rng,
            public_spki,
            kid,
            issuer: DEFAULT_ISSUER.to_string(),
            accepted_issuers: vec![DEFAULT_ISSUER.to_string()],
        })
    }

    /// Issue as `issuer` and accept it (like `--service-account-issuer`; earlier issuers
    /// passed here stay accepted, so an issuer can be changed without breaking live tokens).
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> TokenKeys {
        let issuer = issuer.into();
        if !self.accepted_issuers.contains(&issuer) {
            self.accepted_issuers.push(issuer.clone());
        }
        self.issuer = issuer;
        self
    }

    /// Accept exactly these issuers; the first one is used to issue (as upstream does with a
    /// repeated `--service-account-issuer`). An empty list changes nothing.
    pub fn with_issuers(mut self, issuers: &[String]) -> TokenKeys {
        if let Some(first) = issuers.first() {
            self.issuer = first.clone();
            self.accepted_issuers = issuers.to_vec();
        }
        self
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn accepts_issuer(&self, iss: &str) -> bool {
        self.accepted_issuers.iter().any(|i| i == iss)
    }

    /// The `kid` header: base64url (no padding) of the SHA-256 of the DER public key.
    pub fn key_id(&self) -> &str {
        &self.kid
    }

    /// DER `SubjectPublicKeyInfo`.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_spki
    }

    pub fn public_key_pem(&self) -> String {
        pem_encode(&self.public_spki, "PUBLIC KEY")
    }

    /// The JWK Set served at `/openid/v1/jwks`, so relying parties can check tokens offline.
    pub fn jwks(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        // The uncompressed point is 0x04 || x || y, 32 bytes each.
        let x = point.get(1..33).unwrap_or_default();
        let y = point.get(33..65).unwrap_or_default();
        json!({"keys": [{
            "use": "sig",
            "kty": "EC",
            "kid": self.kid,
            "crv": "P-256",
            "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
        }]})
    }

    /// The raw r||s ES256 signature of `msg`.
    pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ServiceAccountError> {
        let sig = self
            .pair
            .sign(&self.rng, msg)
            .map_err(|_| ServiceAccountError::SigningFailed)?;
        Ok(sig.as_ref().to_vec())
    }

    pub(crate) fn verify_signature(
        &self,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), ServiceAccountError> {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.pair.public_key().as_ref())
            .verify(msg, sig)
            .map_err(|_| ServiceAccountError::BadSignature)
    }
}

pub(crate) fn pem_encode(der: &[u8], label: &str) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER inside the first `label` block of `pem`.
pub(crate) fn pem_decode(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let body: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD.decode(body).ok()
}

fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ServiceAccountError> {
    let failed = |source| ServiceAccountError::WriteKeyFailed {
        path: path.to_path_buf(),
        source,
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    // A leftover from a crash would make create_new fail; it holds nothing worth keeping.
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(failed)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(failed(e));
    }
    if let Some(dir) = path.parent()
        && let Ok(d) = fs::File::open(dir)
    {
        // Make the rename itself durable; failure here leaves a valid key either way.
        let _ = d.sync_all();
    }
    Ok(())
}

/// A key readable by others is repaired rather than refused: the cluster keeps working and
/// the exposure ends.
fn tighten_mode(path: &Path) -> Result<(), ServiceAccountError> {
    let meta = fs::metadata(path).map_err(|source| ServiceAccountError::ReadKeyFailed {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(|source| {
            ServiceAccountError::WriteKeyFailed {
                path: path.to_path_buf(),
                source,
            }
        })?;
    }
    Ok(())
}
