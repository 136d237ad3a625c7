//! CRD defaulting and validation: rules, messages and field paths.

use serde_json::{Value, json};

use super::*;

#[test]
fn defaulting_fills_singular_list_kind_conversion_and_stored_versions() {
    let crd = defaulted_crd();
    assert_eq!(crd["spec"]["names"]["singular"], "crontab");
    assert_eq!(crd["spec"]["names"]["listKind"], "CronTabList");
    assert_eq!(crd["spec"]["conversion"], json!({"strategy": "None"}));
    assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
    assert_eq!(crd["spec"]["scope"], "Namespaced");
}

#[test]
fn defaulting_keeps_given_names_and_sets_webhook_port() {
    let mut crd = crontab_crd();
    crd["spec"]["names"]["singular"] = json!("tab");
    crd["spec"]["conversion"] = json!({"strategy": "Webhook", "webhook": {
        "conversionReviewVersions": ["v1"],
        "clientConfig": {"service": {"namespace": "default", "name": "conv"}}}});
    default_crd(&mut crd);
    assert_eq!(crd["spec"]["names"]["singular"], "tab");
    assert_eq!(
        crd["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["port"],
        443
    );
    assert!(validate_crd(None, &crd).is_empty());
}

#[test]
fn defaulting_hostile_values_does_not_panic() {
    for mut v in [
        json!(null),
        json!([1]),
        json!({"spec": 3}),
        json!({"spec": {"names": 1, "conversion": 2}}),
    ] {
        default_crd(&mut v);
        let _ = validate_crd(None, &v);
        let _ = resource_types(&v);
    }
}

#[test]
fn valid_crontab_crd_passes_validation() {
    let errs = validate_crd(None, &defaulted_crd());
    assert!(errs.is_empty(), "{:?}", texts(&errs));
}

#[test]
fn name_must_be_plural_dot_group() {
    let mut crd = defaulted_crd();
    crd["metadata"]["name"] = json!("crontab.stable.example.com");
    let errs = validate_crd(None, &crd);
    assert_eq!(
        texts(&errs),
        vec![
            "metadata.name: Invalid value: \"crontab.stable.example.com\": must be spec.names.plural+\".\"+spec.group"
        ]
    );
    assert_eq!(errs[0].reason, "FieldValueInvalid");
}

#[test]
fn group_needs_a_dot_and_dns_shape() {
    let mut crd = defaulted_crd();
    crd["spec"]["group"] = json!("example");
    crd["metadata"]["name"] = json!("crontabs.example");
    assert_eq!(
        texts(&validate_crd(None, &crd)),
        vec!["spec.group: Invalid value: \"example\": should be a domain with at least one dot"]
    );
    crd["spec"]["group"] = json!("Bad_Group.com");
    crd["metadata"]["name"] = json!("crontabs.Bad_Group.com");
    let errs = texts(&validate_crd(None, &crd));
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with(
        "spec.group: Invalid value: \"Bad_Group.com\": a lowercase RFC 1123 subdomain"
    ));
    crd["spec"]["group"] = json!("");
    crd["metadata"]["name"] = json!("crontabs.");
    assert_eq!(
        texts(&validate_crd(None, &crd)),
        vec!["spec.group: Required value"]
    );
}

#[test]
fn protected_groups_need_the_approval_annotation() {
    let mut crd = defaulted_crd();
    crd["spec"]["group"] = json!("stable.k8s.io");
    crd["metadata"]["name"] = json!("crontabs.stable.k8s.io");
    let errs = validate_crd(None, &crd);
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].field,
        "metadata.annotations[api-approved.kubernetes.io]"
    );
    crd["metadata"]["annotations"] =
        json!({"api-approved.kubernetes.io": "https://github.com/kubernetes/kubernetes/pull/1"});
    assert!(validate_crd(None, &crd).is_empty());
}

#[test]
fn names_are_checked_with_their_paths() {
    let mut crd = defaulted_crd();
    crd["spec"]["names"]["plural"] = json!("CronTabs");
    crd["metadata"]["name"] = json!("CronTabs.stable.example.com");
    crd["spec"]["names"]["kind"] = json!("Cron_Tab");
    crd["spec"]["names"]["listKind"] = json!("Cron_Tab");
    crd["spec"]["names"]["shortNames"] = json!(["ok", "No!"]);
    crd["spec"]["names"]["categories"] = json!(["all", 3]);
    let errs = validate_crd(None, &crd);
    let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "spec.names.plural",
            "spec.names.kind",
            "spec.names.listKind",
            "spec.names.listKind",
            "spec.names.shortNames[1]",
            "spec.names.categories[1]",
        ]
    );
    assert!(
        errs[1]
            .message
            .contains("may have mixed case, but should otherwise match: ")
    );
    assert!(
        errs[3]
            .message
            .ends_with("kind and listKind may not be the same")
    );
}

