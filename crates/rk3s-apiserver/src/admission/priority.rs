//! The Priority admission plugin: a new pod's `priorityClassName` (or the global default class)
//! becomes its `spec.priority` and `spec.preemptionPolicy`; an update keeps what creation set;
//! at most one PriorityClass may be the global default. Pure decisions over the stored classes
//! ([`resolve_pod`], [`check_class`], [`keep_on_update`]) and the store-reading entry point
//! [`admit`].

use rk3s_core::ResourceType;
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::objects;

/// Upstream's built-in classes, created at start-up: (name, value, description).
pub const SYSTEM_CLASSES: [(&str, i64, &str); 2] = [
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
];

/// Why a pod or PriorityClass is refused; the messages are upstream's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriorityError {
    #[error("no PriorityClass with name {0} was found")]
    UnknownClass(String),
    #[error(
        "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {computed} from the given PriorityClass name"
    )]
    PriorityMismatch { given: i64, computed: i64 },
    #[error(
        "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {computed} from the given PriorityClass name"
    )]
    PolicyMismatch { given: String, computed: String },
    #[error("PriorityClass {0} is already marked as default. Only one default can exist")]
    SecondDefault(String),
}

/// The fields of a stored PriorityClass that admission reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    pub name: String,
    pub value: i64,
    pub preemption_policy: Option<String>,
    pub global_default: bool,
}

impl Class {
    /// `None` for an object without a name (nothing can refer to it).
    pub fn from_object(obj: &Value) -> Option<Class> {
        let name = objects::name(obj);
        if name.is_empty() {
            return None;
        }
        Some(Class {
            name: name.to_string(),
            value: obj.get("value").and_then(Value::as_i64).unwrap_or(0),
            preemption_policy: obj
                .get("preemptionPolicy")
                .and_then(Value::as_str)
                .map(str::to_string),
            global_default: obj.get("globalDefault").and_then(Value::as_bool) == Some(true),
        })
    }
}

/// The global default class; with several (a race between creations), the lowest value wins,
/// as upstream picks it.
pub fn default_class(classes: &[Class]) -> Option<&Class> {
    classes
        .iter()
        .filter(|c| c.global_default)
        .min_by_key(|c| c.value)
}

/// Sets a new pod's priority, preemption policy and (from the default class) class name.
pub fn resolve_pod(pod: &mut Value, classes: &[Class]) -> Result<(), PriorityError> {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let class_name = spec
        .get("priorityClassName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (priority, policy) = if class_name.is_empty() {
        match default_class(classes) {
            Some(c) => {
                spec.insert("priorityClassName".into(), json!(c.name));
                (c.value, c.preemption_policy.clone())
            }
            None => (0, Some("PreemptLowerPriority".to_string())),
        }
    } else {
        let c = classes
            .iter()
            .find(|c| c.name == class_name)
            .ok_or_else(|| PriorityError::UnknownClass(class_name.clone()))?;
        (c.value, c.preemption_policy.clone())
    };
    match spec.get("priority") {
        None | Some(Value::Null) => {}
        Some(given) => {
            let given = given.as_i64().unwrap_or(i64::MIN);
            if given != priority {
                return Err(PriorityError::PriorityMismatch {
                    given,
                    computed: priority,
                });
            }
        }
    }
    spec.insert("priority".into(), json!(priority));
    if let Some(policy) = policy {
        if let Some(given) = spec.get("preemptionPolicy").and_then(Value::as_str)
            && given != policy
        {
            return Err(PriorityError::PolicyMismatch {
                given: given.to_string(),
                computed: policy,
            });
        }
        spec.insert("preemptionPolicy".into(), json!(policy));
    }
    Ok(())
}

/// A replacement pod that leaves out the priority fields keeps the ones creation set
/// (validation forbids changing them, so only their absence needs care).
pub fn keep_on_update(old: &Value, new: &mut Value) {
    let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for field in ["priority", "preemptionPolicy"] {
        let absent = spec.get(field).is_none_or(Value::is_null);
        if absent && let Some(v) = old.pointer(&format!("/spec/{field}")) {
            spec.insert(field.into(), v.clone());
        }
    }
}

