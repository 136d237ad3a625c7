//! The API driven by the real kubectl (default flags) against the built binary.

mod common;

use common::Server;

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: busybox:1.36
        command: ["sleep", "3600"]
        ports:
        - containerPort: 80
      - name: sidecar
        image: busybox:1.36
        command: ["sleep", "3600"]
"#;

#[test]
fn kubectl_version_reports_kubernetes_1_33_with_rk3s_suffix() {
    let s = Server::start();
    let v = s.json(&["version"]);
    let server = &v["serverVersion"];
    assert_eq!(server["major"], "1");
    assert_eq!(server["minor"], "33");
    assert!(
        server["gitVersion"]
            .as_str()
            .unwrap()
            .starts_with("v1.33.0+rk3s"),
        "{server}"
    );
}

#[test]
fn system_namespaces_exist_from_the_start() {
    let s = Server::start();
    let out = s.ok(&["get", "namespaces"]);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(ns) && l.contains("Active")),
            "{ns} missing in:\n{out}"
        );
    }
    assert!(out.starts_with("NAME"), "table header expected:\n{out}");
    assert!(out.lines().next().unwrap().contains("STATUS"));
}

#[test]
fn configmap_create_get_list_update_delete_with_protobuf_bodies() {
    let s = Server::start();
    // kubectl 1.32 sends this create as protobuf.
    let out = s.ok(&[
        "create",
        "configmap",
        "settings",
        "--from-literal=color=blue",
        "--from-literal=size=10",
    ]);
    assert!(out.contains("configmap/settings created"), "{out}");
    let cm = s.json(&["get", "configmap", "settings"]);
    assert_eq!(cm["data"]["color"], "blue");
    assert_eq!(cm["data"]["size"], "10");
    assert!(
        cm["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| u.len() == 36)
    );
    assert!(cm["metadata"]["creationTimestamp"].as_str().is_some());
    let rv1: i64 = cm["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    let err = s.fails(&["create", "configmap", "settings", "--from-literal=a=b"]);
    assert!(
        err.contains("configmaps \"settings\" already exists"),
        "{err}"
    );

    s.ok(&["label", "configmap", "settings", "tier=backend"]);
    s.ok(&["annotate", "configmap", "settings", "note=hello"]);
    let cm = s.json(&["get", "configmap", "settings"]);
    assert_eq!(cm["metadata"]["labels"]["tier"], "backend");
    assert_eq!(cm["metadata"]["annotations"]["note"], "hello");
    let rv2: i64 = cm["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv2 > rv1);

    let listed = s.ok(&["get", "configmaps", "-l", "tier=backend", "-o", "name"]);
    assert_eq!(listed.trim(), "configmap/settings");
    let none = s.ok(&["get", "configmaps", "-l", "tier=frontend", "-o", "name"]);
    assert_eq!(none.trim(), "");

    let out = s.ok(&["delete", "configmap", "settings"]);
    assert!(out.contains("configmap \"settings\" deleted"), "{out}");
    let err = s.fails(&["get", "configmap", "settings"]);
    assert!(err.contains("NotFound"), "{err}");
}

#[test]
fn namespace_secret_and_deployment_created_by_kubectl_create_protobuf() {
    let s = Server::start();
    s.ok(&["create", "namespace", "team-a"]);
    s.ok(&[
        "-n",
        "team-a",
        "create",
        "secret",
        "generic",
        "db",
        "--from-literal=password=s3cret",
    ]);
    let sec = s.json(&["-n", "team-a", "get", "secret", "db"]);
    assert_eq!(sec["data"]["password"], "czNjcmV0");
    assert_eq!(sec["type"], "Opaque");
    s.ok(&[
        "-n",
        "team-a",
        "create",
        "deployment",
        "api",
        "--image=busybox",
        "--replicas=3",
        "--port=8080",
    ]);
    let d = s.json(&["-n", "team-a", "get", "deployment", "api"]);
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        8080
    );
    assert_eq!(d["metadata"]["generation"], 1);
}

#[test]
fn apply_twice_is_unchanged_then_changes_patch_only_what_changed() {
    let s = Server::start();
    let out = s.apply(DEPLOYMENT);
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let out = s.apply(DEPLOYMENT);
    assert!(out.contains("deployment.apps/web unchanged"), "{out}");
    let changed = DEPLOYMENT
        .replacen("replicas: 2", "replicas: 4", 1)
        .replacen("image: busybox:1.36", "image: busybox:1.37", 1);
    let out = s.apply(&changed);
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    let d = s.json(&["get", "deployment", "web"]);
    assert_eq!(d["spec"]["replicas"], 4);
    let containers = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(
        containers.len(),
        2,
        "strategic merge must keep both containers: {containers:?}"
    );
    assert_eq!(containers[0]["image"], "busybox:1.37");
    assert_eq!(containers[1]["name"], "sidecar");
    assert_eq!(containers[1]["image"], "busybox:1.36");
    assert_eq!(d["metadata"]["generation"], 2);

    s.ok(&["set", "image", "deployment/web", "sidecar=busybox:1.38"]);
    s.ok(&["scale", "deployment", "web", "--replicas=1"]);
    s.ok(&[
        "patch",
        "deployment",
        "web",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"patched":"merge"}}}"#,
    ]);
    s.ok(&[
        "patch",
        "deployment",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/metadata/labels/jp","value":"yes"}]"#,
    ]);
    let d = s.json(&["get", "deployment", "web"]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][1]["image"],
        "busybox:1.38"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox:1.37"
    );
    assert_eq!(d["metadata"]["labels"]["patched"], "merge");
    assert_eq!(d["metadata"]["labels"]["jp"], "yes");
}

