use std::collections::BTreeMap;

use k8s_pb::api::coordination::v1 as coordination;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{RawExtension, TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use proptest::prelude::*;
use prost::Message as _;
use serde_json::{Value, json};

use super::*;

/// A body the way client-go frames it: magic, then `runtime.Unknown` around the object.
fn frame(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut body = MAGIC.to_vec();
    body.extend(unknown.encode_to_vec());
    body
}

/// Drops `null`s, which Go writes for zero structs such as `creationTimestamp` and JSON omits.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

fn fixture_matches_dry_run(pb: &[u8], dry_run_json: &str) {
    let decoded = decode(pb).expect("fixture decodes");
    let expected: Value = serde_json::from_str(dry_run_json).expect("fixture json parses");
    assert_eq!(decoded, without_nulls(expected));
}

const FIXTURES: &[(&str, &[u8])] = &[
    (
        "configmap",
        include_bytes!("../../tests/fixtures/protobuf/configmap.pb"),
    ),
    (
        "secret",
        include_bytes!("../../tests/fixtures/protobuf/secret.pb"),
    ),
    (
        "namespace",
        include_bytes!("../../tests/fixtures/protobuf/namespace.pb"),
    ),
    (
        "deployment",
        include_bytes!("../../tests/fixtures/protobuf/deployment.pb"),
    ),
    (
        "selfsubjectaccessreview",
        include_bytes!("../../tests/fixtures/protobuf/selfsubjectaccessreview.pb"),
    ),
    (
        "selfsubjectreview",
        include_bytes!("../../tests/fixtures/protobuf/selfsubjectreview.pb"),
    ),
];

#[test]
fn kubectl_create_configmap_body_matches_its_json_form_including_binary_data() {
    fixture_matches_dry_run(
        FIXTURES[0].1,
        include_str!("../../tests/fixtures/protobuf/configmap.json"),
    );
}

#[test]
fn kubectl_create_secret_body_matches_its_json_form() {
    fixture_matches_dry_run(
        FIXTURES[1].1,
        include_str!("../../tests/fixtures/protobuf/secret.json"),
    );
}

#[test]
fn kubectl_create_namespace_body_matches_its_json_form() {
    fixture_matches_dry_run(
        FIXTURES[2].1,
        include_str!("../../tests/fixtures/protobuf/namespace.json"),
    );
}

#[test]
fn kubectl_create_deployment_body_matches_its_json_form() {
    fixture_matches_dry_run(
        FIXTURES[3].1,
        include_str!("../../tests/fixtures/protobuf/deployment.json"),
    );
}

#[test]
fn kubectl_auth_can_i_body_is_a_self_subject_access_review() {
    let decoded = decode(FIXTURES[4].1).expect("fixture decodes");
    assert_eq!(
        decoded,
        json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "metadata": {},
            "spec": {"resourceAttributes": {"namespace": "default", "verb": "list", "resource": "pods"}},
            "status": {"allowed": false}
        })
    );
}

#[test]
fn kubectl_auth_whoami_body_is_a_self_subject_review() {
    let decoded = decode(FIXTURES[5].1).expect("fixture decodes");
    assert_eq!(
        decoded,
        json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "SelfSubjectReview",
            "metadata": {},
            "status": {"userInfo": {}}
        })
    );
}

fn quantity(text: &str) -> Option<Quantity> {
    Some(Quantity {
        string: Some(text.into()),
    })
}

fn int_or_string_int(value: i32) -> Option<IntOrString> {
    Some(IntOrString {
        r#type: Some(0),
        int_val: Some(value),
        str_val: Some(String::new()),
    })
}

