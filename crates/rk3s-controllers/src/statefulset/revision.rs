//! ControllerRevisions of StatefulSets and DaemonSets without I/O: what a revision stores, its
//! name, which existing one equals a template, and which old ones may go.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use serde_json::{Value, json};

use crate::deployment::hash::template_hash;

/// Label on pods naming the revision they were made from.
pub const REVISION_LABEL: &str = "controller-revision-hash";
/// Label upstream puts on every ControllerRevision with its hash.
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// What a revision stores: the template as the strategic-merge patch that restores it, the form
/// `kubectl rollout undo` applies back onto the owner.
pub fn revision_data(template: &PodTemplateSpec) -> Value {
    let mut t = serde_json::to_value(template).unwrap_or_else(|_| json!({}));
    if let Some(m) = t.as_object_mut() {
        m.insert("$patch".into(), Value::String("replace".into()));
    }
    json!({"spec": {"template": t}})
}

/// The hash part of a revision's name (`<owner>-<hash>`), changed by the collision count.
pub fn revision_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    template_hash(template, collision_count)
}

/// The template a revision restores, if its data holds one.
pub fn template_of(rev: &ControllerRevision) -> Option<PodTemplateSpec> {
    let data = rev.data.as_ref()?;
    let mut t = data.0.pointer("/spec/template")?.clone();
    if let Some(m) = t.as_object_mut() {
        m.remove("$patch");
    }
    serde_json::from_value(t).ok()
}

/// True when `rev` restores exactly `template` (up to empty-versus-absent fields).
pub fn restores(rev: &ControllerRevision, template: &PodTemplateSpec) -> bool {
    template_of(rev).is_some_and(|t| crate::deployment::hash::templates_equal(&t, template))
}

/// The revision number the next new (or re-used) revision gets.
pub fn next_number(revisions: &[ControllerRevision]) -> i64 {
    revisions.iter().map(|r| r.revision).max().unwrap_or(0) + 1
}

/// The newest revision that restores `template`.
pub fn find_equal<'a>(
    revisions: &'a [ControllerRevision],
    template: &PodTemplateSpec,
) -> Option<&'a ControllerRevision> {
    revisions
        .iter()
        .filter(|r| restores(r, template))
        .max_by_key(|r| r.revision)
}

/// A new revision of `template` for the owner, named `<owner>-<hash>`.
pub struct NewRevision<'a> {
    pub owner: OwnerReference,
    pub namespace: &'a str,
    pub template: &'a PodTemplateSpec,
    pub hash: &'a str,
    pub number: i64,
}

pub fn new_revision(r: NewRevision<'_>) -> ControllerRevision {
    let mut labels: BTreeMap<String, String> = r
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(HASH_LABEL.into(), r.hash.into());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(format!("{}-{}", r.owner.name, r.hash)),
            namespace: Some(r.namespace.into()),
            labels: Some(labels),
            owner_references: Some(vec![r.owner]),
            ..Default::default()
        },
        data: Some(RawExtension(revision_data(r.template))),
        revision: r.number,
    }
}

/// Names of the oldest revisions beyond `limit` that neither the owner's current/update
/// revisions nor any live pod still use.
pub fn prunable(
    revisions: &[ControllerRevision],
    limit: i32,
    in_use: &BTreeSet<String>,
) -> Vec<String> {
    let keep = usize::try_from(limit.max(0)).unwrap_or(0);
    let mut idle: Vec<&ControllerRevision> = revisions
        .iter()
        .filter(|r| {
            r.metadata
                .name
                .as_ref()
                .is_some_and(|n| !in_use.contains(n))
        })
        .collect();
    if idle.len() <= keep {
        return Vec::new();
    }
    idle.sort_by_key(|r| r.revision);
    let excess = idle.len() - keep;
    idle.into_iter()
        .take(excess)
        .filter_map(|r| r.metadata.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(BTreeMap::from([("app".to_string(), "db".to_string())])),
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

    fn rev(image: &str, number: i64) -> ControllerRevision {
        let t = template(image);
        let hash = revision_hash(&t, None);
        new_revision(NewRevision {
            owner: crate::replicaset::decide::controller_ref("apps/v1", "StatefulSet", "db", "u"),
            namespace: "default",
            template: &t,
            hash: &hash,
            number,
        })
    }

    #[test]
    fn a_revision_is_named_after_its_owner_and_hash_and_restores_its_template() {
        let r = rev("redis:7", 1);
        let hash = revision_hash(&template("redis:7"), None);
        assert_eq!(
            r.metadata.name.as_deref(),
            Some(format!("db-{hash}").as_str())
        );
        assert_eq!(
            r.metadata.labels.as_ref().and_then(|l| l.get(HASH_LABEL)),
            Some(&hash)
        );
        assert!(restores(&r, &template("redis:7")));
        assert!(!restores(&r, &template("redis:8")));
        assert_eq!(
            r.data
                .as_ref()
                .and_then(|d| d.0.pointer("/spec/template/$patch").cloned()),
            Some(json!("replace"))
        );
    }

    #[test]
    fn revision_hashes_differ_by_template_and_collision_count() {
        let a = revision_hash(&template("a"), None);
        assert_eq!(a, revision_hash(&template("a"), None));
        assert_ne!(a, revision_hash(&template("b"), None));
        assert_ne!(a, revision_hash(&template("a"), Some(1)));
    }

    #[test]
    fn the_newest_equal_revision_is_found_and_numbers_grow() {
        let revs = vec![rev("a", 1), rev("b", 2), rev("a", 3)];
        assert_eq!(
            find_equal(&revs, &template("a")).map(|r| r.revision),
            Some(3)
        );
        assert!(find_equal(&revs, &template("c")).is_none());
        assert_eq!(next_number(&revs), 4);
        assert_eq!(next_number(&[]), 1);
    }

    #[test]
    fn garbage_data_restores_nothing() {
        let mut r = rev("a", 1);
        r.data = Some(RawExtension(json!({"spec": {"template": 42}})));
        assert!(template_of(&r).is_none());
        r.data = None;
        assert!(!restores(&r, &template("a")));
    }

    #[test]
    fn only_old_unused_revisions_beyond_the_limit_are_pruned() {
        let revs: Vec<ControllerRevision> = ["a", "b", "c", "d"]
            .iter()
            .zip(1..)
            .map(|(i, n)| rev(i, n))
            .collect();
        let name = |i: usize| revs[i].metadata.name.clone().unwrap_or_default();
        let in_use = BTreeSet::from([name(0), name(3)]);
        assert_eq!(prunable(&revs, 1, &in_use), vec![name(1)]);
        assert_eq!(prunable(&revs, 0, &in_use), vec![name(1), name(2)]);
        assert!(prunable(&revs, 10, &in_use).is_empty());
        assert_eq!(prunable(&revs, -5, &BTreeSet::new()).len(), 4);
    }
}
