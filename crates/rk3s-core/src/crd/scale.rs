//! The `scale` subresource of custom resources: the autoscaling/v1 `Scale` view of an object
//! through the CRD's replica paths, and writing replicas back. Entry point: [`ScalePaths`].

use serde_json::{Map, Value, json};

use super::errors::CrdError;

/// The JSON paths a CRD version declares in `subresources.scale`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalePaths {
    /// Field names of `specReplicasPath` (`.spec.replicas` is `["spec", "replicas"]`).
    pub spec_replicas: Vec<String>,
    pub status_replicas: Vec<String>,
    pub label_selector: Option<Vec<String>>,
}

fn segments(path: &str) -> Option<Vec<String>> {
    let rest = path.strip_prefix('.')?;
    let segs: Vec<String> = rest.split('.').map(str::to_owned).collect();
    if segs.iter().any(String::is_empty) {
        return None;
    }
    Some(segs)
}

fn lookup<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, seg| v.get(seg))
}

impl ScalePaths {
    /// The scale paths of `version`, or `None` when it has no (well-formed) scale subresource.
    pub fn from_crd_version(crd: &Value, version: &str) -> Option<ScalePaths> {
        let entry = crd
            .pointer("/spec/versions")?
            .as_array()?
            .iter()
            .find(|v| v.get("name").and_then(Value::as_str) == Some(version))?;
        let scale = entry.pointer("/subresources/scale")?;
        let path = |k: &str| scale.get(k).and_then(Value::as_str).and_then(segments);
        Some(ScalePaths {
            spec_replicas: path("specReplicasPath")?,
            status_replicas: path("statusReplicasPath")?,
            label_selector: path("labelSelectorPath"),
        })
    }

    /// The `Scale` of `obj`: missing replica counts read as 0, as upstream reads them.
    pub fn scale(&self, obj: &Value) -> Value {
        let mut meta = Map::new();
        for k in [
            "name",
            "namespace",
            "uid",
            "resourceVersion",
            "creationTimestamp",
        ] {
            if let Some(v) = obj.get("metadata").and_then(|m| m.get(k)) {
                meta.insert(k.to_owned(), v.clone());
            }
        }
        let count = |path: &[String]| lookup(obj, path).and_then(Value::as_i64).unwrap_or(0);
        let mut status = json!({"replicas": count(&self.status_replicas)});
        if let Some(sel) = self
            .label_selector
            .as_deref()
            .and_then(|p| lookup(obj, p))
            .and_then(Value::as_str)
        {
            status["selector"] = Value::from(sel);
        }
        json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": meta,
            "spec": {"replicas": count(&self.spec_replicas)},
            "status": status,
        })
    }

    /// Writes `replicas` at the spec replicas path, creating missing maps on the way.
    pub fn set_replicas(&self, obj: &mut Value, replicas: i64) -> Result<(), CrdError> {
        let Some((last, parents)) = self.spec_replicas.split_last() else {
            return Err(CrdError::MissingField("specReplicasPath"));
        };
        let mut cur = obj;
        let mut walked = String::new();
        for seg in parents {
            let Value::Object(map) = cur else {
                return Err(CrdError::NotAnObject(walked));
            };
            let next = map
                .entry(seg.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if next.is_null() {
                *next = Value::Object(Map::new());
            }
            walked.push('.');
            walked.push_str(seg);
            cur = next;
        }
        let Value::Object(map) = cur else {
            return Err(CrdError::NotAnObject(walked));
        };
        map.insert(last.clone(), Value::from(replicas));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd() -> Value {
        json!({"spec": {"versions": [
            {"name": "v1", "subresources": {"scale": {
                "specReplicasPath": ".spec.replicas",
                "statusReplicasPath": ".status.replicas",
                "labelSelectorPath": ".status.labelSelector"}}},
            {"name": "v2", "subresources": {"status": {}}},
            {"name": "v3", "subresources": {"scale": {"specReplicasPath": "spec..x", "statusReplicasPath": ".status.r"}}},
        ]}})
    }

    #[test]
    fn scale_reads_replicas_and_selector_through_the_paths() {
        let paths = ScalePaths::from_crd_version(&crd(), "v1").unwrap();
        let obj = json!({
            "metadata": {"name": "t", "namespace": "ns", "uid": "u", "resourceVersion": "7", "labels": {"a": "b"}},
            "spec": {"replicas": 3},
            "status": {"replicas": 2, "labelSelector": "app=t"},
        });
        assert_eq!(
            paths.scale(&obj),
            json!({
                "kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": "t", "namespace": "ns", "uid": "u", "resourceVersion": "7"},
                "spec": {"replicas": 3},
                "status": {"replicas": 2, "selector": "app=t"},
            })
        );
        let empty = paths.scale(&json!({"metadata": {"name": "e"}, "spec": {"replicas": "x"}}));
        assert_eq!(empty["spec"]["replicas"], 0);
        assert_eq!(empty["status"], json!({"replicas": 0}));
    }

    #[test]
    fn versions_without_a_well_formed_scale_have_no_paths() {
        assert!(ScalePaths::from_crd_version(&crd(), "v2").is_none());
        assert!(ScalePaths::from_crd_version(&crd(), "v3").is_none());
        assert!(ScalePaths::from_crd_version(&crd(), "v9").is_none());
        assert!(ScalePaths::from_crd_version(&json!([]), "v1").is_none());
    }

    #[test]
    fn set_replicas_creates_the_path_and_refuses_scalars_on_the_way() {
        let paths = ScalePaths::from_crd_version(&crd(), "v1").unwrap();
        let mut obj = json!({"metadata": {"name": "t"}});
        paths.set_replicas(&mut obj, 5).unwrap();
        assert_eq!(obj["spec"], json!({"replicas": 5}));
        let mut obj = json!({"spec": null});
        paths.set_replicas(&mut obj, 1).unwrap();
        assert_eq!(obj["spec"]["replicas"], 1);
        let mut bad = json!({"spec": "oops"});
        assert_eq!(
            paths.set_replicas(&mut bad, 1),
            Err(CrdError::NotAnObject(".spec".into()))
        );
        assert_eq!(bad, json!({"spec": "oops"}));
    }
}
