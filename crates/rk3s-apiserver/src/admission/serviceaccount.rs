//! The ServiceAccount admission plugin on pod creation: the service account defaults to
//! `default` and must exist (403 otherwise); unless automounting is off on the pod (or, when the
//! pod does not say, on the service account), a projected `kube-api-access-<suffix>` volume —
//! bound token, root CA, namespace — is mounted read-only at [`TOKEN_MOUNT_PATH`] in every
//! container and init container; the service account's image pull secrets are copied to a
//! pod without any. Mirror pods are left alone. Pure steps ([`resolve_name`],
//! [`should_automount`], [`mount_token`], [`copy_image_pull_secrets`]) and the store-reading
//! entry point [`admit`].

use rk3s_core::ResourceType;
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::objects;

pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
pub const VOLUME_PREFIX: &str = "kube-api-access-";
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// Upstream's projected token lifetime: an hour, plus a few seconds so that a kubelet
/// refreshing at 80% is recognisable in audit logs.
pub const TOKEN_EXPIRATION_SECONDS: i64 = 3607;
/// `0644`.
const DEFAULT_MODE: i64 = 420;

/// Why a pod is refused; the message is upstream's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceAccountAdmissionError {
    #[error(
        "error looking up service account {namespace}/{name}: serviceaccount \"{name}\" not found"
    )]
    NotFound { namespace: String, name: String },
}

pub fn is_mirror_pod(pod: &Value) -> bool {
    pod.pointer("/metadata/annotations")
        .and_then(|a| a.get(MIRROR_ANNOTATION))
        .is_some()
}

