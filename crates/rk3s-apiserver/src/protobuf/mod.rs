//! Decoding of Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) into
//! the JSON form the API uses; the entry point is [`decode`].
//!
//! A body is the magic `k8s\0` followed by a `runtime.Unknown` envelope whose TypeMeta names the
//! kind and whose `raw` field holds the object message. The object is converted by walking
//! generated field tables (see `schema.rs`), so every built-in kind is covered and a field the
//! tables do not know is an error rather than silently lost.

mod convert;
mod envelope;
mod schema;
mod special;
mod wire;

use serde_json::{Map, Value};

pub use wire::WireError;

/// The four bytes that start every Kubernetes protobuf body.
pub const MAGIC: &[u8] = b"k8s\0";

/// The media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    #[error("body does not start with the kubernetes protobuf magic bytes")]
    MissingMagic,
    #[error("malformed runtime.Unknown envelope")]
    MalformedEnvelope(#[source] WireError),
    #[error("unsupported envelope content encoding {0:?}")]
    UnsupportedEncoding(String),
    #[error("unsupported envelope content type {0:?}")]
    UnsupportedContentType(String),
    #[error("no protobuf schema for apiVersion {api_version:?} kind {kind:?}")]
    UnsupportedKind { api_version: String, kind: String },
    #[error("malformed {message} message at {path:?}")]
    MalformedObject {
        message: &'static str,
        /// JSON path of the offending field, empty for the object itself.
        path: String,
        #[source]
        source: WireError,
    },
}

/// Decodes a protobuf request body into the object's JSON form, with `apiVersion` and `kind`.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    decode_nested(body, 0)
}

/// `decode` for a body found `depth` messages deep (inside a `RawExtension`).
fn decode_nested(body: &[u8], depth: usize) -> Result<Value, ProtobufError> {
    let payload = body
        .strip_prefix(MAGIC)
        .ok_or(ProtobufError::MissingMagic)?;
    let unknown = envelope::parse(payload).map_err(ProtobufError::MalformedEnvelope)?;
    if !unknown.content_encoding.is_empty() {
        return Err(ProtobufError::UnsupportedEncoding(
            unknown.content_encoding.to_owned(),
        ));
    }
    if !unknown.content_type.is_empty() && unknown.content_type != CONTENT_TYPE {
        return Err(ProtobufError::UnsupportedContentType(
            unknown.content_type.to_owned(),
        ));
    }
    let Some(message) = schema::lookup_kind(unknown.api_version, unknown.kind) else {
        return Err(ProtobufError::UnsupportedKind {
            api_version: unknown.api_version.to_owned(),
            kind: unknown.kind.to_owned(),
        });
    };
    let fields = match convert::message(message, unknown.raw, depth) {
        Ok(Value::Object(fields)) => fields,
        Ok(_) => Map::new(),
        Err(fault) => {
            return Err(ProtobufError::MalformedObject {
                message: message.name,
                path: fault.path(),
                source: fault.source,
            });
        }
    };
    let mut object = Map::new();
    object.insert(
        "apiVersion".to_owned(),
        Value::String(unknown.api_version.to_owned()),
    );
    object.insert("kind".to_owned(), Value::String(unknown.kind.to_owned()));
    object.extend(fields);
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests;