#[test]
fn get_prints_upstream_columns_and_wide_output() {
    let s = Server::start();
    s.apply(DEPLOYMENT);
    let out = s.ok(&["get", "deployments"]);
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    let wide = s.ok(&["get", "deployments", "-o", "wide"]);
    let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    assert!(wide.contains("web,sidecar"), "{wide}");
    let labels = s.ok(&["get", "deployments", "--show-labels"]);
    assert!(labels.contains("app=web"), "{labels}");
    let jp = s.ok(&[
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.spec.template.spec.containers[*].name}",
    ]);
    assert_eq!(jp, "web sidecar");
    let cc = s.ok(&[
        "get",
        "deployments",
        "-o",
        "custom-columns=N:.metadata.name,R:.spec.replicas",
        "--no-headers",
    ]);
    assert_eq!(cc.split_whitespace().collect::<Vec<_>>(), ["web", "2"]);
    let all = s.ok(&["get", "deployments", "-A"]);
    assert!(
        all.lines().next().unwrap().starts_with("NAMESPACE"),
        "{all}"
    );
}

#[test]
fn bad_input_gets_upstream_status_errors() {
    let s = Server::start();
    let err = s.fails(&["create", "configmap", "Bad_Name"]);
    assert!(
        err.contains("Invalid") && err.contains("metadata.name"),
        "{err}"
    );
    let err = s.fails(&["-n", "missing-ns", "create", "configmap", "x"]);
    assert!(err.contains("namespaces \"missing-ns\" not found"), "{err}");
    // Unknown field with kubectl's default --validate=strict.
    let out = s.kubectl_stdin(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\nbogus: 1\ndata:\n  a: b\n"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("unknown field") && err.contains("bogus"),
        "{err}"
    );
    // Wrong type.
    let out = s.kubectl_stdin(
        &["create", "-f", "-"],
        Some("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas: many\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c, image: i}]}\n"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("BadRequest"), "{err}");
    let err = s.fails(&["get", "configmaps", "--field-selector", "data.x=1"]);
    assert!(err.contains("field label not supported"), "{err}");
}

#[test]
fn stale_resource_version_on_replace_is_a_conflict() {
    let s = Server::start();
    s.ok(&["create", "configmap", "c", "--from-literal=a=1"]);
    let mut cm = s.json(&["get", "configmap", "c"]);
    s.ok(&["label", "configmap", "c", "x=y"]);
    cm["data"]["a"] = serde_json::json!("2");
    let out = s.kubectl_stdin(&["replace", "-f", "-"], Some(&cm.to_string()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("Conflict")
            && err.contains("the object has been modified"),
        "{err}"
    );
}

#[test]
fn generate_name_creates_unique_names() {
    let s = Server::start();
    let manifest =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: job-\ndata:\n  a: b\n";
    let a = s.kubectl_stdin(&["create", "-f", "-", "-o", "name"], Some(manifest));
    let b = s.kubectl_stdin(&["create", "-f", "-", "-o", "name"], Some(manifest));
    let (a, b) = (
        String::from_utf8_lossy(&a.stdout).trim().to_string(),
        String::from_utf8_lossy(&b.stdout).trim().to_string(),
    );
    assert!(
        a.starts_with("configmap/job-") && a.len() == "configmap/job-".len() + 5,
        "{a}"
    );
    assert!(b.starts_with("configmap/job-") && a != b);
}

#[test]
fn namespace_deletion_terminates_and_removes_its_contents() {
    let s = Server::start();
    s.ok(&["create", "namespace", "doomed"]);
    s.ok(&["-n", "doomed", "create", "configmap", "c1"]);
    s.ok(&[
        "-n",
        "doomed",
        "create",
        "secret",
        "generic",
        "s1",
        "--from-literal=a=b",
    ]);
    let out = s.ok(&["delete", "namespace", "doomed", "--timeout=30s"]);
    assert!(out.contains("namespace \"doomed\" deleted"), "{out}");
    let err = s.fails(&["get", "namespace", "doomed"]);
    assert!(err.contains("NotFound"), "{err}");
    let out = s.ok(&[
        "get",
        "configmaps",
        "-A",
        "-o",
        "name",
        "--field-selector",
        "metadata.namespace=doomed",
    ]);
    assert_eq!(out.trim(), "");
}

#[test]
fn api_resources_lists_builtin_groups_with_short_names() {
    let s = Server::start();
    let out = s.ok(&["api-resources"]);
    for (name, short, version, kind) in [
        ("pods", "po", "v1", "Pod"),
        ("deployments", "deploy", "apps/v1", "Deployment"),
        ("cronjobs", "cj", "batch/v1", "CronJob"),
        (
            "customresourcedefinitions",
            "crd,crds",
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
        ),
        (
            "horizontalpodautoscalers",
            "hpa",
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
        ),
    ] {
        assert!(
            out.lines().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.first() == Some(&name)
                    && f.get(1) == Some(&short)
                    && f.get(2) == Some(&version)
                    && f.last() == Some(&kind)
            }),
            "{name} row missing or wrong in:\n{out}"
        );
    }
}