#[test]
fn pod_with_probes_resources_volumes_and_env_sources_converts_every_field() {
    let container = core::Container {
        name: Some("app".into()),
        image: Some("nginx:1.27".into()),
        args: vec!["-g".into(), "daemon off;".into()],
        ports: vec![core::ContainerPort {
            name: Some("http".into()),
            container_port: Some(80),
            protocol: Some("TCP".into()),
            host_port: Some(0),
            ..Default::default()
        }],
        env: vec![
            core::EnvVar {
                name: Some("PLAIN".into()),
                value: Some("1".into()),
                value_from: None,
            },
            core::EnvVar {
                name: Some("FROM_CM".into()),
                value: Some(String::new()),
                value_from: Some(core::EnvVarSource {
                    config_map_key_ref: Some(core::ConfigMapKeySelector {
                        local_object_reference: Some(core::LocalObjectReference {
                            name: Some("settings".into()),
                        }),
                        key: Some("level".into()),
                        optional: Some(false),
                    }),
                    ..Default::default()
                }),
            },
        ],
        resources: Some(core::ResourceRequirements {
            limits: BTreeMap::from([(
                "cpu".into(),
                Quantity {
                    string: Some("500m".into()),
                },
            )]),
            requests: BTreeMap::from([(
                "memory".into(),
                Quantity {
                    string: Some("64Mi".into()),
                },
            )]),
            ..Default::default()
        }),
        liveness_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                http_get: Some(core::HttpGetAction {
                    path: Some("/healthz".into()),
                    port: Some(IntOrString {
                        r#type: Some(1),
                        int_val: Some(0),
                        str_val: Some("http".into()),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            initial_delay_seconds: Some(5),
            period_seconds: Some(0),
            ..Default::default()
        }),
        readiness_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                tcp_socket: Some(core::TcpSocketAction {
                    port: int_or_string_int(8080),
                    host: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        security_context: Some(core::SecurityContext {
            run_as_user: Some(0),
            privileged: Some(false),
            ..Default::default()
        }),
        volume_mounts: vec![core::VolumeMount {
            name: Some("scratch".into()),
            mount_path: Some("/tmp".into()),
            read_only: Some(false),
            ..Default::default()
        }],
        ..Default::default()
    };
    let pod = core::Pod {
        metadata: Some(meta::ObjectMeta {
            name: Some("p".into()),
            namespace: Some("default".into()),
            generate_name: Some(String::new()),
            generation: Some(0),
            creation_timestamp: Some(meta::Time {
                seconds: Some(1_704_164_645),
                nanos: Some(0),
            }),
            labels: BTreeMap::from([("app".into(), "web".into())]),
            ..Default::default()
        }),
        spec: Some(core::PodSpec {
            containers: vec![container],
            volumes: vec![core::Volume {
                name: Some("scratch".into()),
                volume_source: Some(core::VolumeSource {
                    empty_dir: Some(core::EmptyDirVolumeSource {
                        medium: None,
                        size_limit: quantity("1Gi"),
                    }),
                    ..Default::default()
                }),
            }],
            restart_policy: Some("Always".into()),
            termination_grace_period_seconds: Some(0),
            node_selector: BTreeMap::from([("disk".into(), "ssd".into())]),
            ..Default::default()
        }),
        status: None,
    };
    let decoded = decode(&frame("v1", "Pod", pod.encode_to_vec())).expect("pod decodes");
    assert_eq!(
        decoded,
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "p",
                "namespace": "default",
                "creationTimestamp": "2024-01-02T03:04:05Z",
                "labels": {"app": "web"}
            },
            "spec": {
                "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}],
                "containers": [{
                    "name": "app",
                    "image": "nginx:1.27",
                    "args": ["-g", "daemon off;"],
                    "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                    "env": [
                        {"name": "PLAIN", "value": "1"},
                        {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {
                            "name": "settings", "key": "level", "optional": false
                        }}}
                    ],
                    "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}},
                    "volumeMounts": [{"name": "scratch", "mountPath": "/tmp"}],
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "initialDelaySeconds": 5},
                    "readinessProbe": {"tcpSocket": {"port": 8080}},
                    "securityContext": {"privileged": false, "runAsUser": 0}
                }],
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 0,
                "nodeSelector": {"disk": "ssd"}
            }
        })
    );
}

#[test]
fn lease_micro_time_keeps_microseconds() {
    let lease = coordination::Lease {
        metadata: Some(meta::ObjectMeta {
            name: Some("node-a".into()),
            ..Default::default()
        }),
        spec: Some(coordination::LeaseSpec {
            holder_identity: Some("node-a".into()),
            lease_duration_seconds: Some(40),
            renew_time: Some(meta::MicroTime {
                seconds: Some(1_704_164_645),
                nanos: Some(123_456_789),
            }),
            ..Default::default()
        }),
    };
    let decoded = decode(&frame(
        "coordination.k8s.io/v1",
        "Lease",
        lease.encode_to_vec(),
    ))
    .expect("lease decodes");
    assert_eq!(
        decoded["spec"]["renewTime"],
        json!("2024-01-02T03:04:05.123456Z")
    );
    assert_eq!(decoded["spec"]["leaseDurationSeconds"], json!(40));
}