/// The pod's service account — `serviceAccountName`, else the deprecated `serviceAccount`,
/// else `default` — written into both fields. `None` for a pod without a spec object (left to
/// validation).
pub fn resolve_name(pod: &mut Value) -> Option<String> {
    let spec = pod.get_mut("spec").and_then(Value::as_object_mut)?;
    let given = |f: &str| {
        spec.get(f)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let deprecated = given("serviceAccount");
    let name = given("serviceAccountName")
        .or_else(|| deprecated.clone())
        .unwrap_or_else(|| DEFAULT_SERVICE_ACCOUNT.to_string());
    spec.insert("serviceAccountName".into(), json!(name));
    if deprecated.is_none() {
        spec.insert("serviceAccount".into(), json!(name));
    }
    Some(name)
}

/// The pod's `automountServiceAccountToken` if set, else the service account's, else true.
pub fn should_automount(pod: &Value, sa: &Value) -> bool {
    pod.pointer("/spec/automountServiceAccountToken")
        .and_then(Value::as_bool)
        .or_else(|| {
            sa.get("automountServiceAccountToken")
                .and_then(Value::as_bool)
        })
        .unwrap_or(true)
}

/// The projected volume upstream mounts for a service account.
pub fn token_volume(name: &str) -> Value {
    json!({
        "name": name,
        "projected": {
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
                {"configMap": {"name": crate::rootca::CONFIGMAP_NAME,
                    "items": [{"key": crate::rootca::CA_KEY, "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace",
                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
            "defaultMode": DEFAULT_MODE,
        },
    })
}

/// Mount the token volume in every container and init container that has nothing at
/// [`TOKEN_MOUNT_PATH`] yet. A volume already named `kube-api-access-*` (a pod recreated from
/// its own manifest) is reused; otherwise one named with `suffix` is added when some
/// container needs it. Ephemeral containers are not touched, as upstream leaves them.
pub fn mount_token(pod: &mut Value, suffix: &str) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let existing = spec
        .get("volumes")
        .and_then(Value::as_array)
        .and_then(|vs| {
            vs.iter()
                .filter_map(|v| v.get("name").and_then(Value::as_str))
                .find(|n| n.starts_with(VOLUME_PREFIX))
        })
        .map(str::to_string);
    let volume_name = existing
        .clone()
        .unwrap_or_else(|| format!("{VOLUME_PREFIX}{suffix}"));
    let mount = json!({"name": volume_name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
    let mut mounted = false;
    for key in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(key).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in containers.iter_mut().filter_map(Value::as_object_mut) {
            let has_mount = c
                .get("volumeMounts")
                .and_then(Value::as_array)
                .is_some_and(|ms| {
                    ms.iter().any(|m| {
                        m.get("mountPath").and_then(Value::as_str) == Some(TOKEN_MOUNT_PATH)
                    })
                });
            if has_mount {
                continue;
            }
            match c.get_mut("volumeMounts") {
                Some(Value::Array(ms)) => ms.push(mount.clone()),
                // A non-list is validation's to refuse; leave it for that.
                Some(v) if !v.is_null() => continue,
                _ => {
                    c.insert("volumeMounts".into(), json!([mount.clone()]));
                }
            }
            mounted = true;
        }
    }
    if !mounted || existing.is_some() {
        return;
    }
    match spec.get_mut("volumes") {
        Some(Value::Array(vs)) => vs.push(token_volume(&volume_name)),
        Some(v) if !v.is_null() => {}
        _ => {
            spec.insert("volumes".into(), json!([token_volume(&volume_name)]));
        }
    }
}

/// A pod without image pull secrets gets the service account's.
pub fn copy_image_pull_secrets(pod: &mut Value, sa: &Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let has_own = spec
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if has_own {
        return;
    }
    let names: Vec<Value> = sa
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.get("name").and_then(Value::as_str))
                .map(|n| json!({"name": n}))
                .collect()
        })
        .unwrap_or_default();
    if !names.is_empty() {
        spec.insert("imagePullSecrets".into(), Value::Array(names));
    }
}

/// Whether [`admit`] has anything to do for this write.
pub fn applies(rt: &ResourceType, subresource: Option<&str>, is_create: bool) -> bool {
    rt.group.is_empty() && rt.plural == "pods" && subresource.is_none() && is_create
}

/// Runs the plugin on a pod create; must run before defaulting and validation so that what
/// it adds is checked like the rest of the pod.
pub async fn admit(
    state: &crate::ApiState,
    rt: &ResourceType,
    subresource: Option<&str>,
    is_create: bool,
    pod: &mut Value,
) -> ApiResult<()> {
    if !applies(rt, subresource, is_create) || is_mirror_pod(pod) {
        return Ok(());
    }
    let Some(name) = resolve_name(pod) else {
        return Ok(());
    };
    let namespace = objects::meta_str(pod, "namespace")
        .unwrap_or("")
        .to_string();
    let missing = || {
        let e = ServiceAccountAdmissionError::NotFound {
            namespace: namespace.clone(),
            name: name.clone(),
        };
        super::forbidden(rt, pod, e.to_string())
    };
    if namespace.is_empty() || name.contains('/') {
        return Err(missing());
    }
    let key = format!("/registry/serviceaccounts/{namespace}/{name}");
    let sa = match state.store.get(&key, 0).await? {
        Some(kv) => objects::from_kv(&kv)?,
        None => return Err(missing()),
    };
    if should_automount(pod, &sa) {
        mount_token(pod, &rk3s_core::names::random_suffix());
    }
    copy_image_pull_secrets(pod, &sa);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": spec})
    }

    fn c(name: &str) -> Value {
        json!({"name": name, "image": "busybox"})
    }

    #[test]
    fn service_account_defaults_to_default_in_both_fields() {
        let mut p = pod(json!({"containers": [c("a")]}));
        assert_eq!(resolve_name(&mut p).as_deref(), Some("default"));
        assert_eq!(p["spec"]["serviceAccountName"], "default");
        assert_eq!(p["spec"]["serviceAccount"], "default");
    }

    #[test]
    fn deprecated_field_names_the_service_account_when_the_new_one_is_empty() {
        let mut p = pod(json!({"serviceAccount": "builder", "serviceAccountName": ""}));
        assert_eq!(resolve_name(&mut p).as_deref(), Some("builder"));
        assert_eq!(p["spec"]["serviceAccountName"], "builder");
        let mut p = pod(json!({"serviceAccountName": "robot"}));
        assert_eq!(resolve_name(&mut p).as_deref(), Some("robot"));
        assert_eq!(p["spec"]["serviceAccount"], "robot");
    }

    #[test]
    fn a_pod_without_a_spec_object_is_left_to_validation() {
        let mut p = json!({"spec": 3});
        assert_eq!(resolve_name(&mut p), None);
        mount_token(&mut p, "abcde");
        assert_eq!(p, json!({"spec": 3}));
    }

    #[test]
    fn automount_follows_the_pod_then_the_service_account() {
        let sa_off = json!({"automountServiceAccountToken": false});
        let sa_plain = json!({});
        assert!(should_automount(&pod(json!({})), &sa_plain));
        assert!(!should_automount(&pod(json!({})), &sa_off));
        assert!(should_automount(
            &pod(json!({"automountServiceAccountToken": true})),
            &sa_off
        ));
        assert!(!should_automount(
            &pod(json!({"automountServiceAccountToken": false})),
            &sa_plain
        ));
    }

    #[test]
    fn every_container_and_init_container_mounts_the_token_volume() {
        let mut p = pod(json!({
            "initContainers": [c("init")],
            "containers": [c("a"), {"name": "b", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
            "ephemeralContainers": [c("debug")],
            "volumes": [{"name": "data", "emptyDir": {}}],
        }));
        mount_token(&mut p, "x7k2q");
        let mount = json!({"name": "kube-api-access-x7k2q", "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
        assert_eq!(
            p["spec"]["initContainers"][0]["volumeMounts"],
            json!([mount])
        );
        assert_eq!(p["spec"]["containers"][0]["volumeMounts"], json!([mount]));
        assert_eq!(p["spec"]["containers"][1]["volumeMounts"][1], mount);
        assert!(
            p["spec"]["ephemeralContainers"][0]
                .get("volumeMounts")
                .is_none()
        );
        let volumes = p["spec"]["volumes"].as_array().unwrap();
        assert_eq!(volumes.len(), 2);
        assert_eq!(volumes[1], token_volume("kube-api-access-x7k2q"));
        assert_eq!(volumes[1]["projected"]["defaultMode"], 420);
        assert_eq!(
            volumes[1]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
            3607
        );
    }

    #[test]
    fn an_existing_mount_at_the_token_path_is_kept_and_no_volume_added() {
        let own = json!({"name": "mine", "mountPath": TOKEN_MOUNT_PATH});
        let mut p =
            pod(json!({"containers": [{"name": "a", "image": "x", "volumeMounts": [own]}]}));
        mount_token(&mut p, "abcde");
        assert_eq!(p["spec"]["containers"][0]["volumeMounts"], json!([own]));
        assert!(p["spec"].get("volumes").is_none());
    }

    #[test]
    fn an_existing_kube_api_access_volume_is_reused() {
        let mut p = pod(json!({
            "containers": [c("a")],
            "volumes": [token_volume("kube-api-access-old12")],
        }));
        mount_token(&mut p, "new34");
        assert_eq!(
            p["spec"]["containers"][0]["volumeMounts"][0]["name"],
            "kube-api-access-old12"
        );
        assert_eq!(p["spec"]["volumes"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn malformed_mount_and_volume_lists_are_left_for_validation() {
        let mut p = pod(json!({
            "containers": [{"name": "a", "image": "x", "volumeMounts": "nope"}, 7],
            "volumes": "nope",
        }));
        mount_token(&mut p, "abcde");
        assert_eq!(p["spec"]["containers"][0]["volumeMounts"], "nope");
        assert_eq!(p["spec"]["volumes"], "nope");
    }

    #[test]
    fn image_pull_secrets_come_from_the_service_account_only_when_the_pod_has_none() {
        let sa = json!({"imagePullSecrets": [{"name": "reg"}, {"bogus": 1}]});
        let mut p = pod(json!({}));
        copy_image_pull_secrets(&mut p, &sa);
        assert_eq!(p["spec"]["imagePullSecrets"], json!([{"name": "reg"}]));
        let mut p = pod(json!({"imagePullSecrets": [{"name": "own"}]}));
        copy_image_pull_secrets(&mut p, &sa);
        assert_eq!(p["spec"]["imagePullSecrets"], json!([{"name": "own"}]));
    }

    #[test]
    fn missing_service_account_message_is_upstreams() {
        let e = ServiceAccountAdmissionError::NotFound {
            namespace: "default".into(),
            name: "ghost".into(),
        };
        assert_eq!(
            e.to_string(),
            "error looking up service account default/ghost: serviceaccount \"ghost\" not found"
        );
    }

    #[test]
    fn mirror_pods_are_recognised_by_annotation() {
        let mut p = pod(json!({}));
        assert!(!is_mirror_pod(&p));
        p["metadata"]["annotations"] = json!({MIRROR_ANNOTATION: "abc"});
        assert!(is_mirror_pod(&p));
    }
}