#[test]
fn explain_reads_the_openapi_documents() {
    let s = Server::start();
    let out = s.ok(&["explain", "pods.spec.containers.image"]);
    assert!(out.contains("KIND:") && out.contains("Pod"), "{out}");
    assert!(out.to_lowercase().contains("container image name"), "{out}");
}

#[test]
fn watch_streams_changes_to_kubectl_get_w() {
    let s = Server::start();
    s.ok(&["create", "configmap", "w1"]);
    let kc = s.kubeconfig();
    let home = s.dir.path().to_path_buf();
    let watcher = std::thread::spawn(move || {
        common::kubectl_with(
            &kc,
            &home,
            &["get", "configmaps", "-w", "--request-timeout=4s"],
            None,
        )
    });
    std::thread::sleep(std::time::Duration::from_millis(1500));
    s.ok(&["create", "configmap", "w2"]);
    s.ok(&["label", "configmap", "w1", "changed=yes"]);
    let out = watcher.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().next().unwrap_or("").starts_with("NAME"),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("w1")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("w2")), "{text}");
    assert!(!text.contains("<unknown>"), "no bookmark garbage: {text}");
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let mut s = Server::start();
    for i in 0..20 {
        s.ok(&[
            "create",
            "configmap",
            &format!("durable-{i}"),
            &format!("--from-literal=i={i}"),
        ]);
    }
    let before = s.json(&["get", "configmap", "durable-19"]);
    s.kill9_and_restart();
    let after = s.json(&["get", "configmap", "durable-19"]);
    assert_eq!(before["metadata"]["uid"], after["metadata"]["uid"]);
    assert_eq!(
        before["metadata"]["resourceVersion"],
        after["metadata"]["resourceVersion"]
    );
    let names = s.ok(&["get", "configmaps", "-o", "name"]);
    assert_eq!(
        names
            .lines()
            .filter(|l| l.starts_with("configmap/durable-"))
            .count(),
        20
    );
    s.ok(&["create", "configmap", "after-restart"]);
    let new = s.json(&["get", "configmap", "after-restart"]);
    let rv_new: i64 = new["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let rv_old: i64 = after["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv_new > rv_old, "revisions continue after restart");
}

