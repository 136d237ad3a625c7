//! Custom objects against their schema: validation messages, pruning, defaulting.

use serde_json::json;

use super::*;

#[test]
fn valid_crontab_object_has_no_errors() {
    let obj = json!({
        "apiVersion": "stable.example.com/v1", "kind": "CronTab",
        "metadata": {"name": "t", "labels": {"a": "b"}},
        "spec": {"cronSpec": "* * * * */5", "replicas": 3, "mode": "Fast", "port": "http",
                 "ports": [{"name": "a", "port": 1}, {"name": "b"}],
                 "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}},
    });
    let errs = v1().validate(&obj);
    assert!(errs.is_empty(), "{:?}", texts(&errs));
}

#[test]
fn type_errors_read_like_upstream() {
    let errs = v1().validate(&json!({"spec": {"cronSpec": "* * * * *", "replicas": "string"}}));
    assert_eq!(
        texts(&errs),
        vec![
            "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\""
        ]
    );
    assert_eq!(errs[0].reason, "FieldValueInvalid");
    assert_eq!(
        errors_for(json!({"n": {"type": "integer"}}), json!({"n": 1.5})),
        vec![
            "spec.n: Invalid value: \"number\": spec.n in body must be of type integer: \"number\""
        ]
    );
    assert!(errors_for(json!({"n": {"type": "integer"}}), json!({"n": 2.0})).is_empty());
    assert_eq!(
        errors_for(json!({"o": {"type": "object"}}), json!({"o": [1]})),
        vec!["spec.o: Invalid value: \"array\": spec.o in body must be of type object: \"array\""]
    );
}

#[test]
fn required_fields_are_reported_per_path() {
    let errs = v1().validate(&json!({"spec": {"ports": [{"port": 1}]}}));
    assert_eq!(
        texts(&errs),
        vec![
            "spec.cronSpec: Required value",
            "spec.ports[0].name: Required value"
        ]
    );
    assert_eq!(errs[0].reason, "FieldValueRequired");
}

#[test]
fn enum_gives_unsupported_value() {
    let errs = v1().validate(&json!({"spec": {"cronSpec": "* * * * *", "mode": "Medium"}}));
    assert_eq!(
        texts(&errs),
        vec!["spec.mode: Unsupported value: \"Medium\": supported values: \"Fast\", \"Slow\""]
    );
    assert_eq!(errs[0].reason, "FieldValueNotSupported");
    assert!(
        errors_for(
            json!({"n": {"type": "number", "enum": [1, 2]}}),
            json!({"n": 2.0})
        )
        .is_empty()
    );
}

#[test]
fn numeric_bounds_and_multiples() {
    let props = json!({
        "a": {"type": "integer", "minimum": 1, "maximum": 10},
        "b": {"type": "number", "minimum": 1, "exclusiveMinimum": true, "maximum": 2.5, "exclusiveMaximum": true},
        "c": {"type": "integer", "multipleOf": 5},
        "d": {"type": "integer", "format": "int32"},
    });
    assert_eq!(
        errors_for(
            props.clone(),
            json!({"a": 11, "b": 1, "c": 7, "d": 3_000_000_000_i64})
        ),
        vec![
            "spec.a: Invalid value: 11: spec.a in body should be less than or equal to 10",
            "spec.b: Invalid value: 1: spec.b in body should be greater than 1",
            "spec.c: Invalid value: 7: spec.c in body should be a multiple of 5",
            "spec.d: Invalid value: 3000000000: spec.d in body must be of type int32: \"3000000000\"",
        ]
    );
    assert_eq!(
        errors_for(props.clone(), json!({"a": 0, "b": 2.5})),
        vec![
            "spec.a: Invalid value: 0: spec.a in body should be greater than or equal to 1",
            "spec.b: Invalid value: 2.5: spec.b in body should be less than 2.5",
        ]
    );
    assert!(errors_for(props, json!({"a": 10, "b": 2, "c": 15, "d": -5})).is_empty());
}

#[test]
fn string_length_pattern_and_format() {
    let props = json!({
        "s": {"type": "string", "minLength": 2, "maxLength": 4},
        "p": {"type": "string", "pattern": "^[a-z]+$"},
        "t": {"type": "string", "format": "date-time"},
    });
    let errs = schema_of(props.clone())
        .validate(&json!({"spec": {"s": "abcde", "p": "AB", "t": "yesterday"}}));
    assert_eq!(
        texts(&errs),
        vec![
            "spec.s: Too long: may not be more than 4 bytes",
            "spec.p: Invalid value: \"AB\": spec.p in body should match '^[a-z]+$'",
            "spec.t: Invalid value: \"yesterday\": spec.t in body must be of type date-time: \"yesterday\"",
        ]
    );
    assert_eq!(errs[0].reason, "FieldValueTooLong");
    assert_eq!(
        errors_for(props.clone(), json!({"s": "é"})),
        vec!["spec.s: Invalid value: \"é\": spec.s in body should be at least 2 chars long"]
    );
    // Length counts characters, not bytes.
    assert!(errors_for(props, json!({"s": "éééé", "t": "2024-05-01T12:00:00Z"})).is_empty());
}

#[test]
fn cron_pattern_from_the_crontab_example() {
    let errs = v1().validate(&json!({"spec": {"cronSpec": "every minute"}}));
    assert_eq!(errs.len(), 1);
    assert!(errs[0].to_string().starts_with(
        "spec.cronSpec: Invalid value: \"every minute\": spec.cronSpec in body should match '^(\\d+|\\*)"
    ));
}

#[test]
fn array_and_object_size_limits() {
    let props = json!({
        "l": {"type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "integer"}},
        "u": {"type": "array", "uniqueItems": true, "items": {"type": "integer"}},
        "m": {"type": "object", "minProperties": 2, "maxProperties": 3, "additionalProperties": {"type": "string"}},
    });
    let errs = schema_of(props.clone()).validate(&json!({"spec": {"l": [1, 2, 3, 4], "u": [1, 1.0], "m": {"a": "1", "b": "2", "c": "3", "d": "4"}}}));
    assert_eq!(
        texts(&errs),
        vec![
            "spec.l: Too many: 4: must have at most 3 items",
            "spec.u: Invalid value: [1,1.0]: spec.u in body shouldn't contain duplicates",
            "spec.m: Too many: 4: must have at most 3 items",
        ]
    );
    assert_eq!(errs[0].reason, "FieldValueTooMany");
    assert_eq!(
        errors_for(props, json!({"l": [1], "m": {"a": "x", "b": 2}})),
        vec![
            "spec.l: Invalid value: [1]: spec.l in body should have at least 2 items",
            "spec.m.b: Invalid value: \"integer\": spec.m.b in body must be of type string: \"integer\"",
        ]
    );
}

#[test]
fn additional_properties_false_forbids_unknown_keys() {
    let errs = errors_for(
        json!({"c": {"type": "object", "additionalProperties": false}}),
        json!({"c": {"x": 1}}),
    );
    assert_eq!(
        errs,
        vec!["spec.c.x: Invalid value: 1: spec.c.x in body is a forbidden property"]
    );
}

#[test]
fn nullable_allows_null_only_when_set() {
    let props = json!({"a": {"type": "string", "nullable": true}, "b": {"type": "string"}});
    assert_eq!(
        errors_for(props, json!({"a": null, "b": null})),
        vec!["spec.b: Invalid value: \"null\": spec.b in body must be of type string: \"null\""]
    );
}

#[test]
fn int_or_string_accepts_both_and_nothing_else() {
    let props = json!({"p": {"x-kubernetes-int-or-string": true}});
    assert!(errors_for(props.clone(), json!({"p": 80})).is_empty());
    assert!(errors_for(props.clone(), json!({"p": "http"})).is_empty());
    assert_eq!(
        errors_for(props, json!({"p": true})),
        vec![
            "spec.p: Invalid value: \"boolean\": spec.p in body must be of type integer,string: \"boolean\""
        ]
    );
}

#[test]
fn list_type_set_and_map_reject_duplicates() {
    let props = json!({
        "s": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "m": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name", "proto"],
              "items": {"type": "object", "properties": {"name": {"type": "string"}, "proto": {"type": "string", "default": "TCP"}}}},
    });
    let errs = schema_of(props.clone()).validate(&json!({"spec": {
        "s": ["a", "b", "a"],
        "m": [{"name": "x", "proto": "TCP"}, {"name": "x", "proto": "UDP"}, {"name": "x"}],
    }}));
    assert_eq!(
        texts(&errs),
        vec![
            "spec.s[2]: Duplicate value: \"a\"",
            "spec.m[2]: Duplicate value: {\"name\":\"x\",\"proto\":\"TCP\"}",
        ]
    );
    assert_eq!(errs[0].reason, "FieldValueDuplicate");
}

#[test]
fn junctors_any_all_one_not() {
    let props = json!({
        "any": {"type": "string", "anyOf": [{"maxLength": 1}, {"pattern": "^x"}]},
        "all": {"type": "integer", "allOf": [{"minimum": 1}, {"maximum": 5}]},
        "one": {"type": "integer", "oneOf": [{"minimum": 1}, {"maximum": 5}]},
        "not": {"type": "string", "not": {"enum": ["bad"]}},
    });
    assert!(
        errors_for(
            props.clone(),
            json!({"any": "xyz", "all": 3, "one": 7, "not": "good"})
        )
        .is_empty()
    );
    assert_eq!(
        errors_for(
            props,
            json!({"any": "abc", "all": 6, "one": 3, "not": "bad"})
        ),
        vec![
            "spec.any: Invalid value: \"string\": spec.any must validate at least one schema (anyOf)",
            "spec.all: Invalid value: 6: spec.all in body should be less than or equal to 5",
            "spec.all: Invalid value: \"integer\": spec.all must validate all the schemas (allOf)",
            "spec.one: Invalid value: \"integer\": spec.one must validate one and only one schema (oneOf)",
            "spec.not: Invalid value: \"string\": spec.not must not validate the schema (not)",
        ]
    );
}

#[test]
fn embedded_resources_need_api_version_and_kind() {
    let errs =
        v1().validate(&json!({"spec": {"cronSpec": "* * * * *", "template": {"metadata": {}}}}));
    assert_eq!(
        texts(&errs),
        vec![
            "spec.template.apiVersion: Required value: must not be empty",
            "spec.template.kind: Required value: must not be empty",
        ]
    );
}

#[test]
fn root_type_error_is_reported_at_the_root() {
    let errs = v1().validate(&json!([1]));
    assert_eq!(
        texts(&errs),
        vec!["Invalid value: \"array\": in body must be of type object: \"array\""]
    );
}

// ---- pruning ----

#[test]
fn pruning_drops_unknown_fields_and_keeps_meta() {
    let mut obj = json!({
        "apiVersion": "stable.example.com/v1", "kind": "CronTab",
        "metadata": {"name": "t", "anything": {"goes": true}},
        "extra": 1,
        "spec": {"cronSpec": "* * * * *", "bogus": true, "ports": [{"name": "a", "junk": 1}],
                 "env": {"A": {"value": "1", "junk": 2}}},
        "status": {"replicas": 1, "nope": "x"},
    });
    let pruned = v1().prune(&mut obj);
    assert_eq!(
        pruned,
        vec![
            "extra",
            "spec.bogus",
            "spec.ports[0].junk",
            "spec.env.A.junk",
            "status.nope"
        ]
    );
    assert_eq!(
        obj["metadata"],
        json!({"name": "t", "anything": {"goes": true}})
    );
    assert_eq!(obj["apiVersion"], "stable.example.com/v1");
    assert_eq!(obj["spec"]["ports"], json!([{"name": "a"}]));
}

#[test]
fn preserve_unknown_fields_keeps_unknown_but_prunes_known_nested() {
    let mut obj = json!({"spec": {"config": {
        "free": {"deep": [1, {"x": 2}]},
        "known": {"a": "kept", "b": "pruned"},
    }}});
    let pruned = v1().prune(&mut obj);
    assert_eq!(pruned, vec!["spec.config.known.b"]);
    assert_eq!(
        obj["spec"]["config"]["free"],
        json!({"deep": [1, {"x": 2}]})
    );
}

#[test]
fn embedded_resources_keep_their_meta_fields() {
    let mut obj = json!({"spec": {
        "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "x": 1}, "spec": {"any": "thing"}},
        "podTemplate": {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"a": "b"}},
                        "spec": {"x": "y", "z": 1}, "other": 2},
    }});
    let pruned = v1().prune(&mut obj);
    assert_eq!(
        pruned,
        vec!["spec.podTemplate.other", "spec.podTemplate.spec.z"]
    );
    assert_eq!(obj["spec"]["template"]["spec"], json!({"any": "thing"}));
    assert_eq!(
        obj["spec"]["podTemplate"]["metadata"],
        json!({"labels": {"a": "b"}})
    );
    // A non-string kind in an embedded resource is not a meta field and goes.
    let mut obj = json!({"spec": {"podTemplate": {"kind": 3, "apiVersion": "v1"}}});
    assert_eq!(v1().prune(&mut obj), vec!["spec.podTemplate.kind"]);
}

