//! The measured scenarios, one file each, and the object bodies and bulk writers they share.

pub mod churn;
pub mod cold_start;
pub mod create_latency;
pub mod create_throughput;
pub mod large_list;
pub mod watch_fanout;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};
use bytes::Bytes;

use crate::client::{Connection, Tls};

/// A ConfigMap whose request body is about `approx_len` bytes.
pub fn configmap(namespace: &str, name: &str, approx_len: usize) -> Bytes {
    let skeleton = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"v": ""},
    });
    let pad = approx_len.saturating_sub(skeleton.to_string().len());
    let body = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"v": "x".repeat(pad)},
    });
    Bytes::from(body.to_string())
}

pub fn configmaps_path(namespace: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/configmaps")
}

pub async fn create_namespace(conn: &mut Connection, name: &str) -> Result<()> {
    let body =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    let resp = conn
        .post_json("/api/v1/namespaces", Bytes::from(body.to_string()))
        .await?;
    if !resp.status.is_success() {
        bail!(
            "creating namespace {name}: {} {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
    }
    Ok(())
}

/// Opens `n` connections up front so connection set-up is never inside a timed section.
pub async fn open_connections(port: u16, tls: &Tls, n: usize) -> Result<Vec<Connection>> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(
            Connection::open(port, tls)
                .await
                .context("opening a client connection")?,
        );
    }
    Ok(conns)
}

/// Creates `count` ConfigMaps named `{prefix}-{i}` over `concurrency` connections (setup, not timed).
pub async fn create_many(
    port: u16,
    tls: &Tls,
    namespace: &str,
    prefix: &str,
    count: usize,
    concurrency: usize,
    approx_len: usize,
) -> Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for mut conn in open_connections(port, tls, concurrency).await? {
        let next = next.clone();
        let (namespace, prefix) = (namespace.to_string(), prefix.to_string());
        tasks.spawn(async move {
            let path = configmaps_path(&namespace);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<(), anyhow::Error>(());
                }
                let resp = conn
                    .post_json(
                        &path,
                        configmap(&namespace, &format!("{prefix}-{i}"), approx_len),
                    )
                    .await?;
                if resp.status != http::StatusCode::CREATED {
                    bail!(
                        "creating {prefix}-{i}: {} {}",
                        resp.status,
                        String::from_utf8_lossy(&resp.body)
                    );
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.context("a creating task panicked")??;
    }
    Ok(())
}

/// The `metadata.resourceVersion` of a list response.
pub fn list_revision(body: &[u8]) -> Result<String> {
    #[derive(serde::Deserialize)]
    struct ListMeta {
        #[serde(rename = "resourceVersion")]
        resource_version: String,
    }
    #[derive(serde::Deserialize)]
    struct List {
        metadata: ListMeta,
    }
    let list: List = serde_json::from_slice(body).context("parsing a list response")?;
    Ok(list.metadata.resource_version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configmap_body_is_close_to_the_requested_size() {
        let body = configmap("bench", "cm-1", 200);
        assert!((195..=205).contains(&body.len()), "{} bytes", body.len());
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["metadata"]["name"], "cm-1");
    }

    #[test]
    fn configmap_body_smaller_than_its_skeleton_is_just_the_skeleton() {
        let body = configmap("bench", "cm-1", 1);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["data"]["v"], "");
    }

    #[test]
    fn list_revision_reads_the_list_metadata() {
        let rv = list_revision(
            br#"{"kind":"ConfigMapList","metadata":{"resourceVersion":"42"},"items":[]}"#,
        )
        .unwrap();
        assert_eq!(rv, "42");
    }

    #[test]
    fn list_revision_rejects_a_body_that_is_not_a_list() {
        assert!(list_revision(b"<html>").is_err());
        assert!(list_revision(br#"{"metadata":{}}"#).is_err());
    }
}
