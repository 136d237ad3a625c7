//! Tests of CRD handling on realistic definitions (a CronTab with versions v1 and v2) and hostile
//! input, with the shared fixtures.

use serde_json::{Value, json};

use super::*;

mod definition;
mod objects;
mod properties;
mod serving;

pub(super) fn crontab_spec_schema() -> Value {
    json!({
        "type": "object",
        "required": ["cronSpec"],
        "properties": {
            "cronSpec": {"type": "string", "pattern": "^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$"},
            "image": {"type": "string", "default": "busybox"},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
            "mode": {"type": "string", "enum": ["Fast", "Slow"]},
            "ports": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "port": {"type": "integer", "format": "int32", "default": 80},
                        "protocol": {"type": "string", "default": "TCP"},
                    },
                },
            },
            "env": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "value": {"type": "string"},
                        "secret": {"type": "boolean", "default": false},
                    },
                },
            },
            "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                       "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
            "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                         "x-kubernetes-preserve-unknown-fields": true},
            "podTemplate": {"type": "object", "x-kubernetes-embedded-resource": true,
                            "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}}},
            "port": {"x-kubernetes-int-or-string": true},
        },
    })
}

pub(super) fn crontab_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "crontabs.stable.example.com"},
        "spec": {
            "group": "stable.example.com",
            "scope": "Namespaced",
            "names": {
                "plural": "crontabs",
                "kind": "CronTab",
                "shortNames": ["ct"],
                "categories": ["all", "example"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": true,
                    "storage": true,
                    "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": crontab_spec_schema(),
                            "status": {
                                "type": "object",
                                "properties": {
                                    "replicas": {"type": "integer"},
                                    "labelSelector": {"type": "string"},
                                },
                            },
                        },
                    }},
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.labelSelector",
                        },
                    },
                    "additionalPrinterColumns": [
                        {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
                        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                },
                {
                    "name": "v2",
                    "served": true,
                    "storage": false,
                    "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "properties": {
                                "schedule": {"type": "string"},
                                "replicas": {"type": "integer"},
                            }},
                        },
                    }},
                },
                {
                    "name": "v1beta1",
                    "served": false,
                    "storage": false,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                },
            ],
        },
    })
}

pub(super) fn defaulted_crd() -> Value {
    let mut crd = crontab_crd();
    default_crd(&mut crd);
    crd
}

pub(super) fn v1() -> StructuralSchema {
    StructuralSchema::from_crd_version(&defaulted_crd(), "v1").unwrap()
}

pub(super) fn texts(errs: &[FieldError]) -> Vec<String> {
    errs.iter().map(ToString::to_string).collect()
}

pub(super) fn schema_of(props: Value) -> StructuralSchema {
    StructuralSchema::from_schema(
        &json!({"type": "object", "properties": {"spec": {"type": "object", "properties": props}}}),
    )
    .unwrap()
}

pub(super) fn errors_for(props: Value, spec: Value) -> Vec<String> {
    texts(&schema_of(props).validate(&json!({"spec": spec})))
}
