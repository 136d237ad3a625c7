//! Scheduling decisions end to end over snapshots: filters, scores and upstream's messages.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};

use crate::filter::{PodContext, Reason, filter};
use crate::schedule::{FitError, schedule};
use crate::snapshot::Snapshot;

fn node(name: &str, extra: Value) -> Arc<Node> {
    let mut n = json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}
    });
    merge(&mut n, extra);
    Arc::new(serde_json::from_value(n).unwrap())
}

fn pod(name: &str, extra: Value) -> Pod {
    let mut p = json!({
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    });
    merge(&mut p, extra);
    serde_json::from_value(p).unwrap()
}

fn placed(name: &str, node: &str, extra: Value) -> Arc<Pod> {
    let mut p = pod(name, extra);
    p.spec.as_mut().unwrap().node_name = Some(node.into());
    Arc::new(p)
}

fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn three_nodes() -> Vec<Arc<Node>> {
    vec![
        node("n1", json!({})),
        node("n2", json!({})),
        node("n3", json!({})),
    ]
}

fn cpu(amount: &str) -> Value {
    json!({"spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": amount}}}]}})
}

fn fail_message(p: &Pod, s: &Snapshot) -> String {
    match schedule(p, s) {
        Err(e) => e.to_string(),
        Ok(n) => panic!("unexpectedly scheduled to {n}"),
    }
}

#[test]
fn plain_pod_lands_on_some_node() {
    let s = Snapshot::new(three_nodes(), []);
    let n = schedule(&pod("p", json!({})), &s).unwrap();
    assert!(["n1", "n2", "n3"].contains(&n.as_str()));
}

#[test]
fn no_nodes_gives_upstreams_message() {
    let s = Snapshot::new([], []);
    assert_eq!(schedule(&pod("p", json!({})), &s), Err(FitError::NoNodes));
    assert_eq!(
        FitError::NoNodes.to_string(),
        "no nodes available to schedule pods"
    );
}

#[test]
fn too_much_cpu_reads_like_upstream() {
    let s = Snapshot::new(three_nodes(), []);
    assert_eq!(
        fail_message(&pod("p", cpu("5")), &s),
        "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    );
}

#[test]
fn used_cpu_counts_against_the_node() {
    let nodes = vec![node("n1", json!({})), node("n2", json!({}))];
    let s = Snapshot::new(nodes, [placed("big", "n1", cpu("3500m"))]);
    assert_eq!(schedule(&pod("p", cpu("1")), &s).unwrap(), "n2");
}

#[test]
fn several_shortages_are_each_counted_and_sorted() {
    let s = Snapshot::new(three_nodes(), []);
    let p = pod(
        "p",
        json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "5", "memory": "9Gi"}}}]}}),
    );
    assert_eq!(
        fail_message(&p, &s),
        "0/3 nodes are available: 3 Insufficient cpu, 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    );
}

