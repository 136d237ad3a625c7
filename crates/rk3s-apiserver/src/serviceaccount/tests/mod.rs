//! Tests of service-account identity: keys on disk, tokens, interop with OpenSSL, store-backed
//! authentication and the API objects.

mod api;
mod interop;
mod keys;
mod legacy;
mod store;
mod tokens;

use std::path::Path;

use super::*;

pub(super) const NOW: i64 = 1_780_000_000;

pub(super) fn keys_in(dir: &Path) -> TokenKeys {
    TokenKeys::load_or_create(dir).unwrap()
}

pub(super) fn request(ns: &str, sa: &str, uid: &str) -> IssueRequest {
    IssueRequest {
        namespace: ns.into(),
        sa_name: sa.into(),
        sa_uid: uid.into(),
        audiences: vec![],
        expiration_seconds: 0,
        bound: None,
    }
}

pub(super) fn b64url(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}
