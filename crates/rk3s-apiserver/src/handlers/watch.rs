//! `watch`: a chunked stream of `{"type":…,"object":…}` lines from a revision onwards, with
//! initial ADDED events when no revision is given, selector transitions, bookmarks on request
//! and `timeoutSeconds`.

use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use http::StatusCode;
use rk3s_core::ResourceType;
use rk3s_store::{EventType, ListRequest};
use serde_json::{Value, json};

use super::filter::ObjectFilter;
use super::{Ctx, parse_rv, render};
use crate::error::{ApiError, ApiResult};
use crate::negotiate::{self, Representation};
use crate::objects;

/// Upstream closes watches after a randomised 30–60 minutes; clients re-watch.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
/// How often a watch that allows bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(10);

/// Encodes events in the representation the client asked for.
struct Encoder {
    rt: std::sync::Arc<ResourceType>,
    repr: Representation,
    include: Option<String>,
    sent_columns: bool,
}

impl Encoder {
    fn event(&mut self, kind: &str, obj: &Value) -> Bytes {
        let object = match self.repr {
            Representation::Object => obj.clone(),
            Representation::Table { v1beta1 } => {
                let rv = obj
                    .pointer("/metadata/resourceVersion")
                    .cloned()
                    .unwrap_or(Value::Null);
                let with_columns = !self.sent_columns;
                self.sent_columns = true;
                render::table(
                    &self.rt,
                    std::slice::from_ref(obj),
                    json!({"resourceVersion": rv}),
                    self.include.as_deref(),
                    v1beta1,
                    with_columns,
                )
            }
            Representation::PartialMetadata { v1beta1 } => render::partial_metadata(obj, v1beta1),
        };
        line(&json!({"type": kind, "object": object}))
    }

    fn bookmark(&self, revision: i64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": revision.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line(&json!({
            "type": "BOOKMARK",
            "object": {"kind": self.rt.kind, "apiVersion": self.rt.api_version(), "metadata": meta},
        }))
    }
}

/// The event line for a kind stored as served, watched without selectors as plain JSON: the
/// stored bytes with the resourceVersion spliced in, never parsed. Most watchers (every
/// informer) take this path, so one pod write no longer costs a parse and an encode per watcher.
/// `None` when the bytes are not in the shape we store; the caller then parses.
fn raw_event(ev: &rk3s_store::Event) -> Option<Bytes> {
    let kind = match ev.kind {
        EventType::Delete => "DELETED",
        EventType::Put if ev.prev_kv.is_none() => "ADDED",
        EventType::Put => "MODIFIED",
    };
    let object = objects::raw_with_resource_version(&ev.kv.value, ev.kv.mod_revision)?;
    let mut b = Vec::with_capacity(object.len() + 32);
    b.extend_from_slice(b"{\"type\":\"");
    b.extend_from_slice(kind.as_bytes());
    b.extend_from_slice(b"\",\"object\":");
    b.extend_from_slice(&object);
    b.extend_from_slice(b"}\n");
    Some(Bytes::from(b))
}

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

fn error_event(e: &ApiError) -> Bytes {
    line(&json!({"type": "ERROR", "object": e.status()}))
}