#[test]
fn list_pagination_returns_every_object_once() {
    let s = Server::start();
    for i in 0..25 {
        s.ok(&["create", "configmap", &format!("p{i:02}")]);
    }
    // --chunk-size makes kubectl follow continue tokens.
    let out = s.ok(&["get", "configmaps", "--chunk-size=7", "-o", "name"]);
    let names: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("configmap/p"))
        .collect();
    assert_eq!(names.len(), 25, "{out}");
    let mut sorted = names.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 25);
}

#[test]
fn auth_whoami_and_can_i_answer_for_the_admin() {
    let s = Server::start();
    let out = s.ok(&["auth", "whoami"]);
    assert!(
        out.contains("system:admin") && out.contains("system:masters"),
        "{out}"
    );
    let out = s.ok(&["auth", "can-i", "create", "deployments"]);
    assert_eq!(out.trim(), "yes");
    // Reviews are answered, never stored.
    let out = s.ok(&["get", "--raw", "/api/v1/namespaces/default/configmaps"]);
    assert!(!out.contains("SelfSubject"));
}

#[test]
fn events_are_one_store_served_as_core_v1_and_events_k8s_io_v1() {
    let s = Server::start();
    let ev = r#"{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"e1"},
        "regarding":{"kind":"Pod","name":"web","namespace":"default"},"note":"pulled the image",
        "reason":"Pulled","type":"Normal","action":"Pull","reportingController":"kubelet",
        "reportingInstance":"node-1","eventTime":"2026-01-01T00:00:00.000000Z"}"#;
    s.kubectl_stdin(&["create", "-f", "-"], Some(ev));
    let core = s.json(&["get", "events.v1.", "e1"]);
    assert_eq!(core["apiVersion"], "v1");
    assert_eq!(core["message"], "pulled the image");
    assert_eq!(core["involvedObject"]["name"], "web");
    let new = s.json(&["get", "events.v1.events.k8s.io", "e1"]);
    assert_eq!(new["apiVersion"], "events.k8s.io/v1");
    assert_eq!(new["note"], "pulled the image");
    assert_eq!(new["regarding"]["name"], "web");
    let table = s.ok(&["get", "events"]);
    assert!(
        table.contains("Pulled") && table.contains("pulled the image"),
        "{table}"
    );
}

