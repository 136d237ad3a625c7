//! Property tests: schema compilation, validation, pruning and defaulting never panic.

use super::*;
use proptest::prelude::*;

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z]{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("spec".to_owned()),
                        Just("a".to_owned()),
                        Just("metadata".to_owned()),
                        "[a-z]{1,3}"
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn arb_schema() -> impl Strategy<Value = Value> {
    let types = prop_oneof![
        Just(json!("object")),
        Just(json!("array")),
        Just(json!("string")),
        Just(json!("integer")),
        Just(json!("number")),
        Just(json!("boolean")),
        Just(Value::Null),
    ];
    let leaf = (types, arb_keywords()).prop_map(|(t, mut kw)| {
        if !t.is_null() {
            kw.insert("type".into(), t);
        }
        Value::Object(kw)
    });
    leaf.prop_recursive(4, 32, 4, |inner| {
        (
            prop::collection::vec(("[a-c]", inner.clone()), 0..4),
            prop::option::of(inner.clone()),
            prop::option::of(inner.clone()),
            prop::collection::vec(inner, 0..3),
            arb_keywords(),
            0..4u8,
        )
            .prop_map(|(props, items, additional, junct, mut kw, which)| {
                kw.insert(
                    "properties".into(),
                    Value::Object(props.into_iter().collect()),
                );
                if let Some(i) = items {
                    kw.insert("items".into(), i);
                }
                if let Some(a) = additional {
                    kw.insert("additionalProperties".into(), a);
                }
                if !junct.is_empty() {
                    let key = ["anyOf", "allOf", "oneOf", "not"][usize::from(which)];
                    let value = if key == "not" {
                        junct[0].clone()
                    } else {
                        Value::Array(junct)
                    };
                    kw.insert(key.into(), value);
                }
                Value::Object(kw)
            })
    })
}

fn arb_keywords() -> impl Strategy<Value = serde_json::Map<String, Value>> {
    prop::collection::vec(
        prop_oneof![
            (0..10u64).prop_map(|n| ("minLength".to_owned(), json!(n))),
            (0..10u64).prop_map(|n| ("maxItems".to_owned(), json!(n))),
            (0..10u64).prop_map(|n| ("maxProperties".to_owned(), json!(n))),
            (-5..5i64).prop_map(|n| ("minimum".to_owned(), json!(n))),
            (-5..5i64).prop_map(|n| ("multipleOf".to_owned(), json!(n))),
            any::<bool>().prop_map(|b| ("nullable".to_owned(), json!(b))),
            any::<bool>()
                .prop_map(|b| ("x-kubernetes-preserve-unknown-fields".to_owned(), json!(b))),
            any::<bool>().prop_map(|b| ("x-kubernetes-embedded-resource".to_owned(), json!(b))),
            any::<bool>().prop_map(|b| ("x-kubernetes-int-or-string".to_owned(), json!(b))),
            any::<bool>().prop_map(|b| ("uniqueItems".to_owned(), json!(b))),
            Just(("x-kubernetes-list-type".to_owned(), json!("map"))),
            Just(("x-kubernetes-list-type".to_owned(), json!("set"))),
            Just(("x-kubernetes-list-map-keys".to_owned(), json!(["a", "b"]))),
            Just(("required".to_owned(), json!(["a", "spec"]))),
            Just(("enum".to_owned(), json!(["a", 1, null]))),
            Just(("format".to_owned(), json!("date-time"))),
            Just(("format".to_owned(), json!("int32"))),
            Just(("pattern".to_owned(), json!("^[a-z]*$"))),
            Just(("default".to_owned(), json!({"a": 1, "spec": {}}))),
            Just(("default".to_owned(), json!([null, "x"]))),
            Just(("default".to_owned(), json!("d"))),
        ],
        0..4,
    )
    .prop_map(|kv| kv.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn schema_operations_never_panic(schema in arb_schema(), obj in arb_json()) {
        if let Ok(s) = StructuralSchema::from_schema(&schema) {
            let mut o = obj.clone();
            let _ = s.validate(&o);
            let _ = s.prune(&mut o);
            s.apply_defaults(&mut o);
            let _ = s.validate(&o);
            // Defaults are stored pruned, so defaulting never brings back prunable fields.
            let again = s.prune(&mut o);
            prop_assert!(again.is_empty(), "{:?}", again);
        }
    }

    #[test]
    fn arbitrary_json_as_schema_never_panics(schema in arb_json(), obj in arb_json()) {
        if let Ok(s) = StructuralSchema::from_schema(&schema) {
            let mut o = obj;
            let _ = s.prune(&mut o);
            s.apply_defaults(&mut o);
            let _ = s.validate(&o);
        }
    }

    #[test]
    fn crd_validation_never_panics_on_arbitrary_schemas(schema in arb_schema()) {
        let mut crd = crontab_crd();
        crd["spec"]["versions"][1]["schema"]["openAPIV3Schema"] = schema;
        default_crd(&mut crd);
        let _ = validate_crd(None, &crd);
        let _ = resource_types(&crd);
    }

    #[test]
    fn pruning_twice_changes_nothing_more(obj in arb_json()) {
        let s = v1();
        let mut o = obj;
        s.prune(&mut o);
        let once = o.clone();
        prop_assert!(s.prune(&mut o).is_empty());
        prop_assert_eq!(o, once);
    }
}
