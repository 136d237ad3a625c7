//! The join token in k3s's secure format `K10<sha256 of the CA PEM>::<user>:<secret>`:
//! [`ensure_token`] keeps the server's token file, [`parse_token`] splits any accepted form.

use std::fmt;
use std::path::Path;

use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::error::PkiError;
use crate::files::{PRIVATE_FILE_MODE, ensure_parent_dir, read_optional, write_atomic};

const PREFIX: &str = "K10";
/// The username of the server token; joining servers authenticate with it.
pub const SERVER_USER: &str = "server";
/// The username a bare secret implies when used to join, as in k3s.
pub const DEFAULT_JOIN_USER: &str = "node";

/// A token split into its parts. `ca_hash` is the lowercase hex SHA-256 of the CA bundle, absent
/// for bare secrets (which then cannot pin the CA).
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedToken {
    pub ca_hash: Option<String>,
    pub username: String,
    pub secret: String,
}

impl fmt::Debug for ParsedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedToken")
            .field("ca_hash", &self.ca_hash)
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl ParsedToken {
    /// The token in full secure form; `None` when there is no CA hash to put in it.
    pub fn to_full(&self) -> Option<String> {
        let hash = self.ca_hash.as_ref()?;
        Some(format!("{PREFIX}{hash}::{}:{}", self.username, self.secret))
    }
}

/// Lowercase hex SHA-256 of the CA bundle bytes, the pin carried in a secure token.
pub fn ca_hash(ca_pem: &str) -> String {
    hex::encode(Sha256::digest(ca_pem.as_bytes()))
}

/// Parses `K10<hash>::<user>:<secret>` (the hash may be empty) or a bare secret, which implies
/// the user `node` as in k3s. Surrounding whitespace is ignored; whitespace or control characters
/// inside are rejected, since tokens travel in headers and files.
pub fn parse_token(s: &str) -> Result<ParsedToken, PkiError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(PkiError::MalformedToken("empty"));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(PkiError::MalformedToken(
            "contains whitespace or control characters",
        ));
    }
    if !is_secure_form(s) {
        return Ok(ParsedToken {
            ca_hash: None,
            username: DEFAULT_JOIN_USER.to_string(),
            secret: s.to_string(),
        });
    }
    let (hash, creds) = s
        .strip_prefix(PREFIX)
        .unwrap_or(s)
        .split_once("::")
        .ok_or(PkiError::MalformedToken("missing '::'"))?;
    let ca_hash = if hash.is_empty() {
        None
    } else if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        Some(hash.to_ascii_lowercase())
    } else {
        return Err(PkiError::MalformedToken(
            "CA hash is not 64 hexadecimal digits",
        ));
    };
    let (username, secret) = creds.split_once(':').ok_or(PkiError::MalformedToken(
        "missing ':' between user and secret",
    ))?;
    if username.is_empty() {
        return Err(PkiError::MalformedToken("empty username"));
    }
    if secret.is_empty() {
        return Err(PkiError::MalformedToken("empty secret"));
    }
    Ok(ParsedToken {
        ca_hash,
        username: username.to_string(),
        secret: secret.to_string(),
    })
}

/// Keeps the server token at `path` (mode 0600) and returns it in full form.
///
/// `given` (from `--token`) wins over the stored token and replaces it; it may be a bare secret
/// or a full token, whose CA hash must match `server_ca_pem`. Without `given` the stored token is
/// reused, or a random one created. A stored token whose hash no longer matches the CA keeps its
/// secret and gets the current hash, since the secret is the credential and the hash only a pin.
pub fn ensure_token(
    path: &Path,
    given: Option<&str>,
    server_ca_pem: &str,
) -> Result<String, PkiError> {
    let hash = ca_hash(server_ca_pem);
    let stored = read_optional(path)?;
    let secret = match given {
        Some(g) => secret_from_given(g, &hash)?,
        None => match &stored {
            Some(s) => {
                let parsed = parse_token(s).map_err(|e| PkiError::MalformedStoredToken {
                    path: path.to_path_buf(),
                    reason: match e {
                        PkiError::MalformedToken(r) => r,
                        _ => "unreadable",
                    },
                })?;
                if parsed.ca_hash.as_deref().is_some_and(|h| h != hash) {
                    warn!(file = %path.display(), "stored token pins another CA; updating its CA hash");
                }
                parsed.secret
            }
            None => hex::encode(rand::random::<[u8; 16]>()),
        },
    };
    let full = format!("{PREFIX}{hash}::{SERVER_USER}:{secret}");
    if stored.as_deref().map(str::trim) != Some(full.as_str()) {
        ensure_parent_dir(path)?;
        write_atomic(path, format!("{full}\n").as_bytes(), PRIVATE_FILE_MODE)?;
        info!(file = %path.display(), "wrote server token");
    }
    Ok(full)
}