#[test]
fn unmatched_node_selector_is_not_helped_by_preemption() {
    let s = Snapshot::new(three_nodes(), []);
    let p = pod("p", json!({"spec": {"nodeSelector": {"disk": "ssd"}}}));
    assert_eq!(
        fail_message(&p, &s),
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
}

#[test]
fn mixed_reasons_make_a_sorted_histogram() {
    let nodes = vec![
        node(
            "n1",
            json!({"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}}),
        ),
        node("n2", json!({"spec": {"unschedulable": true}})),
        node("n3", json!({"status": {"allocatable": {"cpu": "1"}}})),
    ];
    let s = Snapshot::new(nodes, []);
    assert_eq!(
        fail_message(&pod("p", cpu("2")), &s),
        "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
    );
}

#[test]
fn preemption_policy_never_is_stated() {
    let s = Snapshot::new(three_nodes(), []);
    let p = pod(
        "p",
        json!({"spec": {"preemptionPolicy": "Never", "containers": [{"name": "c", "resources": {"requests": {"cpu": "5"}}}]}}),
    );
    assert!(
        fail_message(&p, &s).ends_with("preemption: not eligible due to preemptionPolicy=Never.")
    );
}

#[test]
fn taints_need_tolerations() {
    let taint =
        json!({"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}});
    let s = Snapshot::new(
        vec![
            node("gpu", taint),
            node("plain", json!({"spec": {"unschedulable": true}})),
        ],
        [],
    );
    assert!(schedule(&pod("p", json!({})), &s).is_err());
    let tolerant = pod(
        "p",
        json!({"spec": {"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}}),
    );
    assert_eq!(schedule(&tolerant, &s).unwrap(), "gpu");
}

#[test]
fn no_execute_taints_filter_but_prefer_no_schedule_only_scores() {
    let s = Snapshot::new(
        vec![
            node(
                "a",
                json!({"spec": {"taints": [{"key": "k", "effect": "NoExecute"}]}}),
            ),
            node(
                "b",
                json!({"spec": {"taints": [{"key": "k", "effect": "PreferNoSchedule"}]}}),
            ),
            node("c", json!({})),
        ],
        [],
    );
    for _ in 0..20 {
        assert_eq!(schedule(&pod("p", json!({})), &s).unwrap(), "c");
    }
    let only_soft = Snapshot::new(
        vec![node(
            "b",
            json!({"spec": {"taints": [{"key": "k", "effect": "PreferNoSchedule"}]}}),
        )],
        [],
    );
    assert_eq!(schedule(&pod("p", json!({})), &only_soft).unwrap(), "b");
}

#[test]
fn unschedulable_node_admits_pods_tolerating_it() {
    let s = Snapshot::new(
        vec![node("n", json!({"spec": {"unschedulable": true}}))],
        [],
    );
    let p = pod(
        "p",
        json!({"spec": {"tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]}}),
    );
    assert_eq!(schedule(&p, &s).unwrap(), "n");
}

#[test]
fn node_affinity_required_and_preferred() {
    let nodes = vec![
        node("a", json!({"metadata": {"labels": {"zone": "a"}}})),
        node("b", json!({"metadata": {"labels": {"zone": "b"}}})),
        node("c", json!({"metadata": {"labels": {"zone": "c"}}})),
    ];
    let s = Snapshot::new(nodes, []);
    let p = pod(
        "p",
        json!({"spec": {"affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]},
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}}]
        }}}}),
    );
    for _ in 0..20 {
        assert_eq!(schedule(&p, &s).unwrap(), "b");
    }
}

#[test]
fn host_ports_conflict_with_placed_pods() {
    let port = json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}});
    let s = Snapshot::new(
        vec![node("a", json!({})), node("b", json!({}))],
        [placed("x", "a", port.clone())],
    );
    assert_eq!(schedule(&pod("p", port.clone()), &s).unwrap(), "b");
    let full = Snapshot::new(vec![node("a", json!({}))], [placed("x", "a", port.clone())]);
    assert_eq!(
        fail_message(&pod("p", port), &full),
        "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    );
}

#[test]
fn pod_count_is_limited() {
    let s = Snapshot::new(
        vec![node("a", json!({"status": {"allocatable": {"pods": "1"}}}))],
        [placed("x", "a", json!({}))],
    );
    assert!(
        fail_message(&pod("p", json!({})), &s)
            .starts_with("0/1 nodes are available: 1 Too many pods.")
    );
}

#[test]
fn extended_resources_must_exist_on_the_node() {
    let s = Snapshot::new(vec![node("a", json!({}))], []);
    let p = pod(
        "p",
        json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"example.com/gpu": "1"}, "limits": {"example.com/gpu": "1"}}}]}}),
    );
    assert!(
        fail_message(&p, &s)
            .starts_with("0/1 nodes are available: 1 Insufficient example.com/gpu.")
    );
}

fn zoned() -> Vec<Arc<Node>> {
    vec![
        node("a1", json!({"metadata": {"labels": {"zone": "a"}}})),
        node("a2", json!({"metadata": {"labels": {"zone": "a"}}})),
        node("b1", json!({"metadata": {"labels": {"zone": "b"}}})),
    ]
}

#[test]
fn pod_affinity_follows_matching_pods_zone() {
    let s = Snapshot::new(
        zoned(),
        [placed(
            "db",
            "b1",
            json!({"metadata": {"labels": {"app": "db"}}}),
        )],
    );
    let p = pod(
        "web",
        json!({"spec": {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}
        ]}}}}),
    );
    assert_eq!(schedule(&p, &s).unwrap(), "b1");
}