/// A class may become the global default only while no other class is.
pub fn check_class(class: &Value, is_create: bool, classes: &[Class]) -> Result<(), PriorityError> {
    if class.get("globalDefault").and_then(Value::as_bool) != Some(true) {
        return Ok(());
    }
    let name = objects::name(class);
    match default_class(classes) {
        Some(d) if is_create || d.name != name => Err(PriorityError::SecondDefault(d.name.clone())),
        _ => Ok(()),
    }
}

fn is_pods(rt: &ResourceType) -> bool {
    rt.group.is_empty() && rt.plural == "pods"
}

fn is_priority_classes(rt: &ResourceType) -> bool {
    rt.group == "scheduling.k8s.io" && rt.plural == "priorityclasses"
}

/// Whether [`admit`] has anything to do for this write (so other writes skip the store read).
pub fn applies(rt: &ResourceType, subresource: Option<&str>, is_create: bool) -> bool {
    subresource.is_none() && ((is_pods(rt) && is_create) || is_priority_classes(rt))
}

async fn stored_classes(state: &crate::ApiState) -> ApiResult<Vec<Class>> {
    let surface = state.surface();
    let Some(rt) = surface.registry.all().find(|t| is_priority_classes(t)) else {
        return Ok(Vec::new());
    };
    let res = state
        .store
        .list(rk3s_store::ListRequest {
            prefix: rt.list_prefix(None),
            ..Default::default()
        })
        .await?;
    Ok(res
        .kvs
        .iter()
        .filter_map(|kv| objects::from_kv(kv).ok())
        .filter_map(|o| Class::from_object(&o))
        .collect())
}

/// Runs the plugin on a create (`is_create`) or update of a pod or PriorityClass; a refusal is
/// 403 Forbidden, as upstream's admission errors are.
pub async fn admit(
    state: &crate::ApiState,
    rt: &ResourceType,
    subresource: Option<&str>,
    is_create: bool,
    obj: &mut Value,
) -> ApiResult<()> {
    if !applies(rt, subresource, is_create) {
        return Ok(());
    }
    let classes = stored_classes(state).await?;
    let result = if is_pods(rt) {
        resolve_pod(obj, &classes)
    } else {
        check_class(obj, is_create, &classes)
    };
    result.map_err(|e| super::forbidden(rt, obj, e.to_string()))
}

