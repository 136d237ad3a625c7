//! Upstream-style names derived from a group-version: operation id prefixes (`CoreV1`,
//! `RbacAuthorizationV1`), tags (`rbacAuthorization_v1`) and schema names for untyped kinds.

/// The group part of an operation id: `""` is `Core`, `rbac.authorization.k8s.io` is
/// `RbacAuthorization`, `stable.example.com` is `StableExampleCom`.
pub(super) fn group_ident(group: &str) -> String {
    if group.is_empty() {
        return "Core".to_string();
    }
    let trimmed = group.strip_suffix(".k8s.io").unwrap_or(group);
    trimmed.split(['.', '-', '_']).map(capitalize).collect()
}

/// `CoreV1`, `AppsV1`, `AutoscalingV2`, `StorageV1beta1`.
pub(super) fn group_version_ident(group: &str, version: &str) -> String {
    format!("{}{}", group_ident(group), capitalize(version))
}

/// The operation tag: `core_v1`, `apps_v1`, `rbacAuthorization_v1`.
pub(super) fn tag(group: &str, version: &str) -> String {
    let ident = group_ident(group);
    let mut chars = ident.chars();
    let lowered: String = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    };
    format!("{lowered}_{version}")
}

/// The schema name of a kind that has no typed schema: upstream names CRD schemas by the
/// reversed group, `stable.example.com` v1 `CronTab` is `com.example.stable.v1.CronTab`.
pub(super) fn untyped_schema_name(group: &str, version: &str, kind: &str) -> String {
    let prefix = if group.is_empty() {
        "io.k8s.api.core".to_string()
    } else if !group.contains('.') {
        format!("io.k8s.api.{group}")
    } else {
        group.rsplit('.').collect::<Vec<_>>().join(".")
    };
    format!("{prefix}.{version}.{kind}")
}

/// `status` is `Status`, `ephemeralcontainers` is `Ephemeralcontainers`.
pub(super) fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_idents_follow_upstream_operation_ids() {
        assert_eq!(group_version_ident("", "v1"), "CoreV1");
        assert_eq!(group_version_ident("apps", "v1"), "AppsV1");
        assert_eq!(
            group_version_ident("rbac.authorization.k8s.io", "v1"),
            "RbacAuthorizationV1"
        );
        assert_eq!(
            group_version_ident("flowcontrol.apiserver.k8s.io", "v1"),
            "FlowcontrolApiserverV1"
        );
        assert_eq!(
            group_version_ident("storage.k8s.io", "v1beta1"),
            "StorageV1beta1"
        );
        assert_eq!(
            group_version_ident("stable.example.com", "v1"),
            "StableExampleComV1"
        );
    }

    #[test]
    fn tags_are_lower_camel_with_version() {
        assert_eq!(tag("", "v1"), "core_v1");
        assert_eq!(
            tag("rbac.authorization.k8s.io", "v1"),
            "rbacAuthorization_v1"
        );
    }

    #[test]
    fn untyped_schema_names_reverse_the_group() {
        assert_eq!(
            untyped_schema_name("stable.example.com", "v1", "CronTab"),
            "com.example.stable.v1.CronTab"
        );
        assert_eq!(
            untyped_schema_name("", "v1", "Thing"),
            "io.k8s.api.core.v1.Thing"
        );
        assert_eq!(
            untyped_schema_name("apps", "v1", "Thing"),
            "io.k8s.api.apps.v1.Thing"
        );
    }

    #[test]
    fn odd_group_names_do_not_panic() {
        assert_eq!(group_ident("..."), "");
        assert_eq!(group_ident("é.x"), "ÉX");
        assert_eq!(tag("...", "v1"), "_v1");
        assert_eq!(capitalize(""), "");
    }
}