#[test]
fn pod_affinity_without_any_match_fails_unless_self_matching() {
    let s = Snapshot::new(zoned(), []);
    let p = pod(
        "web",
        json!({"spec": {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}
        ]}}}}),
    );
    assert_eq!(
        fail_message(&p, &s),
        "0/3 nodes are available: 3 node(s) didn't match pod affinity rules. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    let first = pod(
        "web",
        json!({"spec": {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "zone"}
        ]}}}}),
    );
    assert!(schedule(&first, &s).is_ok());
}

#[test]
fn pod_anti_affinity_keeps_replicas_apart() {
    let anti = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "zone"}
    ]}}}});
    let s = Snapshot::new(zoned(), [placed("web-1", "a1", anti.clone())]);
    assert_eq!(schedule(&pod("web-2", anti.clone()), &s).unwrap(), "b1");
    let s = Snapshot::new(
        zoned(),
        [
            placed("web-1", "a1", anti.clone()),
            placed("web-2", "b1", anti.clone()),
        ],
    );
    assert!(fail_message(&pod("web-3", anti), &s).starts_with(
        "0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity rules."
    ));
}

#[test]
fn existing_pods_anti_affinity_repels_matching_newcomers() {
    let loner = json!({"metadata": {"labels": {"app": "loner"}}, "spec": {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "noisy"}}, "topologyKey": "kubernetes.io/hostname"}
    ]}}}});
    let s = Snapshot::new(
        vec![node("a", json!({})), node("b", json!({}))],
        [placed("loner", "a", loner)],
    );
    let noisy = pod("noisy", json!({"metadata": {"labels": {"app": "noisy"}}}));
    for _ in 0..10 {
        assert_eq!(schedule(&noisy, &s).unwrap(), "b");
    }
}

#[test]
fn incoming_anti_affinity_is_reported_as_such() {
    let s = Snapshot::new(
        vec![node("a", json!({}))],
        [placed(
            "db",
            "a",
            json!({"metadata": {"labels": {"app": "db"}}}),
        )],
    );
    let p = pod(
        "p",
        json!({"spec": {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}
        ]}}}}),
    );
    assert!(
        fail_message(&p, &s).starts_with(
            "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules."
        )
    );
}

#[test]
fn topology_spread_keeps_skew_within_bounds() {
    let spread = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}
    ]}});
    let s = Snapshot::new(zoned(), [placed("w1", "a1", spread.clone())]);
    assert_eq!(schedule(&pod("w2", spread.clone()), &s).unwrap(), "b1");
    let s = Snapshot::new(
        zoned(),
        [
            placed("w1", "a1", spread.clone()),
            placed("w2", "a2", spread.clone()),
        ],
    );
    let ctx_pod = pod("w3", spread.clone());
    let ctx = PodContext::new(&ctx_pod, &s);
    assert_eq!(
        filter(&ctx, s.node("a1").unwrap()),
        Err(Reason::TopologySpread)
    );
    assert_eq!(filter(&ctx, s.node("b1").unwrap()), Ok(()));
}

#[test]
fn topology_spread_needs_the_key_on_the_node() {
    let spread = json!({"spec": {"topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}
    ]}});
    let s = Snapshot::new(vec![node("bare", json!({}))], []);
    assert!(fail_message(&pod("p", spread), &s).starts_with(
        "0/1 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label)."
    ));
}

#[test]
fn soft_spread_prefers_emptier_domains() {
    let spread = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "web"}}}
    ]}});
    let s = Snapshot::new(
        zoned(),
        [
            placed("w1", "a1", spread.clone()),
            placed("w2", "a2", spread.clone()),
        ],
    );
    for _ in 0..10 {
        assert_eq!(schedule(&pod("w3", spread.clone()), &s).unwrap(), "b1");
    }
}

#[test]
fn least_allocated_spreads_pods_over_nodes() {
    let mut s = Snapshot::new(three_nodes(), []);
    let mut counts = std::collections::HashMap::new();
    for i in 0..30 {
        let p = Arc::new(pod(&format!("p{i}"), cpu("100m")));
        let n = schedule(&p, &s).unwrap();
        let mut bound = (*p).clone();
        bound.spec.as_mut().unwrap().node_name = Some(n.clone());
        s.assume(&n, Arc::new(bound));
        *counts.entry(n).or_insert(0) += 1;
    }
    assert_eq!(counts.len(), 3);
    assert!(counts.values().all(|c| *c == 10), "{counts:?}");
}

