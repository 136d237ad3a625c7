//! Printers for storage kinds: volumes, claims, storage classes and CSI objects.

use serde_json::Value;

use super::fields::{
    age, annotation, get, is_deleting, items, name, non_empty, opt_bool, opt_str, quantity, text,
};
use super::{AGE, Column, NAME, Printer};

pub(crate) fn core_printer(plural: &str) -> Option<&'static Printer> {
    match plural {
        "persistentvolumes" => Some(&PERSISTENT_VOLUMES),
        "persistentvolumeclaims" => Some(&PERSISTENT_VOLUME_CLAIMS),
        _ => None,
    }
}

pub(crate) fn printer(plural: &str) -> Option<&'static Printer> {
    match plural {
        "storageclasses" => Some(&STORAGE_CLASSES),
        "volumeattachments" => Some(&VOLUME_ATTACHMENTS),
        "csidrivers" => Some(&CSI_DRIVERS),
        "csinodes" => Some(&CSI_NODES),
        "csistoragecapacities" => Some(&CSI_STORAGE_CAPACITIES),
        "volumeattributesclasses" => Some(&VOLUME_ATTRIBUTES_CLASSES),
        _ => None,
    }
}

/// The legacy annotation that, when present, overrides `storageClassName`.
const BETA_STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

/// `RWO,ROX,RWX,RWOP` in that fixed order, each at most once.
fn access_modes(obj: &Value, path: &[&str]) -> String {
    let modes = items(obj, path);
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| has(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

fn storage_class(obj: &Value) -> &str {
    annotation(obj, BETA_STORAGE_CLASS_ANNOTATION)
        .unwrap_or_else(|| text(obj, &["spec", "storageClassName"]))
}

const VOLUME_MODE: Column = Column::wide("VolumeMode", "string", "Filesystem or Block.");

const PERSISTENT_VOLUMES: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Capacity", "string", "The volume's storage capacity."),
        Column::new("Access Modes", "string", "How the volume may be mounted."),
        Column::new(
            "Reclaim Policy",
            "string",
            "What happens to the volume when released.",
        ),
        Column::new("Status", "string", "The volume's phase."),
        Column::new(
            "Claim",
            "string",
            "The claim bound to the volume, as namespace/name.",
        ),
        Column::new("StorageClass", "string", "The volume's storage class."),
        Column::new(
            "VolumeAttributesClass",
            "string",
            "The volume's attributes class.",
        ),
        Column::new("Reason", "string", "Why the volume is in its phase."),
        AGE,
        VOLUME_MODE,
    ],
    cells: |obj, now| {
        let claim = match get(obj, &["spec", "claimRef"]) {
            Some(c) => format!("{}/{}", text(c, &["namespace"]), text(c, &["name"])),
            None => String::new(),
        };
        let phase = if is_deleting(obj) {
            "Terminating"
        } else {
            text(obj, &["status", "phase"])
        };
        vec![
            name(obj).into(),
            quantity(obj, &["spec", "capacity", "storage"])
                .unwrap_or_else(|| "0".to_owned())
                .into(),
            access_modes(obj, &["spec", "accessModes"]).into(),
            text(obj, &["spec", "persistentVolumeReclaimPolicy"]).into(),
            phase.into(),
            claim.into(),
            storage_class(obj).into(),
            opt_str(obj, &["spec", "volumeAttributesClassName"])
                .unwrap_or("<unset>")
                .into(),
            text(obj, &["status", "reason"]).into(),
            age(obj, now).into(),
            opt_str(obj, &["spec", "volumeMode"])
                .unwrap_or("<unset>")
                .into(),
        ]
    },
};

const PERSISTENT_VOLUME_CLAIMS: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Status", "string", "The claim's phase."),
        Column::new("Volume", "string", "The volume bound to the claim."),
        Column::new("Capacity", "string", "The bound volume's capacity."),
        Column::new(
            "Access Modes",
            "string",
            "How the bound volume may be mounted.",
        ),
        Column::new("StorageClass", "string", "The claim's storage class."),
        Column::new(
            "VolumeAttributesClass",
            "string",
            "The claim's attributes class.",
        ),
        AGE,
        VOLUME_MODE,
    ],
    cells: |obj, now| {
        let phase = if is_deleting(obj) {
            "Terminating"
        } else {
            text(obj, &["status", "phase"])
        };
        let volume = text(obj, &["spec", "volumeName"]);
        // Capacity and modes describe the bound volume, so an unbound claim shows neither.
        let (capacity, modes) = if volume.is_empty() {
            (String::new(), String::new())
        } else {
            (
                quantity(obj, &["status", "capacity", "storage"]).unwrap_or_else(|| "0".to_owned()),
                access_modes(obj, &["status", "accessModes"]),
            )
        };
        vec![
            name(obj).into(),
            phase.into(),
            volume.into(),
            capacity.into(),
            modes.into(),
            storage_class(obj).into(),
            non_empty(obj, &["spec", "volumeAttributesClassName"])
                .unwrap_or("<unset>")
                .into(),
            age(obj, now).into(),
            opt_str(obj, &["spec", "volumeMode"])
                .unwrap_or("<unset>")
                .into(),
        ]
    },
};