#[test]
fn missing_kind_and_plural_are_required() {
    let mut crd = crontab_crd();
    crd["spec"]["names"] = json!({});
    crd["metadata"]["name"] = json!(".stable.example.com");
    default_crd(&mut crd);
    let errs = texts(&validate_crd(None, &crd));
    assert_eq!(
        errs,
        vec![
            "spec.names.plural: Required value",
            "spec.names.singular: Required value",
            "spec.names.kind: Required value",
            "spec.names.listKind: Required value",
        ]
    );
}

#[test]
fn scope_is_required_and_enumerated() {
    let mut crd = defaulted_crd();
    crd["spec"]["scope"] = json!("Global");
    assert_eq!(
        texts(&validate_crd(None, &crd)),
        vec![
            "spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\""
        ]
    );
    crd["spec"].as_object_mut().unwrap().remove("scope");
    assert_eq!(
        texts(&validate_crd(None, &crd)),
        vec!["spec.scope: Required value"]
    );
}

#[test]
fn exactly_one_storage_version_and_unique_served_names() {
    let mut crd = defaulted_crd();
    crd["spec"]["versions"][1]["storage"] = json!(true);
    let errs = texts(&validate_crd(None, &crd));
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("spec.versions: Invalid value: [\"v1\",\"v2\",\"v1beta1\"]"));
    assert!(errs[0].ends_with("must have exactly one version marked as storage version"));

    let mut crd = defaulted_crd();
    crd["spec"]["versions"][1]["name"] = json!("v1");
    let errs = texts(&validate_crd(None, &crd));
    assert!(
        errs.iter()
            .any(|e| e.ends_with("must contain unique version names")),
        "{errs:?}"
    );

    let mut crd = defaulted_crd();
    for v in crd["spec"]["versions"].as_array_mut().unwrap() {
        v["served"] = json!(false);
    }
    let errs = texts(&validate_crd(None, &crd));
    assert!(
        errs.iter()
            .any(|e| e.ends_with("must have at least one version marked as served"))
    );

    let mut crd = defaulted_crd();
    crd["spec"]["versions"] = json!([]);
    assert_eq!(validate_crd(None, &crd)[0].field, "spec.versions");
}

#[test]
fn version_names_must_be_dns_labels() {
    let mut crd = defaulted_crd();
    crd["spec"]["versions"][1]["name"] = json!("V2");
    let errs = validate_crd(None, &crd);
    assert_eq!(errs.len(), 1, "{:?}", texts(&errs));
    assert_eq!(errs[0].field, "spec.versions[1].name");
}

#[test]
fn schema_is_required_for_every_version() {
    let mut crd = defaulted_crd();
    crd["spec"]["versions"][1]
        .as_object_mut()
        .unwrap()
        .remove("schema");
    assert_eq!(
        texts(&validate_crd(None, &crd)),
        vec!["spec.versions[1].schema.openAPIV3Schema: Required value: schemas are required"]
    );
}

fn with_v2_schema(schema: Value) -> Vec<String> {
    let mut crd = defaulted_crd();
    crd["spec"]["versions"][1]["schema"]["openAPIV3Schema"] = schema;
    texts(&validate_crd(None, &crd))
}