#[test]
fn services_get_unique_cluster_ips_and_node_ports_released_on_delete() {
    let s = Server::start();
    let k = s.json(&["get", "service", "kubernetes"]);
    assert_eq!(k["spec"]["clusterIP"], "10.43.0.1");
    assert_eq!(k["spec"]["ports"][0]["port"], 443);
    let ep = s.json(&["get", "endpoints", "kubernetes"]);
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], s.port);

    s.ok(&["create", "service", "clusterip", "web", "--tcp=80:8080"]);
    s.ok(&["create", "service", "nodeport", "np", "--tcp=80:8080"]);
    let web = s.json(&["get", "service", "web"]);
    let ip = web["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert!(ip.starts_with("10.43.") && ip != "10.43.0.1", "{ip}");
    let np = s.json(&["get", "service", "np"]);
    let port = np["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
    assert!((30000..=32767).contains(&port), "{port}");
    assert_ne!(np["spec"]["clusterIP"], web["spec"]["clusterIP"]);

    // Asking for a taken address or port is Invalid; so is one outside the range.
    let taken = format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: dup\nspec:\n  clusterIP: {ip}\n  ports:\n  - port: 80\n"
    );
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(&taken));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("provided IP is already allocated"),
        "{err}"
    );
    let outside = "apiVersion: v1\nkind: Service\nmetadata:\n  name: far\nspec:\n  clusterIP: 192.168.9.9\n  ports:\n  - port: 80\n";
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(outside));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in the valid range"));
    let dup_port = format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: dupport\nspec:\n  type: NodePort\n  ports:\n  - port: 80\n    nodePort: {port}\n"
    );
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(&dup_port));
    assert!(String::from_utf8_lossy(&out.stderr).contains("provided port is already allocated"));

    // Deleting a service frees its address and port for the next one.
    s.ok(&["delete", "service", "web", "np"]);
    let reuse = format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: reuse\nspec:\n  type: NodePort\n  clusterIP: {ip}\n  ports:\n  - port: 80\n    nodePort: {port}\n"
    );
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(&reuse));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Updating the service keeps them.
    s.ok(&["label", "service", "reuse", "x=y"]);
    let r = s.json(&["get", "service", "reuse"]);
    assert_eq!(r["spec"]["clusterIP"], ip.as_str());
    assert_eq!(r["spec"]["ports"][0]["nodePort"], port);
}

