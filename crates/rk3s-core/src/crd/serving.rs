//! The resource types a CRD serves, one per served version, in upstream's version priority
//! order. Entry points: [`resource_types`], [`compare_versions`].

use std::cmp::Ordering;

use serde_json::Value;

use super::errors::CrdError;
use crate::registry::{ResourceType, Subresource};

/// Custom resources serve every verb; alphabetical as the built-in table lists them.
const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const SUBRESOURCE_VERBS: &[&str] = &["get", "patch", "update"];

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn string_list(v: &Value, pointer: &str) -> Vec<String> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The served resource types of a (validated, defaulted) CRD, most preferred version first.
/// Subresources come from the version's `subresources` (or the CRD-wide ones of older CRDs).
pub fn resource_types(crd: &Value) -> Result<Vec<ResourceType>, CrdError> {
    let group = text(crd, "/spec/group").ok_or(CrdError::MissingField("spec.group"))?;
    let plural =
        text(crd, "/spec/names/plural").ok_or(CrdError::MissingField("spec.names.plural"))?;
    let kind = text(crd, "/spec/names/kind").ok_or(CrdError::MissingField("spec.names.kind"))?;
    let singular = text(crd, "/spec/names/singular")
        .map(str::to_owned)
        .unwrap_or_else(|| kind.to_lowercase());
    let namespaced = match text(crd, "/spec/scope") {
        Some("Cluster") => false,
        Some(_) | None => true,
    };
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .ok_or(CrdError::MissingField("spec.versions"))?;
    let mut out = Vec::new();
    for v in versions {
        if v.get("served") != Some(&Value::Bool(true)) {
            continue;
        }
        let version = text(v, "/name").ok_or(CrdError::MissingField("spec.versions[].name"))?;
        let subs = v
            .get("subresources")
            .or_else(|| crd.pointer("/spec/subresources"));
        let mut subresources = Vec::new();
        if subs.and_then(|s| s.get("status")).is_some() {
            subresources.push(Subresource {
                name: "status".to_owned(),
                group: group.to_owned(),
                version: version.to_owned(),
                kind: kind.to_owned(),
                verbs: strings(SUBRESOURCE_VERBS),
            });
        }
        if subs.and_then(|s| s.get("scale")).is_some() {
            subresources.push(Subresource {
                name: "scale".to_owned(),
                group: "autoscaling".to_owned(),
                version: "v1".to_owned(),
                kind: "Scale".to_owned(),
                verbs: strings(SUBRESOURCE_VERBS),
            });
        }
        out.push(ResourceType {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            plural: plural.to_owned(),
            singular: singular.clone(),
            short_names: string_list(crd, "/spec/names/shortNames"),
            categories: string_list(crd, "/spec/names/categories"),
            namespaced,
            verbs: strings(VERBS),
            subresources,
            storage_prefix: format!("/registry/{group}/{plural}"),
            codec: None,
            custom: None,
        });
    }
    out.sort_by(|a, b| compare_versions(&a.version, &b.version));
    Ok(out)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A Kubernetes-like version (`v2`, `v1beta3`, `v1alpha1`): major, stability, minor.
fn parse_kube_version(v: &str) -> Option<(u64, u8, u64)> {
    let rest = v.strip_prefix('v')?;
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let major: u64 = rest[..digits].parse().ok()?;
    if major == 0 {
        return None;
    }
    let tail = &rest[digits..];
    if tail.is_empty() {
        return Some((major, 2, 0));
    }
    let (stability, minor) = if let Some(m) = tail.strip_prefix("beta") {
        (1, m)
    } else if let Some(m) = tail.strip_prefix("alpha") {
        (0, m)
    } else {
        return None;
    };
    if minor.is_empty() || !minor.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((major, stability, minor.parse().ok()?))
}

/// Upstream's version priority, highest first: GA before beta before alpha, higher numbers
/// first, then versions that are not Kubernetes-like in alphabetical order.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    match (parse_kube_version(a), parse_kube_version(b)) {
        (Some((ma, sa, na)), Some((mb, sb, nb))) => sb.cmp(&sa).then(mb.cmp(&ma)).then(nb.cmp(&na)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}