#[test]
fn balanced_allocation_prefers_even_use() {
    // Node a is cpu-heavy; a memory-heavy pod evens it out there.
    let nodes = vec![node("a", json!({})), node("b", json!({}))];
    let s = Snapshot::new(
        nodes,
        [
            placed(
                "cpu-hog",
                "a",
                json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "2", "memory": "200Mi"}}}]}}),
            ),
            placed(
                "mem-hog",
                "b",
                json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "100m", "memory": "4Gi"}}}]}}),
            ),
        ],
    );
    let p = pod(
        "p",
        json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "100m", "memory": "3Gi"}}}]}}),
    );
    let ctx = PodContext::new(&p, &s);
    let a = crate::score::score(&ctx, s.node("a").unwrap());
    let b = crate::score::score(&ctx, s.node("b").unwrap());
    assert!(a.balanced > b.balanced, "{a:?} vs {b:?}");
}

#[test]
fn terminal_pods_free_their_resources() {
    let done = placed("done", "a", cpu("4"));
    let mut done = (*done).clone();
    done.status = Some(serde_json::from_value(json!({"phase": "Succeeded"})).unwrap());
    let s = Snapshot::new(vec![node("a", json!({}))], [Arc::new(done)]);
    assert_eq!(schedule(&pod("p", cpu("4")), &s).unwrap(), "a");
}

#[test]
fn hostile_specs_do_not_panic() {
    let s = Snapshot::new(
        vec![node(
            "a",
            json!({"status": {"allocatable": {"cpu": "bogus", "pods": "-5"}}}),
        )],
        [],
    );
    let nasty = pod(
        "p",
        json!({"spec": {
            "containers": [{"name": "c", "resources": {"requests": {"cpu": "1e30", "memory": "-1"}}}],
            "affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchExpressions": [{"key": "x", "operator": "Bogus"}]}, "topologyKey": ""}
            ]}},
            "topologySpreadConstraints": [{"maxSkew": 0, "topologyKey": "", "whenUnsatisfiable": "Whatever"}]
        }}),
    );
    assert!(schedule(&nasty, &s).is_err());
    let empty: Pod = serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
    let _ = schedule(&empty, &Snapshot::new(three_nodes(), []));
}

#[test]
fn enormous_allocatable_does_not_overflow_the_scores() {
    let huge = json!({"status": {"allocatable": {"cpu": "9000000000000000", "memory": "9e18", "pods": "110"}}});
    let s = Snapshot::new(vec![node("a", huge.clone()), node("b", huge)], []);
    assert!(schedule(&pod("p", cpu("1")), &s).is_ok());
}

#[test]
fn nodes_to_find_follows_upstreams_adaptive_percentage() {
    use crate::schedule::nodes_to_find;
    assert_eq!(nodes_to_find(0), 0);
    assert_eq!(nodes_to_find(3), 3);
    assert_eq!(nodes_to_find(99), 99);
    assert_eq!(nodes_to_find(100), 100);
    assert_eq!(nodes_to_find(150), 100);
    // 50% less 1% per 125 nodes: 1,000 nodes → 42% → 420.
    assert_eq!(nodes_to_find(1000), 420);
    assert_eq!(nodes_to_find(5000), 500);
    // Never under 5%.
    assert_eq!(nodes_to_find(100_000), 5000);
}

#[test]
fn a_large_cluster_is_searched_in_part_from_a_rotating_start() {
    let nodes: Vec<_> = (0..1000)
        .map(|i| node(&format!("n{i:04}"), json!({})))
        .collect();
    let s = Snapshot::new(nodes, Vec::new());
    let index = |name: &str| name[1..].parse::<usize>().unwrap();
    let first = schedule(&pod("a", json!({})), &s).unwrap();
    // The first search examined nodes 0..420 and picked among them.
    assert!(index(&first) < 420, "{first}");
    let second = schedule(&pod("b", json!({})), &s).unwrap();
    assert!((420..840).contains(&index(&second)), "{second}");
}