pub async fn watch(ctx: &Ctx<'_>) -> ApiResult<Response> {
    let repr = negotiate::representation(ctx.headers)?;
    let rt = ctx.target.rt.clone();
    let mut query = ctx.query.clone();
    // A watch on a named object is a watch on its name.
    if let Some(name) = &ctx.target.name {
        let sel = format!("metadata.name={name}");
        query.field_selector = Some(match query.field_selector {
            Some(f) => format!("{f},{sel}"),
            None => sel,
        });
    }
    let filter = ObjectFilter::from_query(&rt, &query)?;
    let raw = repr == Representation::Object
        && filter.is_everything()
        && rt.custom.is_none()
        && !rk3s_core::conversion::converts(&rt.group, &rt.version, &rt.plural);
    let prefix = rt.list_prefix(ctx.target.namespace.as_deref());
    let start = parse_rv(query.resource_version.as_deref())?;
    let send_initial = query.send_initial_events.unwrap_or(start.is_none());
    let mut initial = Vec::new();
    let from = match start {
        Some(rv) if !send_initial => rv,
        _ => {
            let at = start.unwrap_or(0);
            let res = ctx
                .state
                .store
                .list(ListRequest {
                    prefix: prefix.clone(),
                    start_after: None,
                    limit: 0,
                    revision: at,
                })
                .await?;
            for kv in &res.kvs {
                let obj = objects::read_as(&rt, kv)?;
                if filter.matches(&obj) {
                    initial.push(obj);
                }
            }
            res.revision
        }
    };
    let events = ctx.state.store.watch(&prefix, from).await?;
    let timeout = query
        .timeout_seconds
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT);
    let bookmarks = query.allow_watch_bookmarks;
    let initial_end_bookmark = bookmarks && query.send_initial_events == Some(true);
    let state = ctx.state.clone();
    let mut enc = Encoder {
        rt,
        repr,
        include: query.include_object.clone(),
        sent_columns: false,
    };

    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::convert::Infallible>>(64);
    tokio::spawn(async move {
        let _guard = state.metrics.watch_started();
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut events = events;
        let mut last_rev = from;
        for obj in &initial {
            if tx.send(Ok(enc.event("ADDED", obj))).await.is_err() {
                return;
            }
        }
        if initial_end_bookmark && tx.send(Ok(enc.bookmark(from, true))).await.is_err() {
            return;
        }
        let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
        ticker.tick().await;
        loop {
            let chunk = tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                _ = ticker.tick(), if bookmarks => enc.bookmark(last_rev, false),
                ev = events.next() => match ev {
                    None => return,
                    Some(Err(e)) => {
                        let _ = tx.send(Ok(error_event(&ApiError::from(e)))).await;
                        return;
                    }
                    Some(Ok(ev)) => {
                        last_rev = ev.kv.mod_revision;
                        if let Some(chunk) = raw.then(|| raw_event(&ev)).flatten() {
                            chunk
                        } else {
                            match transition(&enc.rt, &filter, &ev) {
                                Some((kind, obj)) => enc.event(kind, &obj),
                                None => continue,
                            }
                        }
                    }
                },
            };
            state.metrics.watch_event_sent();
            if tx.send(Ok(chunk)).await.is_err() {
                return;
            }
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let content_type = match repr {
        Representation::Table { v1beta1: false } => "application/json;as=Table;v=v1;g=meta.k8s.io",
        Representation::Table { v1beta1: true } => {
            "application/json;as=Table;v=v1beta1;g=meta.k8s.io"
        }
        _ => "application/json",
    };
    Ok((
        StatusCode::OK,
        [(http::header::CONTENT_TYPE, content_type)],
        body,
    )
        .into_response())
}

/// The watch event a store event becomes for this selection: objects entering the selection
/// are ADDED, leaving it DELETED, as upstream reports them.
fn transition(
    rt: &ResourceType,
    filter: &ObjectFilter,
    ev: &rk3s_store::Event,
) -> Option<(&'static str, Value)> {
    let parse = |kv: &rk3s_store::KeyValue| objects::read_as(rt, kv).ok();
    match ev.kind {
        EventType::Delete => {
            let obj = parse(&ev.kv)?;
            filter.matches(&obj).then_some(("DELETED", obj))
        }
        EventType::Put => {
            let obj = parse(&ev.kv)?;
            let now = filter.matches(&obj);
            let before = ev
                .prev_kv
                .as_ref()
                .and_then(parse)
                .map(|p| filter.matches(&p))
                .unwrap_or(false);
            match (before, now) {
                (_, true) if ev.prev_kv.is_none() => Some(("ADDED", obj)),
                (true, true) => Some(("MODIFIED", obj)),
                (false, true) => Some(("ADDED", obj)),
                (true, false) => Some(("DELETED", obj)),
                (false, false) => None,
            }
        }
    }
}
