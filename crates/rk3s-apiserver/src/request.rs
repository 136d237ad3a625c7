//! Turning a request path and query into what the API is asked to do: [`ApiTarget`] + [`Query`].

use std::sync::Arc;

use rk3s_core::{Registry, ResourceType};

use crate::error::{ApiError, ApiResult};

/// A resource request after routing: which type, where, which object, which subresource.
#[derive(Debug, Clone)]
pub struct ApiTarget {
    pub rt: Arc<ResourceType>,
    /// The namespace from the path (`/namespaces/{ns}/...`); `None` for cluster-scoped kinds and
    /// for all-namespace lists.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// What a path under `/api` or `/apis` addresses.
#[derive(Debug, Clone)]
pub enum Route {
    /// `/api` or `/apis`.
    DiscoveryRoot {
        legacy: bool,
    },
    /// `/apis/{group}`.
    DiscoveryGroup {
        group: String,
    },
    /// `/api/v1` or `/apis/{group}/{version}`.
    DiscoveryGroupVersion {
        group: String,
        version: String,
    },
    Resource(ApiTarget),
}

/// Route a path. `None` when nothing is served there (a 404 for the caller).
pub fn route(registry: &Registry, path: &str) -> ApiResult<Option<Route>> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api"] => return Ok(Some(Route::DiscoveryRoot { legacy: true })),
        ["apis"] => return Ok(Some(Route::DiscoveryRoot { legacy: false })),
        ["apis", g] => {
            return Ok(Some(Route::DiscoveryGroup {
                group: (*g).to_string(),
            }));
        }
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Ok(None),
    };
    if registry.in_group_version(group, version).next().is_none() {
        return Ok(None);
    }
    if rest.is_empty() {
        return Ok(Some(Route::DiscoveryGroupVersion {
            group: group.to_string(),
            version: version.to_string(),
        }));
    }
    for s in rest {
        if s.is_empty() {
            return Err(ApiError::BadRequest(format!(
                "invalid path {path:?}: empty segment"
            )));
        }
    }
    let lookup = |plural: &str| registry.by_resource(group, version, plural).cloned();
    // `/namespaces/{ns}/{resource}...` addresses a namespaced resource unless the third segment
    // is a subresource of the namespace object itself (`/namespaces/{ns}/status`).
    if rest.len() >= 3
        && rest[0] == "namespaces"
        && let Some(rt) = lookup(rest[2]).filter(|rt| rt.namespaced)
    {
        if rest.len() > 5 {
            return Ok(None);
        }
        return Ok(Some(Route::Resource(ApiTarget {
            rt,
            namespace: Some(rest[1].to_string()),
            name: rest.get(3).map(|s| (*s).to_string()),
            subresource: rest.get(4).map(|s| (*s).to_string()),
        })));
    }
    let Some(rt) = lookup(rest[0]) else {
        return Ok(None);
    };
    if rest.len() > 3 {
        return Ok(None);
    }
    Ok(Some(Route::Resource(ApiTarget {
        rt,
        namespace: None,
        name: rest.get(1).map(|s| (*s).to_string()),
        subresource: rest.get(2).map(|s| (*s).to_string()),
    })))
}

/// The query parameters the API understands, parsed once.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub watch: bool,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub allow_watch_bookmarks: bool,
    pub send_initial_events: Option<bool>,
    pub dry_run: bool,
    pub field_manager: Option<String>,
    pub field_validation: Option<String>,
    pub force: bool,
    pub include_object: Option<String>,
    pub propagation_policy: Option<String>,
    pub grace_period_seconds: Option<i64>,
    pub pretty: bool,
}

fn parse_bool(name: &str, v: &str) -> ApiResult<bool> {
    match v {
        "true" | "1" | "True" | "TRUE" | "t" | "T" => Ok(true),
        "false" | "0" | "False" | "FALSE" | "f" | "F" | "" => Ok(false),
        other => Err(ApiError::BadRequest(format!(
            "invalid value {other:?} for query parameter {name}: must be a boolean"
        ))),
    }
}

fn parse_num<T: std::str::FromStr>(name: &str, v: &str) -> ApiResult<T> {
    v.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "invalid value {v:?} for query parameter {name}: must be an integer"
        ))
    })
}

impl Query {
    pub fn parse(raw: Option<&str>) -> ApiResult<Query> {
        let mut q = Query::default();
        let Some(raw) = raw else { return Ok(q) };
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            let v = v.as_ref();
            match k.as_ref() {
                "watch" => q.watch = parse_bool("watch", v)?,
                "labelSelector" => q.label_selector = Some(v.to_string()).filter(|s| !s.is_empty()),
                "fieldSelector" => q.field_selector = Some(v.to_string()).filter(|s| !s.is_empty()),
                "limit" => {
                    let n: i64 = parse_num("limit", v)?;
                    q.limit = if n > 0 { Some(n as usize) } else { None };
                }
                "continue" => q.continue_token = Some(v.to_string()).filter(|s| !s.is_empty()),
                "resourceVersion" => {
                    q.resource_version = Some(v.to_string()).filter(|s| !s.is_empty())
                }
                "resourceVersionMatch" => {
                    q.resource_version_match = Some(v.to_string()).filter(|s| !s.is_empty())
                }
                "timeoutSeconds" => q.timeout_seconds = Some(parse_num("timeoutSeconds", v)?),
                "allowWatchBookmarks" => {
                    q.allow_watch_bookmarks = parse_bool("allowWatchBookmarks", v)?
                }
                "sendInitialEvents" => {
                    q.send_initial_events = Some(parse_bool("sendInitialEvents", v)?)
                }
                "dryRun" => match v {
                    "All" => q.dry_run = true,
                    "" => {}
                    other => {
                        return Err(ApiError::BadRequest(format!(
                            "invalid dry run option {other:?}: supported values are \"All\""
                        )));
                    }
                },
                "fieldManager" => q.field_manager = Some(v.to_string()),
                "fieldValidation" => match v {
                    "Strict" | "Warn" | "Ignore" | "" => q.field_validation = Some(v.to_string()),
                    other => {
                        return Err(ApiError::BadRequest(format!(
                            "invalid fieldValidation directive {other:?}: must be one of Ignore, Warn or Strict"
                        )));
                    }
                },
                "force" => q.force = parse_bool("force", v)?,
                "includeObject" => q.include_object = Some(v.to_string()),
                "propagationPolicy" => q.propagation_policy = Some(v.to_string()),
                "gracePeriodSeconds" => {
                    q.grace_period_seconds = Some(parse_num("gracePeriodSeconds", v)?)
                }
                "pretty" => q.pretty = parse_bool("pretty", v)?,
                // Parameters we accept and ignore, as upstream ignores unknown ones.
                _ => {}
            }
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_limit_is_a_bad_request() {
        assert!(matches!(
            Query::parse(Some("limit=abc")),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn watch_and_selectors_are_parsed() {
        let q = Query::parse(Some(
            "watch=true&labelSelector=a%3Db&fieldSelector=metadata.name%3Dx&limit=500",
        ))
        .unwrap();
        assert!(q.watch);
        assert_eq!(q.label_selector.as_deref(), Some("a=b"));
        assert_eq!(q.field_selector.as_deref(), Some("metadata.name=x"));
        assert_eq!(q.limit, Some(500));
    }

    #[test]
    fn unknown_dry_run_value_is_rejected() {
        assert!(Query::parse(Some("dryRun=Some")).is_err());
    }
}