#[test]
fn schemas_must_be_structural() {
    let p = "spec.versions[1].schema.openAPIV3Schema";
    assert_eq!(
        with_v2_schema(json!({"properties": {"spec": {"type": "object"}}})),
        vec![format!(
            "{p}.type: Required value: must not be empty at the root"
        )]
    );
    assert_eq!(
        with_v2_schema(json!({"type": "string"})),
        vec![format!(
            "{p}.type: Invalid value: \"string\": must be object at the root"
        )]
    );
    assert_eq!(
        with_v2_schema(
            json!({"type": "object", "properties": {"spec": {"properties": {"a": {"type": "string"}}}}})
        ),
        vec![format!(
            "{p}.properties[spec].type: Required value: must not be empty for specified object fields"
        )]
    );
    assert_eq!(
        with_v2_schema(
            json!({"type": "object", "properties": {"l": {"type": "array", "items": {}}}})
        ),
        vec![format!(
            "{p}.properties[l].items.type: Required value: must not be empty for specified array items"
        )]
    );
    assert_eq!(
        with_v2_schema(json!({"type": "object", "properties": {"l": {"type": "array"}}})),
        vec![format!(
            "{p}.properties[l].items: Required value: must be specified"
        )]
    );
    assert_eq!(
        with_v2_schema(
            json!({"type": "object", "properties": {"m": {"type": "object",
            "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}}}})
        ),
        vec![format!(
            "{p}.properties[m].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"
        )]
    );
    assert_eq!(
        with_v2_schema(
            json!({"type": "object", "properties": {"s": {"type": "array", "uniqueItems": true, "items": {"type": "string"}}}})
        ),
        vec![format!(
            "{p}.properties[s].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic"
        )]
    );
    assert_eq!(
        with_v2_schema(
            json!({"type": "object", "properties": {"s": {"type": "string", "anyOf": [{"type": "string"}]}}})
        ),
        vec![format!(
            "{p}.properties[s].anyOf[0].type: Forbidden: must be empty to be structural"
        )]
    );
    assert_eq!(
        with_v2_schema(json!({"type": "object", "properties": {"s": {"type": "strin"}}})),
        vec![format!(
            "{p}.properties[s].type: Unsupported value: \"strin\": supported values: \"array\", \"boolean\", \"integer\", \"number\", \"object\", \"string\""
        )]
    );
}

#[test]
fn junctor_fields_must_exist_in_the_structural_part() {
    let p = "spec.versions[1].schema.openAPIV3Schema";
    assert_eq!(
        with_v2_schema(json!({"type": "object",
        "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}},
        "oneOf": [
            {"properties": {"spec": {"properties": {"a": {"maxLength": 3}}}}},
            {"properties": {"spec": {"properties": {"b": {"maxLength": 3}}}}},
            {"properties": {"status": {}}},
        ]})),
        vec![
            format!(
                "{p}.properties[spec].properties[b]: Required value: because it is defined in {p}.oneOf[1].properties[spec].properties[b]"
            ),
            format!(
                "{p}.properties[status]: Required value: because it is defined in {p}.oneOf[2].properties[status]"
            ),
        ]
    );
}

#[test]
fn int_or_string_any_of_shape_is_structural() {
    let errs = with_v2_schema(json!({"type": "object", "properties": {"port": {
        "x-kubernetes-int-or-string": true,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
    }}}));
    assert!(errs.is_empty(), "{errs:?}");
}

#[test]
fn metadata_schema_may_only_restrict_name_and_generate_name() {
    let p = "spec.versions[1].schema.openAPIV3Schema";
    let ok = with_v2_schema(
        json!({"type": "object", "properties": {"metadata": {"type": "object",
        "properties": {"name": {"type": "string", "maxLength": 10}}}}}),
    );
    assert!(ok.is_empty(), "{ok:?}");
    assert_eq!(
        with_v2_schema(
            json!({"type": "object", "properties": {"metadata": {"type": "object",
            "properties": {"labels": {"type": "object"}}}}})
        ),
        vec![format!(
            "{p}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified"
        )]
    );
    assert_eq!(
        with_v2_schema(json!({"type": "object", "properties": {"metadata": {"type": "string"}}})),
        vec![format!(
            "{p}.properties[metadata].type: Invalid value: \"string\": must be object"
        )]
    );
}

#[test]
fn bad_pattern_and_bad_default_are_reported() {
    let p = "spec.versions[1].schema.openAPIV3Schema";
    let errs = with_v2_schema(
        json!({"type": "object", "properties": {"s": {"type": "string", "pattern": "(["}}}),
    );
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with(&format!(
        "{p}.properties[s].pattern: Invalid value: \"([\": must be a valid regular expression, but isn't: "
    )));
    assert_eq!(
        with_v2_schema(
            json!({"type": "object", "properties": {"n": {"type": "integer", "maximum": 5, "default": 7}}})
        ),
        vec![format!(
            "{p}.properties[n].default: Invalid value: 7: in body should be less than or equal to 5"
        )]
    );
    assert_eq!(
        with_v2_schema(
            json!({"type": "object", "properties": {"o": {"type": "object",
            "properties": {"a": {"type": "string"}}, "default": {"a": "x", "b": 1}}}})
        ),
        vec![format!(
            "{p}.properties[o].default: Invalid value: {{\"a\":\"x\",\"b\":1}}: must not have unknown fields: b"
        )]
    );
    let errs = with_v2_schema(
        json!({"type": "object", "properties": {"s": {"type": "string", "minLength": -1}}}),
    );
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0],
        format!("{p}.properties[s].minLength: Invalid value: null: must be a non-negative integer")
    );
}

#[test]
fn list_map_needs_keys_that_are_item_properties() {
    let p = "spec.versions[1].schema.openAPIV3Schema.properties[l]";
    assert_eq!(
        with_v2_schema(
            json!({"type": "object", "properties": {"l": {"type": "array", "x-kubernetes-list-type": "map",
            "items": {"type": "object", "properties": {"name": {"type": "string"}}}}}})
        ),
        vec![format!(
            "{p}.x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map"
        )]
    );
    assert_eq!(
        with_v2_schema(
            json!({"type": "object", "properties": {"l": {"type": "array", "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["id"],
            "items": {"type": "object", "properties": {"name": {"type": "string"}}}}}})
        ),
        vec![format!(
            "{p}.x-kubernetes-list-map-keys: Invalid value: [\"id\"]: entries must all be names of item properties"
        )]
    );
}

#[test]
fn scale_paths_must_point_under_spec_and_status() {
    let mut crd = defaulted_crd();
    crd["spec"]["versions"][0]["subresources"]["scale"] = json!({
        "specReplicasPath": ".status.replicas",
        "labelSelectorPath": ".metadata.labels",
    });
    let p = "spec.versions[0].subresources.scale";
    assert_eq!(
        texts(&validate_crd(None, &crd)),
        vec![
            format!(
                "{p}.specReplicasPath: Invalid value: \".status.replicas\": should be a json path under .spec"
            ),
            format!("{p}.statusReplicasPath: Required value"),
            format!(
                "{p}.labelSelectorPath: Invalid value: \".metadata.labels\": should be a json path under either .spec or .status"
            ),
        ]
    );
}

#[test]
fn printer_columns_are_validated() {
    let mut crd = defaulted_crd();
    crd["spec"]["versions"][0]["additionalPrinterColumns"] = json!([
        {"name": "A", "type": "text", "jsonPath": ".spec.a"},
        {"type": "string", "format": "weird", "jsonPath": ""},
    ]);
    let p = "spec.versions[0].additionalPrinterColumns";
    assert_eq!(
        texts(&validate_crd(None, &crd)),
        vec![
            format!(
                "{p}[0].type: Unsupported value: \"text\": supported values: \"integer\", \"number\", \"string\", \"boolean\", \"date\""
            ),
            format!("{p}[1].name: Required value"),
            format!(
                "{p}[1].format: Unsupported value: \"weird\": supported values: \"int32\", \"int64\", \"float\", \"double\", \"byte\", \"date\", \"date-time\", \"password\""
            ),
            format!("{p}[1].jsonPath: Required value"),
        ]
    );
}

#[test]
fn conversion_strategy_is_checked() {
    let mut crd = defaulted_crd();
    crd["spec"]["conversion"] = json!({"strategy": "Magic"});
    assert_eq!(
        texts(&validate_crd(None, &crd)),
        vec![
            "spec.conversion.strategy: Unsupported value: \"Magic\": supported values: \"None\", \"Webhook\""
        ]
    );
    crd["spec"]["conversion"] = json!({"strategy": "Webhook"});
    assert_eq!(
        texts(&validate_crd(None, &crd)),
        vec!["spec.conversion.webhook: Required value: required when strategy is set to Webhook"]
    );
    crd["spec"]["conversion"] = json!({"strategy": "None", "webhook": {"clientConfig": {}}});
    assert_eq!(validate_crd(None, &crd)[0].reason, "FieldValueForbidden");
}

#[test]
fn group_and_scope_are_immutable() {
    let old = defaulted_crd();
    let mut new = old.clone();
    new["spec"]["scope"] = json!("Cluster");
    new["spec"]["group"] = json!("other.example.com");
    new["metadata"]["name"] = json!("crontabs.other.example.com");
    assert_eq!(
        texts(&validate_crd(Some(&old), &new)),
        vec![
            "spec.group: Invalid value: \"other.example.com\": field is immutable",
            "spec.scope: Invalid value: \"Cluster\": field is immutable",
        ]
    );
}

#[test]
fn stored_versions_cannot_be_removed_from_spec() {
    let old = defaulted_crd();
    let mut new = old.clone();
    // Move storage to v2 and drop v1: v1 is still stored.
    new["spec"]["versions"] = json!([{
        "name": "v2", "served": true, "storage": true,
        "schema": {"openAPIV3Schema": {"type": "object"}},
    }]);
    prepare_crd_update(&old, &mut new);
    assert_eq!(new["status"]["storedVersions"], json!(["v1", "v2"]));
    assert_eq!(
        texts(&validate_crd(Some(&old), &new)),
        vec!["status.storedVersions[0]: Invalid value: \"v1\": must appear in spec.versions"]
    );
    // Keeping v1 (no longer storage) is fine.
    let mut new = old.clone();
    new["spec"]["versions"][0]["storage"] = json!(false);
    new["spec"]["versions"][1]["storage"] = json!(true);
    prepare_crd_update(&old, &mut new);
    assert!(validate_crd(Some(&old), &new).is_empty());
}

#[test]
fn create_resets_status_to_the_storage_version() {
    let mut crd = crontab_crd();
    crd["status"] = json!({"storedVersions": ["v9"], "acceptedNames": {"kind": "X"}});
    prepare_crd_create(&mut crd);
    assert_eq!(crd["status"], json!({"storedVersions": ["v1"]}));
}