#[test]
fn rbac_default_roles_and_bindings_decide_access_for_other_users() {
    let s = Server::start();
    // The default policy exists with upstream's names and aggregated rules.
    let view = s.json(&["get", "clusterrole", "view"]);
    assert!(
        view["rules"].as_array().is_some_and(|r| !r.is_empty()),
        "{view}"
    );
    s.ok(&[
        "get",
        "clusterrolebinding",
        "cluster-admin",
        "system:basic-user",
        "system:discovery",
    ]);
    // An impersonated user (the admin may impersonate) gets what bindings give.
    let out = s.kubectl(&[
        "auth", "can-i", "list", "pods", "--as", "bob", "-n", "default",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no");
    let err = s.fails(&["get", "pods", "--as", "bob", "-n", "default"]);
    assert!(
        err.contains("User \"bob\" cannot list resource \"pods\""),
        "{err}"
    );
    s.ok(&[
        "create",
        "rolebinding",
        "bob-edit",
        "--clusterrole=edit",
        "--user=bob",
        "-n",
        "default",
    ]);
    let yes = s.kubectl(&[
        "auth",
        "can-i",
        "create",
        "deployments",
        "--as",
        "bob",
        "-n",
        "default",
    ]);
    assert_eq!(String::from_utf8_lossy(&yes.stdout).trim(), "yes");
    let no = s.kubectl(&[
        "auth",
        "can-i",
        "create",
        "deployments",
        "--as",
        "bob",
        "-n",
        "kube-system",
    ]);
    assert_eq!(String::from_utf8_lossy(&no.stdout).trim(), "no");
    let secrets = s.kubectl(&["auth", "can-i", "get", "clusterroles", "--as", "bob"]);
    assert_eq!(String::from_utf8_lossy(&secrets.stdout).trim(), "no");
}

#[test]
fn server_side_apply_tracks_owners_reports_conflicts_and_forces() {
    let s = Server::start();
    let out = s.kubectl_stdin(&["apply", "--server-side", "-f", "-"], Some(DEPLOYMENT));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("serverside-applied"));
    let d = s.json(&["get", "deployment", "web", "--show-managed-fields"]);
    let mf = d["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields");
    assert!(
        mf.iter()
            .any(|m| m["manager"] == "kubectl" && m["operation"] == "Apply"),
        "{mf:?}"
    );
    // Someone else changes replicas; applying another value conflicts, naming them.
    s.ok(&["scale", "deployment", "web", "--replicas=5"]);
    let changed = DEPLOYMENT.replacen("replicas: 2", "replicas: 3", 1);
    let out = s.kubectl_stdin(&["apply", "--server-side", "-f", "-"], Some(&changed));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("conflict") && err.contains(".spec.replicas"),
        "{err}"
    );
    let out = s.kubectl_stdin(
        &["apply", "--server-side", "--force-conflicts", "-f", "-"],
        Some(&changed),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.json(&["get", "deployment", "web"])["spec"]["replicas"], 3);
    // Dropping a field from the applied configuration removes it.
    let without_sidecar: String = {
        let i = changed.find("      - name: sidecar").unwrap();
        changed[..i].to_string()
    };
    let out = s.kubectl_stdin(
        &["apply", "--server-side", "-f", "-"],
        Some(&without_sidecar),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let containers =
        s.json(&["get", "deployment", "web"])["spec"]["template"]["spec"]["containers"].clone();
    assert_eq!(containers.as_array().unwrap().len(), 1, "{containers}");
    // kubectl diff uses server-side dry run: a change shows, nothing is stored.
    let more = without_sidecar.replacen("replicas: 3", "replicas: 7", 1);
    let out = s.kubectl_stdin(&["diff", "--server-side", "-f", "-"], Some(&more));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("replicas: 7"));
    assert_eq!(s.json(&["get", "deployment", "web"])["spec"]["replicas"], 3);
}

