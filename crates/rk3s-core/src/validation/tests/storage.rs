use serde_json::json;

use super::{create, errors};
use crate::defaults::apply;
use crate::validation::validate;

#[test]
fn config_keys_size_and_immutability_are_enforced() {
    let cm = json!({"data": {"good.key_1": "x", "bad key": "y", "..hidden": "z"}, "binaryData": {"good.key_1": "eA=="}});
    assert_eq!(
        errors("", "configmaps", None, &cm),
        vec![
            "data[..hidden]: Invalid value: \"..hidden\": must not start with '..'",
            "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            "data[good.key_1]: Invalid value: \"good.key_1\": duplicate of key present in binaryData",
        ]
    );
    let big = json!({"data": {"a": "x".repeat(1024 * 1024)}});
    let errs = validate("", "configmaps", None, &big);
    assert_eq!(errs.len(), 1);
    assert_eq!(
        (errs[0].reason, errs[0].field.as_str()),
        ("FieldValueTooLong", "")
    );
    assert_eq!(
        errs[0].message,
        "Too long: may not be more than 1048576 bytes"
    );
    let exact = json!({"data": {"a": "x".repeat(1024 * 1024 - 1)}});
    assert!(validate("", "configmaps", None, &exact).is_empty());

    let old = json!({"immutable": true, "data": {"a": "1"}});
    let same = old.clone();
    assert!(validate("", "configmaps", Some(&old), &same).is_empty());
    let changed = json!({"immutable": true, "data": {"a": "2"}});
    assert_eq!(
        errors("", "configmaps", Some(&old), &changed),
        vec!["data: Forbidden: field is immutable when `immutable` is set"]
    );
    let unlocked = json!({"immutable": false, "data": {"a": "1"}});
    assert_eq!(
        errors("", "configmaps", Some(&old), &unlocked),
        vec!["immutable: Forbidden: field is immutable when `immutable` is set"]
    );
}

#[test]
fn secret_type_is_immutable_and_typed_secrets_need_their_keys() {
    let mut old = json!({"data": {"password": "aHVudGVyMg=="}});
    apply("", "secrets", &mut old);
    assert!(validate("", "secrets", None, &old).is_empty());
    let mut new = old.clone();
    new["type"] = json!("kubernetes.io/tls");
    assert_eq!(
        errors("", "secrets", Some(&old), &new),
        vec![
            "data[tls.crt]: Required value",
            "data[tls.key]: Required value",
            "type: Invalid value: \"kubernetes.io/tls\": field is immutable",
        ]
    );
    let sa = json!({"type": "kubernetes.io/service-account-token"});
    assert_eq!(
        errors("", "secrets", None, &sa),
        vec!["metadata.annotations[kubernetes.io/service-account.name]: Required value"]
    );
    let big = json!({"data": {"blob": "A".repeat(1_400_000)}});
    assert_eq!(
        errors("", "secrets", None, &big),
        vec!["data: Too long: may not be more than 1048576 bytes"]
    );
}

#[test]
fn pvc_needs_access_modes_and_storage_and_may_only_grow() {
    assert_eq!(
        create("", "persistentvolumeclaims", json!({"spec": {}})),
        vec![
            "spec.accessModes: Required value: at least 1 access mode is required",
            "spec.resources[storage]: Required value"
        ]
    );
    assert_eq!(
        create(
            "",
            "persistentvolumeclaims",
            json!({"spec": {"accessModes": ["ReadWriteSometimes"], "resources": {"requests": {"storage": "0"}}}})
        ),
        vec![
            "spec.accessModes: Unsupported value: \"ReadWriteSometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
            "spec.resources[storage]: Invalid value: \"0\": must be greater than zero",
        ]
    );
    let mut old = json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeName": "pv-1"}});
    apply("", "persistentvolumeclaims", &mut old);
    let mut grown = old.clone();
    grown["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
    assert!(validate("", "persistentvolumeclaims", Some(&old), &grown).is_empty());
    let mut shrunk = old.clone();
    shrunk["spec"]["resources"]["requests"]["storage"] = json!("512Mi");
    assert_eq!(
        errors("", "persistentvolumeclaims", Some(&old), &shrunk),
        vec![
            "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"
        ]
    );
    let mut moved = old.clone();
    moved["spec"]["storageClassName"] = json!("fast");
    assert_eq!(
        errors("", "persistentvolumeclaims", Some(&old), &moved),
        vec![
            "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
        ]
    );
}

#[test]
fn pv_needs_capacity_and_one_source() {
    assert_eq!(
        create(
            "",
            "persistentvolumes",
            json!({"spec": {"accessModes": ["ReadWriteOnce"]}})
        ),
        vec![
            "spec.capacity: Required value",
            "spec: Required value: must specify a volume type"
        ]
    );
    let ok = json!({"spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "5Gi"}, "hostPath": {"path": "/data"}}});
    assert_eq!(create("", "persistentvolumes", ok), Vec::<String>::new());
}