#[test]
fn a_pod_fitting_one_node_of_a_large_cluster_finds_it_wherever_the_search_starts() {
    let mut nodes: Vec<_> = (0..300)
        .map(|i| {
            node(
                &format!("n{i:04}"),
                json!({"metadata": {"labels": {"disk": "hdd"}}}),
            )
        })
        .collect();
    nodes.push(node(
        "ssd",
        json!({"metadata": {"labels": {"disk": "ssd"}}}),
    ));
    let s = Snapshot::new(nodes, Vec::new());
    let picky = pod("p", json!({"spec": {"nodeSelector": {"disk": "ssd"}}}));
    for _ in 0..3 {
        assert_eq!(schedule(&picky, &s).unwrap(), "ssd");
        // Move the start past the ssd node with a pod that fits anywhere.
        schedule(&pod("any", json!({})), &s).unwrap();
    }
}

fn with_volumes(mut s: Snapshot, objects: Value) -> Snapshot {
    let mut idx = crate::volumes::VolumeIndex::default();
    for c in objects["claims"].as_array().into_iter().flatten() {
        idx.add_claim(serde_json::from_value(c.clone()).unwrap());
    }
    for v in objects["volumes"].as_array().into_iter().flatten() {
        idx.add_volume(serde_json::from_value(v.clone()).unwrap());
    }
    s.volumes = crate::volumes::Volumes(Arc::new(idx));
    s
}

fn with_claim(name: &str, claim: &str, extra: Value) -> Pod {
    let mut p = pod(
        name,
        json!({"spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}}),
    );
    let mut v = serde_json::to_value(&p).unwrap();
    merge(&mut v, extra);
    p = serde_json::from_value(v).unwrap();
    p
}

#[test]
fn missing_claim_fails_every_node_before_filtering_and_preemption_cannot_help() {
    let s = with_volumes(Snapshot::new(three_nodes(), []), json!({}));
    assert_eq!(
        fail_message(&with_claim("p", "nope", json!({})), &s),
        "0/3 nodes are available: persistentvolumeclaim \"nope\" not found. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    // Even a pod that could evict everything on every node: eviction binds no claim.
    let s = Snapshot::new(
        [node("n1", json!({"status": {"allocatable": {"cpu": "1"}}}))],
        [placed("low", "n1", cpu("1"))],
    );
    let high = with_claim("p", "nope", json!({"spec": {"priority": 1000}}));
    assert_eq!(
        fail_message(&high, &s),
        "0/1 nodes are available: persistentvolumeclaim \"nope\" not found. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    );
}

#[test]
fn unbound_immediate_claim_is_a_pre_filter_failure() {
    let s = with_volumes(
        Snapshot::new(three_nodes(), []),
        json!({"claims": [{"metadata": {"name": "data", "namespace": "default"}, "spec": {}}]}),
    );
    let never = with_claim("p", "data", json!({"spec": {"preemptionPolicy": "Never"}}));
    assert_eq!(
        fail_message(&never, &s),
        "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: not eligible due to preemptionPolicy=Never."
    );
}

fn local_volume_snapshot(extra_nodes: Vec<Arc<Node>>) -> Snapshot {
    let mut nodes = three_nodes();
    nodes.extend(extra_nodes);
    with_volumes(
        Snapshot::new(nodes, []),
        json!({
            "claims": [{"metadata": {"name": "data", "namespace": "default"}, "spec": {"volumeName": "pv1"}, "status": {"phase": "Bound"}}],
            "volumes": [{"metadata": {"name": "pv1"}, "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n2"]}]}
            ]}}}}]
        }),
    )
}

#[test]
fn bound_local_volume_pins_the_pod_to_its_node() {
    let s = local_volume_snapshot(Vec::new());
    for _ in 0..5 {
        assert_eq!(
            schedule(&with_claim("p", "data", json!({})), &s).unwrap(),
            "n2"
        );
    }
}

#[test]
fn volume_node_affinity_conflicts_are_counted_per_node_and_not_preempted() {
    let s = local_volume_snapshot(Vec::new());
    let elsewhere = with_claim(
        "p",
        "data",
        json!({"spec": {"nodeSelector": {"kubernetes.io/hostname": "n1"}}}),
    );
    assert_eq!(
        fail_message(&elsewhere, &s),
        "0/3 nodes are available: 1 node(s) had volume node affinity conflict, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    let ctx = PodContext::new(&elsewhere, &s);
    assert_eq!(
        filter(&ctx, s.node("n1").unwrap()),
        Err(Reason::VolumeNodeAffinityConflict)
    );
    assert!(!Reason::VolumeNodeAffinityConflict.preemption_may_help());
    assert!(!Reason::PreFilter(String::new()).preemption_may_help());
}