#[test]
fn pods_bind_once_and_evictions_respect_disruption_budgets() {
    let s = Server::start();
    s.ok(&["run", "p1", "--image=busybox", "--labels=app=guarded"]);
    let bind = r#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p1"},"target":{"apiVersion":"v1","kind":"Node","name":"node-a"}}"#;
    let path = "/api/v1/namespaces/default/pods/p1/binding";
    let f = s.dir.path().join("binding.json");
    std::fs::write(&f, bind).unwrap();
    s.ok(&["create", "--raw", path, "-f", f.to_str().unwrap()]);
    assert_eq!(s.json(&["get", "pod", "p1"])["spec"]["nodeName"], "node-a");
    let err = s.fails(&["create", "--raw", path, "-f", f.to_str().unwrap()]);
    assert!(err.contains("already assigned"), "{err}");
    // Mark it running, guard it with a budget that allows nothing: eviction is refused (429).
    s.ok(&[
        "patch",
        "pod",
        "p1",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#,
    ]);
    s.apply("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: guard\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels: {app: guarded}\n");
    let ev = s.dir.path().join("eviction.json");
    std::fs::write(&ev, r#"{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"p1","namespace":"default"}}"#).unwrap();
    let err = s.fails(&[
        "create",
        "--raw",
        "/api/v1/namespaces/default/pods/p1/eviction",
        "-f",
        ev.to_str().unwrap(),
    ]);
    assert!(err.contains("disruption budget"), "{err}");
    s.ok(&["get", "pod", "p1"]);
    // A budget that allows one disruption (the disruption controller recomputes its status):
    // the eviction deletes the pod.
    s.ok(&[
        "patch",
        "pdb",
        "guard",
        "--type=merge",
        "-p",
        r#"{"spec":{"minAvailable":0}}"#,
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s.json(&["get", "pdb", "guard"])["status"]["disruptionsAllowed"] != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the budget never allowed a disruption"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    s.ok(&[
        "create",
        "--raw",
        "/api/v1/namespaces/default/pods/p1/eviction",
        "-f",
        ev.to_str().unwrap(),
    ]);
    s.fails(&["get", "pod", "p1"]);
}

#[test]
fn built_in_kinds_are_defaulted_and_validated_like_upstream() {
    let s = Server::start();
    s.ok(&["create", "deployment", "d", "--image=nginx:1.27"]);
    let d = s.json(&["get", "deployment", "d"]);
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Always");
    assert_eq!(pod["dnsPolicy"], "ClusterFirst");
    assert_eq!(pod["schedulerName"], "default-scheduler");
    assert_eq!(pod["terminationGracePeriodSeconds"], 30);
    assert_eq!(pod["containers"][0]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(
        pod["containers"][0]["terminationMessagePath"],
        "/dev/termination-log"
    );
    s.ok(&["create", "service", "clusterip", "svc", "--tcp=80:8080"]);
    let svc = s.json(&["get", "service", "svc"]);
    assert_eq!(svc["spec"]["sessionAffinity"], "None");
    assert_eq!(svc["spec"]["ipFamilies"][0], "IPv4");

    // Invalid values are 422 naming the field.
    let bad_port = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bp\nspec:\n  containers:\n  - name: c\n    image: busybox\n    ports:\n    - containerPort: 70000\n";
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(bad_port));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("spec.containers[0].ports[0].containerPort"),
        "{err}"
    );
    // Selectors of deployments are immutable.
    let err = s.fails(&["patch", "deployment", "d", "--type=merge", "-p", r#"{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}"#]);
    assert!(
        err.contains("spec.selector") && err.contains("field is immutable"),
        "{err}"
    );
    // A service's clusterIP cannot change.
    let err = s.fails(&[
        "patch",
        "service",
        "svc",
        "--type=merge",
        "-p",
        r#"{"spec":{"clusterIP":"10.43.99.99"}}"#,
    ]);
    assert!(err.contains("spec.clusterIP"), "{err}");
}

#[test]
fn resource_quota_and_limit_range_are_enforced_at_create_time() {
    let s = Server::start();
    s.ok(&["create", "namespace", "q"]);
    s.apply("apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: lr\n  namespace: q\nspec:\n  limits:\n  - type: Container\n    default: {cpu: 500m, memory: 128Mi}\n    defaultRequest: {cpu: 100m, memory: 64Mi}\n    max: {cpu: '1'}\n");
    s.apply("apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: small\n  namespace: q\nspec:\n  hard: {pods: '2', requests.cpu: 250m}\n");
    s.ok(&["-n", "q", "run", "a", "--image=busybox"]);
    let a = s.json(&["-n", "q", "get", "pod", "a"]);
    assert_eq!(
        a["spec"]["containers"][0]["resources"]["requests"]["cpu"], "100m",
        "LimitRange default: {a}"
    );
    assert_eq!(
        a["spec"]["containers"][0]["resources"]["limits"]["memory"],
        "128Mi"
    );
    s.ok(&["-n", "q", "run", "b", "--image=busybox"]);
    let err = s.fails(&["-n", "q", "run", "c", "--image=busybox"]);
    assert!(
        err.contains("exceeded quota: small") && err.contains("pods=1"),
        "{err}"
    );
    let q = s.json(&["-n", "q", "get", "resourcequota", "small"]);
    assert_eq!(q["status"]["used"]["pods"], "2", "{q}");
    // LimitRange max.
    let big = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: big\n  namespace: q\nspec:\n  containers:\n  - name: c\n    image: busybox\n    resources:\n      limits: {cpu: '2'}\n";
    s.ok(&["-n", "q", "delete", "pod", "b"]);
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(big));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("maximum cpu usage per Container is 1, but limit is 2"),
        "{err}"
    );
}