const STORAGE_CLASSES: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "Provisioner",
            "string",
            "The volume plugin that provisions volumes.",
        ),
        Column::new(
            "ReclaimPolicy",
            "string",
            "The reclaim policy of provisioned volumes.",
        ),
        Column::new(
            "VolumeBindingMode",
            "string",
            "When volumes are bound and provisioned.",
        ),
        Column::new(
            "AllowVolumeExpansion",
            "string",
            "Whether claims may be resized.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        let is_default = [
            "storageclass.kubernetes.io/is-default-class",
            "storageclass.beta.kubernetes.io/is-default-class",
        ]
        .iter()
        .any(|key| annotation(obj, key) == Some("true"));
        let shown_name = if is_default {
            format!("{} (default)", name(obj))
        } else {
            name(obj).to_owned()
        };
        vec![
            shown_name.into(),
            text(obj, &["provisioner"]).into(),
            opt_str(obj, &["reclaimPolicy"]).unwrap_or("Delete").into(),
            opt_str(obj, &["volumeBindingMode"])
                .unwrap_or("Immediate")
                .into(),
            opt_bool(obj, &["allowVolumeExpansion"])
                .unwrap_or(false)
                .into(),
            age(obj, now).into(),
        ]
    },
};

const VOLUME_ATTACHMENTS: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Attacher", "string", "The driver that attaches the volume."),
        Column::new("PV", "string", "The persistent volume attached."),
        Column::new("Node", "string", "The node the volume is attached to."),
        Column::new(
            "Attached",
            "boolean",
            "Whether the attach operation succeeded.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        vec![
            name(obj).into(),
            text(obj, &["spec", "attacher"]).into(),
            text(obj, &["spec", "source", "persistentVolumeName"]).into(),
            text(obj, &["spec", "nodeName"]).into(),
            opt_bool(obj, &["status", "attached"])
                .unwrap_or(false)
                .into(),
            age(obj, now).into(),
        ]
    },
};

const CSI_DRIVERS: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "AttachRequired",
            "boolean",
            "Whether volumes need an attach operation.",
        ),
        Column::new(
            "PodInfoOnMount",
            "boolean",
            "Whether pod information is passed on mount.",
        ),
        Column::new(
            "StorageCapacity",
            "boolean",
            "Whether the driver reports storage capacity.",
        ),
        Column::new(
            "TokenRequests",
            "string",
            "Audiences of service account tokens passed on mount.",
        ),
        Column::new(
            "RequiresRepublish",
            "boolean",
            "Whether volumes are periodically remounted.",
        ),
        Column::new("Modes", "string", "The volume lifecycle modes supported."),
        AGE,
    ],
    cells: |obj, now| {
        let modes: Vec<&str> = items(obj, &["spec", "volumeLifecycleModes"])
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let modes = if modes.is_empty() {
            "<none>".to_owned()
        } else {
            modes.join(",")
        };
        let tokens = match get(obj, &["spec", "tokenRequests"]) {
            Some(list) => list
                .as_array()
                .map(|l| {
                    l.iter()
                        .map(|t| text(t, &["audience"]))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default(),
            None => "<unset>".to_owned(),
        };
        vec![
            name(obj).into(),
            opt_bool(obj, &["spec", "attachRequired"])
                .unwrap_or(true)
                .into(),
            opt_bool(obj, &["spec", "podInfoOnMount"])
                .unwrap_or(false)
                .into(),
            opt_bool(obj, &["spec", "storageCapacity"])
                .unwrap_or(false)
                .into(),
            tokens.into(),
            opt_bool(obj, &["spec", "requiresRepublish"])
                .unwrap_or(false)
                .into(),
            modes.into(),
            age(obj, now).into(),
        ]
    },
};

const CSI_NODES: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Drivers", "integer", "Number of CSI drivers on the node."),
        AGE,
    ],
    cells: |obj, now| {
        vec![
            name(obj).into(),
            items(obj, &["spec", "drivers"]).len().into(),
            age(obj, now).into(),
        ]
    },
};