#[test]
fn additional_properties_true_keeps_keys_but_not_their_fields() {
    let s = schema_of(json!({"m": {"type": "object", "additionalProperties": true}}));
    let mut obj = json!({"spec": {"m": {"a": 1, "b": {"deep": true}, "c": [{"x": 1}, 2]}}});
    assert_eq!(s.prune(&mut obj), vec!["spec.m.b.deep", "spec.m.c[0].x"]);
    assert_eq!(obj["spec"]["m"], json!({"a": 1, "b": {}, "c": [{}, 2]}));
}

#[test]
fn arrays_without_item_schema_lose_item_fields_unless_preserved() {
    let s = schema_of(json!({
        "l": {"type": "array"},
        "p": {"type": "array", "x-kubernetes-preserve-unknown-fields": true},
    }));
    let mut obj = json!({"spec": {"l": [{"a": 1}, "s"], "p": [{"a": 1}]}});
    assert_eq!(s.prune(&mut obj), vec!["spec.l[0].a"]);
    assert_eq!(obj["spec"], json!({"l": [{}, "s"], "p": [{"a": 1}]}));
}

#[test]
fn root_preserve_unknown_fields_prunes_nothing() {
    let crd = defaulted_crd();
    let s = StructuralSchema::from_crd_version(&crd, "v1beta1").unwrap();
    let mut obj = json!({"spec": {"anything": [1, 2]}, "x": 1});
    assert!(s.prune(&mut obj).is_empty());
    assert_eq!(obj["x"], 1);
}

