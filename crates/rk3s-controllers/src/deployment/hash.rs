//! The `pod-template-hash` of a Deployment's template and template equality that ignores it.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::Value;

/// Label the Deployment controller adds to a ReplicaSet's selector, template and pods so that
/// the sets of one Deployment never select each other's pods.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// Characters a hash is spelt with: no vowels, so no words, and nothing that looks alike.
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A short, stable, DNS-label-safe hash of `template` (minus any hash label); `collision_count`
/// changes it when a ReplicaSet of that name already exists with another template.
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let canonical = normalized(template);
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    let mut h = fnv1a32(FNV_OFFSET, &bytes);
    if let Some(c) = collision_count {
        h = fnv1a32(h, &c.to_le_bytes());
    }
    h.to_string()
        .bytes()
        .map(|b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()]))
        .collect()
}

/// True when the two templates differ at most in the hash label and in empty-versus-absent fields.
pub fn templates_equal(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    normalized(a) == normalized(b)
}

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

fn fnv1a32(mut h: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// The template as JSON with the hash label and every empty value removed; object keys come out
/// sorted, so equal templates always serialise to equal bytes.
fn normalized(template: &PodTemplateSpec) -> Value {
    let mut v = serde_json::to_value(template).unwrap_or(Value::Null);
    if let Some(labels) = v
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(POD_TEMPLATE_HASH);
    }
    prune(&mut v);
    sort_keys(v)
}

fn prune(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.values_mut().for_each(prune);
            m.retain(|_, x| !is_empty(x));
        }
        Value::Array(a) => a.iter_mut().for_each(prune),
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn sort_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::collections::BTreeMap;

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn the_hash_is_stable_and_label_safe() {
        let h = template_hash(&template("busybox"), None);
        assert_eq!(h, template_hash(&template("busybox"), None));
        assert!(!h.is_empty() && h.len() <= 10);
        assert!(h.bytes().all(|b| ALPHABET.contains(&b)));
    }

    #[test]
    fn a_different_image_or_collision_count_changes_the_hash() {
        let a = template_hash(&template("busybox"), None);
        assert_ne!(a, template_hash(&template("nginx"), None));
        assert_ne!(a, template_hash(&template("busybox"), Some(1)));
        assert_ne!(
            template_hash(&template("busybox"), Some(1)),
            template_hash(&template("busybox"), Some(2))
        );
    }

    #[test]
    fn the_hash_label_does_not_change_hash_or_equality() {
        let plain = template("busybox");
        let mut labeled = plain.clone();
        if let Some(l) = labeled.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            l.insert(POD_TEMPLATE_HASH.into(), "abc".into());
        }
        assert!(templates_equal(&plain, &labeled));
        assert_eq!(template_hash(&plain, None), template_hash(&labeled, None));
    }

    #[test]
    fn empty_and_absent_fields_compare_equal() {
        let a = template("busybox");
        let mut b = a.clone();
        if let Some(s) = b.spec.as_mut() {
            s.volumes = Some(Vec::new());
            s.node_selector = Some(BTreeMap::new());
        }
        if let Some(m) = b.metadata.as_mut() {
            m.annotations = Some(BTreeMap::new());
        }
        assert!(templates_equal(&a, &b));
        assert!(!templates_equal(&a, &template("nginx")));
    }

    #[test]
    fn an_empty_template_still_hashes() {
        let h = template_hash(&PodTemplateSpec::default(), None);
        assert!(!h.is_empty());
    }
}
