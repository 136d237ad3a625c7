//! Content negotiation: what the client accepts (JSON, Table, PartialObjectMetadata, aggregated
//! discovery) and decoding request bodies (JSON, YAML, protobuf) into JSON values.

use http::HeaderMap;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// Upstream's limit on request bodies (3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// The representation the client asked for in `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// The object or list itself.
    Object,
    /// `meta.k8s.io` `Table` (v1 or v1beta1).
    Table { v1beta1: bool },
    /// `PartialObjectMetadata` / `PartialObjectMetadataList`.
    PartialMetadata { v1beta1: bool },
}

/// One media range of an Accept header: `type/subtype;k=v;...`.
#[derive(Debug, Clone, Default)]
struct MediaRange {
    mime: String,
    params: Vec<(String, String)>,
}

impl MediaRange {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn parse_accept(headers: &HeaderMap) -> Vec<MediaRange> {
    let mut out = Vec::new();
    for value in headers.get_all(http::header::ACCEPT) {
        let Ok(s) = value.to_str() else { continue };
        for part in s.split(',') {
            let mut pieces = part.split(';');
            let mime = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            if mime.is_empty() {
                continue;
            }
            let params = pieces
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
                })
                .collect();
            out.push(MediaRange { mime, params });
        }
    }
    out
}

fn accepts_json_mime(mime: &str) -> bool {
    matches!(mime, "application/json" | "*/*" | "application/*")
}

/// Choose the representation for a resource response. kubectl lists Table first, then plain
/// JSON; a client that accepts only protobuf gets 406 (we reply in JSON only).
pub fn representation(headers: &HeaderMap) -> ApiResult<Representation> {
    let ranges = parse_accept(headers);
    if ranges.is_empty() {
        return Ok(Representation::Object);
    }
    for r in &ranges {
        if r.mime != "application/json" {
            if accepts_json_mime(&r.mime) || r.mime == "application/yaml" {
                return Ok(Representation::Object);
            }
            continue;
        }
        match (r.param("as"), r.param("g"), r.param("v")) {
            (None, _, _) => return Ok(Representation::Object),
            (Some("Table"), Some("meta.k8s.io"), Some(v @ ("v1" | "v1beta1"))) => {
                return Ok(Representation::Table {
                    v1beta1: v == "v1beta1",
                });
            }
            (
                Some("PartialObjectMetadata" | "PartialObjectMetadataList"),
                Some("meta.k8s.io"),
                Some(v @ ("v1" | "v1beta1")),
            ) => {
                return Ok(Representation::PartialMetadata {
                    v1beta1: v == "v1beta1",
                });
            }
            _ => continue,
        }
    }
    Err(ApiError::NotAcceptable(
        "only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io".into(),
    ))
}

/// Which discovery document form the client accepts, in its order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryForm {
    AggregatedV2,
    AggregatedV2Beta1,
    Legacy,
}

/// kubectl 1.27–1.29 ask only for v2beta1 and break on v2, so serve exactly what is asked.
pub fn discovery_form(headers: &HeaderMap) -> DiscoveryForm {
    for r in parse_accept(headers) {
        if r.mime == "application/json"
            && r.param("g") == Some("apidiscovery.k8s.io")
            && r.param("as") == Some("APIGroupDiscoveryList")
        {
            match r.param("v") {
                Some("v2") => return DiscoveryForm::AggregatedV2,
                Some("v2beta1") => return DiscoveryForm::AggregatedV2Beta1,
                _ => continue,
            }
        }
        if accepts_json_mime(&r.mime) && r.param("as").is_none() {
            return DiscoveryForm::Legacy;
        }
    }
    DiscoveryForm::Legacy
}

/// The media type of a request body, reduced to what we decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    Yaml,
    Protobuf,
}

pub fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| {
            s.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// The body format for create/update requests (patches pick their own by patch type).
pub fn body_format(headers: &HeaderMap) -> ApiResult<BodyFormat> {
    match content_type(headers).as_deref() {
        None | Some("") | Some("application/json") => Ok(BodyFormat::Json),
        Some("application/yaml") | Some("application/x-yaml") | Some("text/yaml") => {
            Ok(BodyFormat::Yaml)
        }
        Some(PROTOBUF) => Ok(BodyFormat::Protobuf),
        Some(other) => Err(ApiError::UnsupportedMediaType(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {other:?})"
        ))),
    }
}

/// Decode a request body into a JSON value.
pub fn decode_body(format: BodyFormat, body: &[u8]) -> ApiResult<Value> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::TooLarge(
            "Request entity too large: limit is 3145728".into(),
        ));
    }
    match format {
        BodyFormat::Json => serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("the request body is not valid JSON: {e}"))),
        BodyFormat::Yaml => {
            let text = std::str::from_utf8(body).map_err(|_| {
                ApiError::BadRequest("the request body is not valid UTF-8 YAML".into())
            })?;
            yaml_to_json(text)
        }
        BodyFormat::Protobuf => crate::protobuf::decode(body).map_err(|e| {
            ApiError::BadRequest(format!(
                "the request body is not a valid Kubernetes protobuf message: {e}"
            ))
        }),
    }
}

/// Parse one YAML document into JSON (`application/yaml` bodies and apply patches).
pub fn yaml_to_json(text: &str) -> ApiResult<Value> {
    serde_saphyr::from_str::<Value>(text)
        .map_err(|e| ApiError::BadRequest(format!("the request body is not valid YAML: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn accept(s: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::ACCEPT, HeaderValue::from_str(s).unwrap());
        h
    }

    #[test]
    fn kubectl_get_accept_chooses_table_v1() {
        let h = accept(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
        );
        assert_eq!(
            representation(&h).unwrap(),
            Representation::Table { v1beta1: false }
        );
    }

    #[test]
    fn protobuf_only_accept_is_not_acceptable() {
        let h = accept("application/vnd.kubernetes.protobuf");
        assert!(matches!(
            representation(&h),
            Err(ApiError::NotAcceptable(_))
        ));
    }

    #[test]
    fn protobuf_then_json_accept_gets_json() {
        let h = accept("application/vnd.kubernetes.protobuf,application/json");
        assert_eq!(representation(&h).unwrap(), Representation::Object);
    }

    #[test]
    fn discovery_v2beta1_only_client_gets_v2beta1() {
        let h = accept(
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
        );
        assert_eq!(discovery_form(&h), DiscoveryForm::AggregatedV2Beta1);
        let h = accept(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
        );
        assert_eq!(discovery_form(&h), DiscoveryForm::AggregatedV2);
        assert_eq!(
            discovery_form(&accept("application/json")),
            DiscoveryForm::Legacy
        );
    }

    #[test]
    fn malformed_json_and_yaml_are_bad_requests() {
        assert!(matches!(
            decode_body(BodyFormat::Json, b"{\"a\":"),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            decode_body(BodyFormat::Yaml, b"a: [1,\n"),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            decode_body(BodyFormat::Yaml, &[0xff, 0xfe]),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn oversized_body_is_rejected_before_parsing() {
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert!(matches!(
            decode_body(BodyFormat::Json, &big),
            Err(ApiError::TooLarge(_))
        ));
    }

    #[test]
    fn yaml_body_becomes_json() {
        let v = decode_body(
            BodyFormat::Yaml,
            b"apiVersion: v1\nkind: ConfigMap\ndata:\n  a: \"1\"\n",
        )
        .unwrap();
        assert_eq!(v["data"]["a"], "1");
    }
}
