//! JWS compact serialization (RFC 7515) for ES256: `b64url(header).b64url(payload).b64url(r||s)`.
//!
//! Pure: splitting and joining only. Signing and signature checks live in [`super::keys`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::ServiceAccountError;

/// Our tokens are well under 2 KiB; anything past this is refused before any decoding work.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The only algorithm issued and accepted: accepting others (`none`, HS256) is how JWT
/// verifiers get fooled.
pub const ALG: &str = "ES256";

/// An ES256 signature is r||s, 32 bytes each.
pub const SIGNATURE_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Extensions the verifier must understand; we understand none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crit: Option<serde_json::Value>,
}

/// A token taken apart, nothing verified yet.
#[derive(Debug)]
pub struct Parts<'a> {
    /// `header.payload` exactly as received: the bytes the signature covers.
    pub signing_input: &'a str,
    pub header: Header,
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

pub fn encode_part(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Padding and non-canonical trailing bits are refused, so one token has one spelling.
pub fn decode_part(part: &str) -> Result<Vec<u8>, ServiceAccountError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| ServiceAccountError::Malformed("a part is not unpadded base64url"))
}

/// `b64url(header).b64url(payload)`, the input to the signature.
pub fn signing_input(header: &Header, payload: &[u8]) -> Result<String, ServiceAccountError> {
    let header = serde_json::to_vec(header).map_err(|_| ServiceAccountError::SigningFailed)?;
    Ok(format!("{}.{}", encode_part(&header), encode_part(payload)))
}

pub fn join(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", encode_part(signature))
}

pub fn split(token: &str) -> Result<Parts<'_>, ServiceAccountError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(ServiceAccountError::Malformed("token is too long"));
    }
    let (signing_input, signature) =
        token
            .rsplit_once('.')
            .ok_or(ServiceAccountError::Malformed(
                "not a JWS compact serialization",
            ))?;
    let (header, payload) = signing_input
        .split_once('.')
        .ok_or(ServiceAccountError::Malformed(
            "not a JWS compact serialization",
        ))?;
    if payload.contains('.') {
        return Err(ServiceAccountError::Malformed(
            "not a JWS compact serialization",
        ));
    }
    let header: Header = serde_json::from_slice(&decode_part(header)?)
        .map_err(|_| ServiceAccountError::Malformed("header is not a JOSE header"))?;
    if header.alg != ALG {
        return Err(ServiceAccountError::Malformed(
            "unsupported signing algorithm",
        ));
    }
    if header.crit.is_some() {
        return Err(ServiceAccountError::Malformed(
            "critical header extensions are not supported",
        ));
    }
    let signature = decode_part(signature)?;
    if signature.len() != SIGNATURE_LEN {
        return Err(ServiceAccountError::Malformed(
            "signature has the wrong length",
        ));
    }
    Ok(Parts {
        signing_input,
        header,
        payload: decode_part(payload)?,
        signature,
    })
}