// ---- defaulting ----

#[test]
fn defaults_fill_missing_fields_including_arrays_and_maps() {
    let mut obj = json!({"spec": {
        "cronSpec": "* * * * *",
        "ports": [{"name": "a"}, {"name": "b", "port": 8080, "protocol": "UDP"}],
        "env": {"A": {"value": "1"}, "B": {"secret": true}},
    }});
    v1().apply_defaults(&mut obj);
    assert_eq!(obj["spec"]["image"], "busybox");
    assert_eq!(obj["spec"]["replicas"], 1);
    assert_eq!(
        obj["spec"]["ports"][0],
        json!({"name": "a", "port": 80, "protocol": "TCP"})
    );
    assert_eq!(
        obj["spec"]["ports"][1],
        json!({"name": "b", "port": 8080, "protocol": "UDP"})
    );
    assert_eq!(obj["spec"]["env"]["A"]["secret"], false);
    assert_eq!(obj["spec"]["env"]["B"]["secret"], true);
    assert!(obj.get("status").is_none());
}

#[test]
fn null_in_non_nullable_field_takes_the_default() {
    let s = schema_of(
        json!({"a": {"type": "string", "default": "x"}, "b": {"type": "string", "nullable": true, "default": "y"}}),
    );
    let mut obj = json!({"spec": {"a": null, "b": null}});
    s.apply_defaults(&mut obj);
    assert_eq!(obj["spec"], json!({"a": "x", "b": null}));
}