/// The built-in classes as stored objects (without uid and timestamp, which the caller adds).
pub fn system_class_objects() -> Vec<Value> {
    SYSTEM_CLASSES
        .iter()
        .map(|(name, value, description)| {
            json!({
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": value,
                "description": description,
                "globalDefault": false,
                "preemptionPolicy": "PreemptLowerPriority",
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, value: i64, policy: Option<&str>, default: bool) -> Class {
        Class {
            name: name.into(),
            value,
            preemption_policy: policy.map(str::to_string),
            global_default: default,
        }
    }

    fn pod(spec: Value) -> Value {
        json!({"metadata": {"name": "p"}, "spec": spec})
    }

    #[test]
    fn named_class_sets_priority_and_policy() {
        let classes = [class("high", 1000, Some("Never"), false)];
        let mut p = pod(json!({"priorityClassName": "high"}));
        resolve_pod(&mut p, &classes).unwrap();
        assert_eq!(p["spec"]["priority"], 1000);
        assert_eq!(p["spec"]["preemptionPolicy"], "Never");
    }

    #[test]
    fn no_class_and_no_default_means_zero_and_preempt_lower_priority() {
        let mut p = pod(json!({}));
        resolve_pod(&mut p, &[class("high", 1000, None, false)]).unwrap();
        assert_eq!(p["spec"]["priority"], 0);
        assert_eq!(p["spec"]["preemptionPolicy"], "PreemptLowerPriority");
        assert!(p["spec"].get("priorityClassName").is_none());
    }

    #[test]
    fn no_class_takes_the_lowest_global_default() {
        let classes = [
            class("b", 50, Some("PreemptLowerPriority"), true),
            class("a", 7, Some("Never"), true),
            class("c", 1, None, false),
        ];
        let mut p = pod(json!({"priorityClassName": ""}));
        resolve_pod(&mut p, &classes).unwrap();
        assert_eq!(p["spec"]["priorityClassName"], "a");
        assert_eq!(p["spec"]["priority"], 7);
        assert_eq!(p["spec"]["preemptionPolicy"], "Never");
    }

    #[test]
    fn unknown_class_is_refused_with_upstreams_message() {
        let mut p = pod(json!({"priorityClassName": "foo"}));
        let e = resolve_pod(&mut p, &[]).unwrap_err();
        assert_eq!(e.to_string(), "no PriorityClass with name foo was found");
    }

    #[test]
    fn client_set_priority_must_agree() {
        let classes = [class("high", 1000, None, false)];
        let mut p = pod(json!({"priorityClassName": "high", "priority": 1000}));
        assert!(resolve_pod(&mut p, &classes).is_ok());
        let mut p = pod(json!({"priorityClassName": "high", "priority": 5}));
        assert_eq!(
            resolve_pod(&mut p, &classes).unwrap_err().to_string(),
            "the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name"
        );
        let mut p = pod(json!({"priority": 3}));
        assert_eq!(
            resolve_pod(&mut p, &[]),
            Err(PriorityError::PriorityMismatch {
                given: 3,
                computed: 0
            })
        );
    }

    #[test]
    fn non_integer_priority_is_refused_not_panicked_on() {
        let mut p = pod(json!({"priority": "lots"}));
        assert!(matches!(
            resolve_pod(&mut p, &[]),
            Err(PriorityError::PriorityMismatch { .. })
        ));
    }

    #[test]
    fn client_set_policy_must_agree_with_the_class() {
        let classes = [class("quiet", 10, Some("Never"), false)];
        let mut p =
            pod(json!({"priorityClassName": "quiet", "preemptionPolicy": "PreemptLowerPriority"}));
        assert_eq!(
            resolve_pod(&mut p, &classes).unwrap_err().to_string(),
            "the string value of PreemptionPolicy (PreemptLowerPriority) must not be provided in pod spec; priority admission controller computed Never from the given PriorityClass name"
        );
    }

    #[test]
    fn pods_without_a_spec_object_are_left_to_validation() {
        let mut p = json!({"spec": "nonsense"});
        assert!(resolve_pod(&mut p, &[]).is_ok());
        assert_eq!(p, json!({"spec": "nonsense"}));
    }

    #[test]
    fn update_keeps_the_priority_creation_set() {
        let old = pod(json!({"priority": 1000, "preemptionPolicy": "Never"}));
        let mut new = pod(json!({"containers": []}));
        keep_on_update(&old, &mut new);
        assert_eq!(new["spec"]["priority"], 1000);
        assert_eq!(new["spec"]["preemptionPolicy"], "Never");
        let mut changed = pod(json!({"priority": 1}));
        keep_on_update(&old, &mut changed);
        assert_eq!(
            changed["spec"]["priority"], 1,
            "validation refuses it later"
        );
    }

    #[test]
    fn only_one_class_may_be_the_global_default() {
        let classes = [class("first", 1, None, true)];
        let second = json!({"metadata": {"name": "second"}, "value": 2, "globalDefault": true});
        assert_eq!(
            check_class(&second, true, &classes)
                .unwrap_err()
                .to_string(),
            "PriorityClass first is already marked as default. Only one default can exist"
        );
        assert!(check_class(&second, false, &classes).is_err());
        let same = json!({"metadata": {"name": "first"}, "value": 1, "globalDefault": true});
        assert!(check_class(&same, false, &classes).is_ok());
        let plain = json!({"metadata": {"name": "other"}, "value": 2});
        assert!(check_class(&plain, true, &classes).is_ok());
        assert!(check_class(&second, true, &[]).is_ok());
    }

    #[test]
    fn system_classes_have_upstreams_values() {
        let objs = system_class_objects();
        let value_of = |n: &str| {
            objs.iter()
                .find(|o| o["metadata"]["name"] == n)
                .map(|o| o["value"].clone())
        };
        assert_eq!(value_of("system-node-critical"), Some(json!(2_000_001_000)));
        assert_eq!(
            value_of("system-cluster-critical"),
            Some(json!(2_000_000_000))
        );
    }
}