fn secret_from_given(given: &str, hash: &str) -> Result<String, PkiError> {
    let parsed = parse_token(given)?;
    if let Some(h) = &parsed.ca_hash
        && h != hash
    {
        return Err(PkiError::TokenCaMismatch {
            given: h.clone(),
            expected: hash.to_string(),
        });
    }
    // A bare secret names no user; a token that does must name the server's.
    if is_secure_form(given) && parsed.username != SERVER_USER {
        return Err(PkiError::TokenWrongUser(parsed.username));
    }
    Ok(parsed.secret)
}

fn is_secure_form(s: &str) -> bool {
    s.trim()
        .strip_prefix(PREFIX)
        .is_some_and(|rest| rest.contains("::"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n";

    #[test]
    fn created_token_has_secure_format_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server").join("token");
        let token = ensure_token(&path, None, CA).unwrap();
        let hash = ca_hash(CA);
        assert!(token.starts_with(&format!("K10{hash}::server:")), "{token}");
        assert_eq!(fs::read_to_string(&path).unwrap().trim(), token);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let parsed = parse_token(&token).unwrap();
        assert_eq!(parsed.ca_hash.as_deref(), Some(hash.as_str()));
        assert_eq!(parsed.username, "server");
        assert_eq!(parsed.secret.len(), 32);
        assert_eq!(parsed.to_full().as_deref(), Some(token.as_str()));
    }

    #[test]
    fn stored_token_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let first = ensure_token(&path, None, CA).unwrap();
        assert_eq!(ensure_token(&path, None, CA).unwrap(), first);
    }

    #[test]
    fn given_bare_secret_is_wrapped_and_replaces_stored_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        ensure_token(&path, None, CA).unwrap();
        let token = ensure_token(&path, Some("mysecret\n"), CA).unwrap();
        assert_eq!(token, format!("K10{}::server:mysecret", ca_hash(CA)));
        assert_eq!(fs::read_to_string(&path).unwrap().trim(), token);
        assert_eq!(ensure_token(&path, None, CA).unwrap(), token);
    }

    #[test]
    fn given_full_token_with_matching_hash_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let full = format!("K10{}::server:abc", ca_hash(CA).to_uppercase());
        let token = ensure_token(&dir.path().join("t"), Some(&full), CA).unwrap();
        assert_eq!(token, format!("K10{}::server:abc", ca_hash(CA)));
    }

    #[test]
    fn given_full_token_with_wrong_ca_hash_is_rejected_and_nothing_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        let other = ca_hash("another CA");
        let err = ensure_token(&path, Some(&format!("K10{other}::server:abc")), CA).unwrap_err();
        assert!(matches!(err, PkiError::TokenCaMismatch { .. }), "{err}");
        assert!(!path.exists());
    }

    #[test]
    fn given_full_token_for_another_user_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let t = format!("K10{}::node:abc", ca_hash(CA));
        let err = ensure_token(&dir.path().join("t"), Some(&t), CA).unwrap_err();
        assert!(
            matches!(err, PkiError::TokenWrongUser(ref u) if u == "node"),
            "{err}"
        );
    }

    #[test]
    fn stored_token_pinning_an_old_ca_gets_the_new_hash_and_keeps_its_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        ensure_token(&path, Some("keepme"), "old CA").unwrap();
        let token = ensure_token(&path, None, CA).unwrap();
        assert_eq!(token, format!("K10{}::server:keepme", ca_hash(CA)));
    }

    #[test]
    fn corrupt_stored_token_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        fs::write(&path, "K10zz::server:x").unwrap();
        let err = ensure_token(&path, None, CA).unwrap_err();
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        // A given token still wins over the damaged file.
        assert!(ensure_token(&path, Some("fresh"), CA).is_ok());
    }

    #[test]
    fn bare_secret_parses_as_node_user_without_pin() {
        let p = parse_token("  s3cr3t:with:colons \n").unwrap();
        assert_eq!(p.ca_hash, None);
        assert_eq!(p.username, "node");
        assert_eq!(p.secret, "s3cr3t:with:colons");
        assert_eq!(p.to_full(), None);
    }

    #[test]
    fn full_token_without_hash_parses() {
        let p = parse_token("K10::server:abc").unwrap();
        assert_eq!(
            (p.ca_hash, p.username.as_str(), p.secret.as_str()),
            (None, "server", "abc")
        );
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        let hash = ca_hash(CA);
        for bad in [
            String::new(),
            "   ".into(),
            "has space".into(),
            "tab\tinside".into(),
            "nul\0".into(),
            "K10abc::server:x".into(),
            format!("K10{hash}::server:"),
            format!("K10{hash}:::x"),
            format!("K10{hash}::serveronly"),
            format!("K10{}g::server:x", &hash[..63]),
        ] {
            assert!(parse_token(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let p = parse_token("K10::server:topsecret").unwrap();
        assert!(!format!("{p:?}").contains("topsecret"));
    }
}