const CSI_STORAGE_CAPACITIES: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "StorageClassName",
            "string",
            "The storage class the capacity is for.",
        ),
        Column::new("Capacity", "string", "The capacity available."),
    ],
    cells: |obj, _now| {
        vec![
            name(obj).into(),
            text(obj, &["storageClassName"]).into(),
            quantity(obj, &["capacity"])
                .unwrap_or_else(|| "<unset>".to_owned())
                .into(),
        ]
    },
};

const VOLUME_ATTRIBUTES_CLASSES: Printer = Printer {
    columns: &[
        NAME,
        Column::new("DriverName", "string", "The CSI driver of the class."),
        AGE,
    ],
    cells: |obj, now| {
        vec![
            name(obj).into(),
            text(obj, &["driverName"]).into(),
            age(obj, now).into(),
        ]
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn bound_persistent_volume_row() {
        let pv = json!({
            "metadata": {"name": "pvc-123", "creationTimestamp": "2024-05-01T11:00:00Z"},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "local-path",
                     "claimRef": {"namespace": "default", "name": "data"}, "volumeMode": "Filesystem"},
            "status": {"phase": "Bound"},
        });
        assert_eq!(
            (PERSISTENT_VOLUMES.cells)(&pv, now()),
            vec![
                json!("pvc-123"),
                json!("1Gi"),
                json!("RWO,RWX"),
                json!("Delete"),
                json!("Bound"),
                json!("default/data"),
                json!("local-path"),
                json!("<unset>"),
                json!(""),
                json!("60m"),
                json!("Filesystem"),
            ]
        );
    }

    #[test]
    fn claim_rows_bound_pending_and_deleting() {
        let bound = json!({
            "metadata": {"name": "data", "creationTimestamp": "2024-05-01T11:58:00Z"},
            "spec": {"volumeName": "pvc-123", "storageClassName": "local-path", "volumeMode": "Filesystem",
                     "resources": {"requests": {"storage": "500Mi"}}},
            "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]},
        });
        assert_eq!(
            (PERSISTENT_VOLUME_CLAIMS.cells)(&bound, now()),
            vec![
                json!("data"),
                json!("Bound"),
                json!("pvc-123"),
                json!("1Gi"),
                json!("RWO"),
                json!("local-path"),
                json!("<unset>"),
                json!("2m"),
                json!("Filesystem"),
            ]
        );
        let pending = json!({
            "metadata": {"name": "p", "annotations": {"volume.beta.kubernetes.io/storage-class": "old"}},
            "spec": {"storageClassName": "new"},
            "status": {"phase": "Pending"},
        });
        let row = (PERSISTENT_VOLUME_CLAIMS.cells)(&pending, now());
        assert_eq!(
            row[1..6],
            [
                json!("Pending"),
                json!(""),
                json!(""),
                json!(""),
                json!("old")
            ]
        );
        let deleting = json!({"metadata": {"name": "d", "deletionTimestamp": "2024-05-01T11:00:00Z"},
            "status": {"phase": "Bound"}});
        assert_eq!(
            (PERSISTENT_VOLUME_CLAIMS.cells)(&deleting, now())[1],
            json!("Terminating")
        );
    }

    #[test]
    fn default_storage_class_is_marked_and_defaults_fill_in() {
        let sc = json!({
            "metadata": {"name": "local-path", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer",
        });
        assert_eq!(
            (STORAGE_CLASSES.cells)(&sc, now())[..5],
            [
                json!("local-path (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("WaitForFirstConsumer"),
                json!(false)
            ]
        );
    }

    #[test]
    fn csi_rows() {
        let driver = json!({"metadata": {"name": "d"}, "spec": {"volumeLifecycleModes": ["Persistent", "Ephemeral"],
            "tokenRequests": [{"audience": "a"}, {"audience": "b"}]}});
        assert_eq!(
            (CSI_DRIVERS.cells)(&driver, now())[..7],
            [
                json!("d"),
                json!(true),
                json!(false),
                json!(false),
                json!("a,b"),
                json!(false),
                json!("Persistent,Ephemeral")
            ]
        );
        let cap = json!({"metadata": {"name": "c"}, "storageClassName": "fast"});
        assert_eq!(
            (CSI_STORAGE_CAPACITIES.cells)(&cap, now()),
            vec![json!("c"), json!("fast"), json!("<unset>")]
        );
        let va = json!({"metadata": {"name": "va"}, "spec": {"attacher": "x", "nodeName": "n",
            "source": {"persistentVolumeName": "pv"}}, "status": {"attached": true}});
        assert_eq!(
            (VOLUME_ATTACHMENTS.cells)(&va, now())[..5],
            [
                json!("va"),
                json!("x"),
                json!("pv"),
                json!("n"),
                json!(true)
            ]
        );
    }
}