#[test]
fn defaults_are_defaulted_and_pruned_themselves() {
    let s = schema_of(json!({"o": {
        "type": "object",
        "default": {"a": "given", "junk": 1},
        "properties": {"a": {"type": "string"}, "b": {"type": "integer", "default": 2}},
    }}));
    let mut obj = json!({"spec": {}});
    s.apply_defaults(&mut obj);
    assert_eq!(obj["spec"]["o"], json!({"a": "given", "b": 2}));
}

#[test]
fn defaulting_follows_pruning() {
    let s = v1();
    let mut obj = json!({"spec": {"cronSpec": "* * * * *", "unknown": 1}});
    s.prune(&mut obj);
    s.apply_defaults(&mut obj);
    assert!(s.validate(&obj).is_empty());
    assert!(obj["spec"].get("unknown").is_none());
    assert_eq!(obj["spec"]["image"], "busybox");
}

// ---- compile errors ----

#[test]
fn malformed_schemas_do_not_compile() {
    for (schema, path) in [
        (json!({"type": 3}), "openAPIV3Schema.type"),
        (
            json!({"properties": {"a": {"maxLength": -1}}}),
            "openAPIV3Schema.properties[a].maxLength",
        ),
        (json!({"items": [{}]}), "openAPIV3Schema.items"),
        (
            json!({"properties": {"a": 1}}),
            "openAPIV3Schema.properties[a]",
        ),
    ] {
        match StructuralSchema::from_schema(&schema) {
            Err(CrdError::MalformedSchema { path: p, .. }) => assert_eq!(p, path),
            other => panic!("{schema}: {other:?}"),
        }
    }
    assert!(matches!(
        StructuralSchema::from_schema(&json!({"pattern": "(unclosed"})),
        Err(CrdError::BadPattern { .. })
    ));
    // Patterns that would need huge automata are refused instead of eating memory.
    assert!(StructuralSchema::from_schema(&json!({"pattern": "(a{1000}){1000}"})).is_err());
}
