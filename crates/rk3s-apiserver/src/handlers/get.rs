//! `get`: read one object, at the latest revision or at a given `resourceVersion`.

use axum::response::Response;
use http::StatusCode;

use super::{Ctx, parse_rv, render};
use crate::error::{ApiError, ApiResult};
use crate::negotiate;
use crate::objects;

pub async fn get(ctx: &Ctx<'_>) -> ApiResult<Response> {
    let repr = negotiate::representation(ctx.headers)?;
    let name = ctx.target.name.as_deref().unwrap_or("");
    // A get at a resourceVersion means "not older than": serve the latest state.
    if let Some(rv) = parse_rv(ctx.query.resource_version.as_deref())? {
        super::list::not_older_than(ctx, rv).await?;
    }
    let rev = 0;
    let kv = ctx
        .state
        .store
        .get(&ctx.key(name), rev)
        .await?
        .ok_or_else(|| ApiError::not_found(&ctx.subject(name)))?;
    let obj = objects::read_as(&ctx.target.rt, &kv)?;
    Ok(render::object(
        StatusCode::OK,
        &ctx.target.rt,
        &obj,
        repr,
        ctx.query.include_object.as_deref(),
    ))
}