#[test]
fn zero_replicas_is_kept_because_replicas_is_a_pointer() {
    let deployment = k8s_pb::api::apps::v1::Deployment {
        spec: Some(k8s_pb::api::apps::v1::DeploymentSpec {
            replicas: Some(0),
            min_ready_seconds: Some(0),
            ..Default::default()
        }),
        ..Default::default()
    };
    let decoded =
        decode(&frame("apps/v1", "Deployment", deployment.encode_to_vec())).expect("decodes");
    assert_eq!(decoded["spec"], json!({"replicas": 0}));
}

#[test]
fn delete_options_are_accepted_under_any_group_version() {
    let options = meta::DeleteOptions {
        propagation_policy: Some("Foreground".into()),
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    let decoded =
        decode(&frame("apps/v1", "DeleteOptions", options.encode_to_vec())).expect("decodes");
    assert_eq!(
        decoded,
        json!({"apiVersion": "apps/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0, "propagationPolicy": "Foreground"})
    );
}

#[test]
fn raw_extension_holding_json_is_embedded_as_json() {
    let revision = k8s_pb::api::apps::v1::ControllerRevision {
        data: Some(RawExtension {
            raw: Some(br#"{"spec":{"x":1}}"#.to_vec()),
        }),
        revision: Some(2),
        ..Default::default()
    };
    let decoded = decode(&frame(
        "apps/v1",
        "ControllerRevision",
        revision.encode_to_vec(),
    ))
    .expect("decodes");
    assert_eq!(decoded["data"], json!({"spec": {"x": 1}}));
    assert_eq!(decoded["revision"], json!(2));
}

#[test]
fn raw_extension_holding_protobuf_is_decoded_recursively() {
    let inner = core::ConfigMap {
        data: BTreeMap::from([("k".into(), "v".into())]),
        ..Default::default()
    };
    let revision = k8s_pb::api::apps::v1::ControllerRevision {
        data: Some(RawExtension {
            raw: Some(frame("v1", "ConfigMap", inner.encode_to_vec())),
        }),
        ..Default::default()
    };
    let decoded = decode(&frame(
        "apps/v1",
        "ControllerRevision",
        revision.encode_to_vec(),
    ))
    .expect("decodes");
    assert_eq!(
        decoded["data"],
        json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}})
    );
}

#[test]
fn deeply_nested_raw_extensions_are_refused_instead_of_overflowing_the_stack() {
    let mut body = frame("v1", "ConfigMap", Vec::new());
    for _ in 0..2_000 {
        let revision = k8s_pb::api::apps::v1::ControllerRevision {
            data: Some(RawExtension { raw: Some(body) }),
            ..Default::default()
        };
        body = frame("apps/v1", "ControllerRevision", revision.encode_to_vec());
    }
    assert!(matches!(
        decode(&body),
        Err(ProtobufError::MalformedObject { .. })
    ));
}

#[test]
fn every_registered_kind_is_found_by_lookup() {
    let kinds: Vec<_> = schema::all_kinds().collect();
    assert!(
        kinds.windows(2).all(|w| w[0] < w[1]),
        "KINDS must be sorted and unique"
    );
    for (api_version, kind) in &kinds {
        assert!(
            schema::lookup_kind(api_version, kind).is_some(),
            "{api_version} {kind}"
        );
    }
    for (api_version, kind) in [
        ("v1", "Pod"),
        ("v1", "Service"),
        ("v1", "ServiceAccount"),
        ("v1", "Node"),
        ("v1", "Endpoints"),
        ("v1", "PersistentVolumeClaim"),
        ("v1", "PersistentVolume"),
        ("v1", "Binding"),
        ("v1", "Event"),
        ("apps/v1", "ReplicaSet"),
        ("apps/v1", "StatefulSet"),
        ("apps/v1", "DaemonSet"),
        ("batch/v1", "Job"),
        ("batch/v1", "CronJob"),
        ("coordination.k8s.io/v1", "Lease"),
        ("events.k8s.io/v1", "Event"),
        ("discovery.k8s.io/v1", "EndpointSlice"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ("authentication.k8s.io/v1", "TokenReview"),
        ("authentication.k8s.io/v1", "TokenRequest"),
        ("authorization.k8s.io/v1", "SubjectAccessReview"),
        ("policy/v1", "Eviction"),
        ("meta.k8s.io/v1", "DeleteOptions"),
    ] {
        assert!(
            schema::lookup_kind(api_version, kind).is_some(),
            "{api_version} {kind}"
        );
    }
}

#[test]
fn unknown_kind_is_reported_with_its_type_meta() {
    let err = decode(&frame("example.com/v1", "Widget", Vec::new())).expect_err("no schema");
    assert!(
        matches!(&err, ProtobufError::UnsupportedKind { api_version, kind } if api_version == "example.com/v1" && kind == "Widget")
    );
}

#[test]
fn unknown_field_is_an_error_with_its_path_not_silently_dropped() {
    let mut metadata = meta::ObjectMeta {
        name: Some("c".into()),
        ..Default::default()
    }
    .encode_to_vec();
    // Field 99, varint 1: not part of ObjectMeta.
    metadata.extend([0x98, 0x06, 0x01]);
    let mut raw = vec![0x0a, metadata.len() as u8];
    raw.extend(metadata);
    let err = decode(&frame("v1", "ConfigMap", raw)).expect_err("unknown field");
    match err {
        ProtobufError::MalformedObject {
            path,
            source: WireError::UnknownField { tag: 99, .. },
            ..
        } => {
            assert_eq!(path, "metadata");
        }
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn wire_type_mismatch_names_the_field_path() {
    // ConfigMap.metadata (field 1) sent as a varint.
    let err = decode(&frame("v1", "ConfigMap", vec![0x08, 0x01])).expect_err("mismatch");
    assert!(matches!(
        err,
        ProtobufError::MalformedObject {
            source: WireError::WireTypeMismatch { tag: 1, .. },
            ..
        }
    ));
}

#[test]
fn invalid_utf8_in_a_string_field_is_an_error() {
    let err = decode(&frame(
        "v1",
        "Namespace",
        vec![0x0a, 0x03, 0x0a, 0x01, 0xff],
    ))
    .expect_err("bad utf-8");
    assert!(matches!(
        err,
        ProtobufError::MalformedObject {
            source: WireError::InvalidUtf8,
            ..
        }
    ));
}

#[test]
fn missing_or_wrong_magic_is_rejected() {
    assert!(matches!(decode(b""), Err(ProtobufError::MissingMagic)));
    assert!(matches!(decode(b"k8s"), Err(ProtobufError::MissingMagic)));
    assert!(matches!(
        decode(b"{\"kind\":\"Pod\"}"),
        Err(ProtobufError::MissingMagic)
    ));
}

#[test]
fn garbage_after_the_magic_is_a_malformed_envelope() {
    let mut body = MAGIC.to_vec();
    body.extend([0xff; 16]);
    assert!(matches!(
        decode(&body),
        Err(ProtobufError::MalformedEnvelope(_))
    ));
}

#[test]
fn huge_declared_length_is_rejected_without_allocating() {
    let mut body = MAGIC.to_vec();
    // Field 2 (raw) claiming 2^62 bytes.
    body.extend([0x12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]);
    assert!(matches!(
        decode(&body),
        Err(ProtobufError::MalformedEnvelope(WireError::Truncated))
    ));
}

#[test]
fn compressed_envelopes_are_refused() {
    let mut unknown = Unknown {
        content_encoding: Some("gzip".into()),
        ..Default::default()
    }
    .encode_to_vec();
    unknown.splice(0..0, MAGIC.iter().copied());
    assert!(matches!(decode(&unknown), Err(ProtobufError::UnsupportedEncoding(e)) if e == "gzip"));
}

#[test]
fn every_truncation_of_the_deployment_fixture_fails_cleanly() {
    let body = FIXTURES[3].1;
    // Cutting exactly after the TypeMeta field leaves a valid envelope with an empty object, and
    // the last four bytes are the optional empty contentEncoding and contentType fields.
    let type_meta_end = MAGIC.len() + 2 + usize::from(body[MAGIC.len() + 1]);
    for len in (0..body.len() - 4).filter(|&len| len != type_meta_end) {
        assert!(
            decode(&body[..len]).is_err(),
            "prefix of {len} bytes decoded"
        );
    }
}

#[test]
fn fixtures_with_flipped_bytes_never_panic() {
    for (_, body) in FIXTURES {
        for i in MAGIC.len()..body.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut copy = body.to_vec();
                copy[i] ^= flip;
                let _ = decode(&copy);
            }
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_after_the_magic_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut body = MAGIC.to_vec();
        body.extend(tail);
        let _ = decode(&body);
    }

    #[test]
    fn arbitrary_object_bytes_for_rich_kinds_never_panic(
        raw in proptest::collection::vec(any::<u8>(), 0..512),
        kind in 0usize..4,
    ) {
        let (api_version, kind) = [("apps/v1", "Deployment"), ("v1", "Pod"), ("v1", "Service"), ("batch/v1", "CronJob")][kind];
        let _ = decode(&frame(api_version, kind, raw));
    }
}
