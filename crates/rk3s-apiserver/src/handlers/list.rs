//! `list`: the objects of a kind (in a namespace or all), filtered by selectors, paginated with
//! `limit`/`continue` over one consistent revision.

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rk3s_store::{ListRequest, StoreError};
use serde_json::{Value, json};

use super::filter::ObjectFilter;
use super::{Ctx, parse_rv, render};
use crate::error::{ApiError, ApiResult};
use crate::negotiate;
use crate::objects;

/// Where a paginated list stopped: the revision it reads at and the last key it examined.
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: i64,
    start: String,
}

fn encode_continue(rv: i64, start: &str) -> String {
    let t = ContinueToken {
        rv,
        start: start.to_string(),
    };
    B64.encode(serde_json::to_vec(&t).unwrap_or_default())
}

fn decode_continue(s: &str, prefix: &str) -> ApiResult<ContinueToken> {
    let bad = || ApiError::BadRequest("continue key is not valid: the token is malformed".into());
    let bytes = B64.decode(s).map_err(|_| bad())?;
    let t: ContinueToken = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if t.rv <= 0 || !t.start.starts_with(prefix) {
        return Err(bad());
    }
    Ok(t)
}

/// Read the selected objects. Returns (items, revision, continue token).
pub(crate) async fn read_list(
    ctx: &Ctx<'_>,
    filter: &ObjectFilter,
) -> ApiResult<(Vec<Value>, i64, Option<String>)> {
    let rt = &ctx.target.rt;
    let prefix = rt.list_prefix(ctx.target.namespace.as_deref());
    let (mut revision, mut start_after) = match &ctx.query.continue_token {
        Some(tok) => {
            let t = decode_continue(tok, &prefix)?;
            (t.rv, Some(t.start))
        }
        None => {
            let exact = ctx.query.resource_version_match.as_deref() == Some("Exact");
            match parse_rv(ctx.query.resource_version.as_deref())? {
                Some(rv) if exact => (rv, None),
                Some(rv) => {
                    // NotOlderThan: the latest state, which must be at least `rv`.
                    not_older_than(ctx, rv).await?;
                    (0, None)
                }
                None => (0, None),
            }
        }
    };
    let limit = ctx.query.limit;
    let mut items = Vec::new();
    loop {
        let want = limit.map(|l| l.saturating_sub(items.len()).max(1));
        let batch = match want {
            // With a selector, read ahead so a sparse match does not cost a round trip per item.
            Some(w) if !filter.is_everything() => w.max(256),
            Some(w) => w,
            None => 0,
        };
        let req = ListRequest {
            prefix: prefix.clone(),
            start_after: start_after.clone(),
            limit: batch,
            revision,
        };
        let res = match ctx.state.store.list(req).await {
            Ok(r) => r,
            Err(StoreError::Compacted { .. }) if ctx.query.continue_token.is_some() => {
                let current = ctx.state.store.current_revision().await?;
                return Err(ApiError::ContinueExpired {
                    message: "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.".into(),
                    fresh_continue: encode_continue(current, start_after.as_deref().unwrap_or(&prefix)),
                });
            }
            Err(e) => return Err(e.into()),
        };
        revision = res.revision;
        let mut last_key = None;
        for kv in &res.kvs {
            last_key = Some(kv.key.clone());
            let obj = objects::read_as(rt, kv)?;
            if filter.matches(&obj) {
                items.push(obj);
                if limit.is_some_and(|l| items.len() >= l) {
                    break;
                }
            }
        }
        let full = limit.is_some_and(|l| items.len() >= l);
        let exhausted = !res.more && last_key.as_ref() == res.kvs.last().map(|kv| &kv.key);
        if exhausted {
            return Ok((items, revision, None));
        }
        match last_key {
            Some(k) if full => return Ok((items, revision, Some(encode_continue(revision, &k)))),
            Some(k) => start_after = Some(k),
            None => return Ok((items, revision, None)),
        }
    }
}

/// Fail like upstream when a client asks for a state newer than any the store has.
pub(crate) async fn not_older_than(ctx: &Ctx<'_>, rv: i64) -> ApiResult<()> {
    let current = ctx.state.store.current_revision().await?;
    if rv > current {
        return Err(ApiError::Timeout(format!(
            "Too large resource version: {rv}, current: {current}"
        )));
    }
    Ok(())
}

/// A plain, unfiltered list of kinds stored as served: the stored bytes go out as they are,
/// with only the resourceVersion spliced in (no parse, no re-encode).
async fn raw_list(ctx: &Ctx<'_>) -> ApiResult<Option<Response>> {
    let rt = &ctx.target.rt;
    let converted =
        rt.custom.is_some() || rk3s_core::conversion::converts(&rt.group, &rt.version, &rt.plural);
    if converted || ctx.query.continue_token.is_some() || ctx.query.limit.is_some() {
        return Ok(None);
    }
    if ctx.query.resource_version_match.as_deref() == Some("Exact") {
        return Ok(None);
    }
    if let Some(rv) = parse_rv(ctx.query.resource_version.as_deref())? {
        not_older_than(ctx, rv).await?;
    }
    let prefix = rt.list_prefix(ctx.target.namespace.as_deref());
    let res = ctx
        .state
        .store
        .list(ListRequest {
            prefix,
            start_after: None,
            limit: 0,
            revision: 0,
        })
        .await?;
    let mut body =
        Vec::with_capacity(res.kvs.iter().map(|kv| kv.value.len() + 40).sum::<usize>() + 256);
    body.extend_from_slice(
        format!(
            "{{\"kind\":{},\"apiVersion\":{},\"metadata\":{{\"resourceVersion\":\"{}\"}},\"items\":[",
            serde_json::to_string(&rt.list_kind()).unwrap_or_default(),
            serde_json::to_string(&rt.api_version()).unwrap_or_default(),
            res.revision
        )
        .as_bytes(),
    );
    for (i, kv) in res.kvs.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        match crate::objects::raw_with_resource_version(&kv.value, kv.mod_revision) {
            Some(raw) => body.extend_from_slice(&raw),
            None => {
                let obj = objects::read_as(rt, kv)?;
                body.extend_from_slice(&serde_json::to_vec(&obj).unwrap_or_default());
            }
        }
    }
    body.extend_from_slice(b"]}");
    Ok(Some(render::bytes_typed(body, "application/json")))
}

pub async fn list(ctx: &Ctx<'_>) -> ApiResult<Response> {
    let repr = negotiate::representation(ctx.headers)?;
    let filter = ObjectFilter::from_query(&ctx.target.rt, &ctx.query)?;
    if repr == negotiate::Representation::Object
        && filter.is_everything()
        && let Some(resp) = raw_list(ctx).await?
    {
        return Ok(resp);
    }
    let (items, revision, cont) = read_list(ctx, &filter).await?;
    let mut meta = json!({"resourceVersion": revision.to_string()});
    if let Some(c) = cont {
        meta["continue"] = Value::String(c);
    }
    Ok(render::list(
        &ctx.target.rt,
        items,
        meta,
        repr,
        ctx.query.include_object.as_deref(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let t = encode_continue(42, "/registry/pods/default/b");
        let back = decode_continue(&t, "/registry/pods/").unwrap();
        assert_eq!(back.rv, 42);
        assert_eq!(back.start, "/registry/pods/default/b");
        assert!(decode_continue("%%%", "/registry/pods/").is_err());
        assert!(
            decode_continue(&t, "/registry/secrets/").is_err(),
            "a token must not read another prefix"
        );
    }
}
