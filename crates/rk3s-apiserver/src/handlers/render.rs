//! Rendering responses: plain JSON, `Table` and `PartialObjectMetadata` representations, and
//! the `Warning` headers of field validation.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use rk3s_core::ResourceType;
use serde_json::{Value, json};

use crate::negotiate::Representation;

pub fn json(code: StatusCode, v: &Value) -> Response {
    json_typed(code, v, "application/json")
}

pub fn json_typed(code: StatusCode, v: &Value, content_type: &str) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    (
        code,
        [(http::header::CONTENT_TYPE, content_type.to_string())],
        body,
    )
        .into_response()
}

pub fn bytes_typed(body: Vec<u8>, content_type: &str) -> Response {
    (
        StatusCode::OK,
        [(http::header::CONTENT_TYPE, content_type.to_string())],
        body,
    )
        .into_response()
}

/// Attach `Warning: 299 - "..."` headers, as upstream does for unknown fields under `Warn`.
pub fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - {}", serde_json::to_string(w).unwrap_or_default());
        if let Ok(v) = http::HeaderValue::from_str(&text) {
            resp.headers_mut().append(http::header::WARNING, v);
        }
    }
    resp
}

fn table_content_type(v1beta1: bool) -> &'static str {
    if v1beta1 {
        "application/json;as=Table;v=v1beta1;g=meta.k8s.io"
    } else {
        "application/json;as=Table;v=v1;g=meta.k8s.io"
    }
}

/// The object as `PartialObjectMetadata`.
pub fn partial_metadata(obj: &Value, v1beta1: bool) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": if v1beta1 { "meta.k8s.io/v1beta1" } else { "meta.k8s.io/v1" },
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// One Table row for an object; `include` is the `includeObject` parameter.
pub fn table_row(
    rt: &ResourceType,
    obj: &Value,
    include: Option<&str>,
    v1beta1: bool,
    now: jiff::Timestamp,
) -> Value {
    let cells = match &rt.custom {
        Some(custom) => rk3s_core::printers::custom_resource_cells(&custom.columns, obj, now),
        None => rk3s_core::printers::cells(&rt.group, &rt.plural, obj, now),
    };
    match include {
        Some("None") => json!({"cells": cells}),
        Some("Object") => json!({"cells": cells, "object": obj}),
        _ => json!({"cells": cells, "object": partial_metadata(obj, v1beta1)}),
    }
}

/// A `Table` of objects; `list_meta` is the list's metadata (resourceVersion, continue).
pub fn table(
    rt: &ResourceType,
    objs: &[Value],
    list_meta: Value,
    include: Option<&str>,
    v1beta1: bool,
    with_columns: bool,
) -> Value {
    let now = jiff::Timestamp::now();
    let rows: Vec<Value> = objs
        .iter()
        .map(|o| table_row(rt, o, include, v1beta1, now))
        .collect();
    let mut t = json!({
        "kind": "Table",
        "apiVersion": if v1beta1 { "meta.k8s.io/v1beta1" } else { "meta.k8s.io/v1" },
        "metadata": list_meta,
        "rows": rows,
    });
    if with_columns {
        t["columnDefinitions"] = match &rt.custom {
            Some(custom) => {
                rk3s_core::printers::custom_resource_column_definitions(&custom.columns)
            }
            None => rk3s_core::printers::to_json_column_definitions(&rk3s_core::printers::columns(
                &rt.group, &rt.plural,
            )),
        };
    } else {
        t["columnDefinitions"] = Value::Null;
    }
    t
}

/// Render a single object in the representation the client asked for.
pub fn object(
    code: StatusCode,
    rt: &ResourceType,
    obj: &Value,
    repr: Representation,
    include: Option<&str>,
) -> Response {
    match repr {
        Representation::Object => json(code, obj),
        Representation::Table { v1beta1 } => {
            let rv = obj
                .pointer("/metadata/resourceVersion")
                .cloned()
                .unwrap_or(Value::Null);
            let t = table(
                rt,
                std::slice::from_ref(obj),
                json!({"resourceVersion": rv}),
                include,
                v1beta1,
                true,
            );
            json_typed(code, &t, table_content_type(v1beta1))
        }
        Representation::PartialMetadata { v1beta1 } => json_typed(
            code,
            &partial_metadata(obj, v1beta1),
            if v1beta1 {
                "application/json;as=PartialObjectMetadata;v=v1beta1;g=meta.k8s.io"
            } else {
                "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"
            },
        ),
    }
}

/// Render a list in the representation the client asked for.
pub fn list(
    rt: &ResourceType,
    items: Vec<Value>,
    list_meta: Value,
    repr: Representation,
    include: Option<&str>,
) -> Response {
    match repr {
        Representation::Object => {
            let l = json!({"kind": rt.list_kind(), "apiVersion": rt.api_version(), "metadata": list_meta, "items": items});
            json(StatusCode::OK, &l)
        }
        Representation::Table { v1beta1 } => {
            let t = table(rt, &items, list_meta, include, v1beta1, true);
            json_typed(StatusCode::OK, &t, table_content_type(v1beta1))
        }
        Representation::PartialMetadata { v1beta1 } => {
            let items: Vec<Value> = items.iter().map(|o| partial_metadata(o, v1beta1)).collect();
            let l = json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": if v1beta1 { "meta.k8s.io/v1beta1" } else { "meta.k8s.io/v1" },
                "metadata": list_meta,
                "items": items,
            });
            json_typed(
                StatusCode::OK,
                &l,
                if v1beta1 {
                    "application/json;as=PartialObjectMetadataList;v=v1beta1;g=meta.k8s.io"
                } else {
                    "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
                },
            )
        }
    }
}
