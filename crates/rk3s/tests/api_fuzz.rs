//! Schema-driven fuzz of the served API (fuzz/run_fuzz.py: schemathesis over the server's own
//! OpenAPI v3 documents) for a bounded time: no 5xx, no dropped connection, no panic, and
//! afterwards every stored object still lists, reads and survives a restart.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Server, tail};
use serde_json::Value;

/// Seconds schemathesis spends on each group-version document (RK3S_FUZZ_SECONDS overrides).
const DEFAULT_SECONDS_PER_GROUP_VERSION: u64 = 45;
const GROUP_VERSIONS: &[&str] = &["api/v1", "apis/apps/v1"];
/// Enough to read back everything a bounded fuzz can create, while bounding the check's time.
const MAX_OBJECTS_READ_ONE_BY_ONE: usize = 400;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn schemathesis_installed() -> bool {
    Command::new("python3")
        .args(["-c", "import schemathesis"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn seconds_per_group_version() -> u64 {
    std::env::var("RK3S_FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SECONDS_PER_GROUP_VERSION)
}

fn server_alive(s: &Server) -> bool {
    // The harness never reaps the child while it runs, so an exited server is a zombie.
    match std::fs::read_to_string(format!("/proc/{}/stat", s.pid())) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

fn get_raw(s: &Server, path: &str) -> Result<Value, String> {
    let out = s.kubectl(&["get", "--raw", path]);
    if !out.status.success() {
        return Err(format!(
            "GET {path} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("GET {path} is not JSON: {e}"))
}

/// Cluster-wide list paths of every served resource that can be listed, from discovery.
fn list_paths(s: &Server) -> Result<Vec<String>, String> {
    let mut group_versions = vec!["/api/v1".to_string()];
    let groups = get_raw(s, "/apis")?;
    for group in groups["groups"].as_array().into_iter().flatten() {
        for version in group["versions"].as_array().into_iter().flatten() {
            if let Some(gv) = version["groupVersion"].as_str() {
                group_versions.push(format!("/apis/{gv}"));
            }
        }
    }
    let mut paths = Vec::new();
    for gv in group_versions {
        let list = get_raw(s, &gv)?;
        for r in list["resources"].as_array().into_iter().flatten() {
            let name = r["name"].as_str().unwrap_or_default();
            let listable = r["verbs"]
                .as_array()
                .is_some_and(|v| v.iter().any(|x| x == "list"));
            if listable && !name.is_empty() && !name.contains('/') {
                paths.push(format!("{gv}/{name}"));
            }
        }
    }
    Ok(paths)
}

/// Every list endpoint answers with valid JSON, and every listed object reads back on its
/// own with the same uid and resourceVersion. Returns the problems found and the object count.
fn unreadable_objects(s: &Server) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let paths = match list_paths(s) {
        Ok(p) => p,
        Err(e) => return (vec![format!("discovery: {e}")], 0),
    };
    assert!(
        paths.iter().any(|p| p == "/api/v1/configmaps"),
        "discovery lists no configmaps: {paths:?}"
    );
    let mut objects = 0;
    for list_path in paths {
        let list = match get_raw(s, &list_path) {
            Ok(l) => l,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let Some(items) = list["items"].as_array() else {
            problems.push(format!("GET {list_path}: no items array in {list}"));
            continue;
        };
        for item in items {
            objects += 1;
            let meta = &item["metadata"];
            let Some(name) = meta["name"].as_str().filter(|n| !n.is_empty()) else {
                problems.push(format!("{list_path}: item without a name: {item}"));
                continue;
            };
            if objects > MAX_OBJECTS_READ_ONE_BY_ONE {
                continue;
            }
            let (prefix, resource) = list_path.rsplit_once('/').unwrap_or(("", ""));
            let path = match meta["namespace"].as_str() {
                Some(ns) if !ns.is_empty() => format!("{prefix}/namespaces/{ns}/{resource}/{name}"),
                _ => format!("{prefix}/{resource}/{name}"),
            };
            match get_raw(s, &path) {
                Ok(obj) => {
                    for field in ["uid", "resourceVersion"] {
                        if obj["metadata"][field] != meta[field] {
                            problems.push(format!(
                                "GET {path}: {field} {} differs from the list's {}",
                                obj["metadata"][field], meta[field]
                            ));
                        }
                    }
                }
                Err(e) => problems.push(e),
            }
        }
    }
    (problems, objects)
}

fn describe_failures(summary: &Value) -> String {
    let mut out = String::new();
    for key in ["server_errors", "network_errors"] {
        for e in summary[key].as_array().into_iter().flatten().take(20) {
            out.push_str(&format!(
                "{key}: {} -> {} {} at {}\n  {} {}\n  content-type: {}\n  request body: {}\n  response body: {}\n",
                e["operation"],
                e["status"],
                e["error"],
                e["at"],
                e["method"],
                e["url"],
                e["content_type"],
                e["request_body"],
                e["response_body"],
            ));
        }
    }
    out
}

fn interesting_log_lines(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("panicked") || l.contains("ERROR") || l.contains("WARN"))
        .collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// Copies the run's reports and the server log where they outlive the server's temp dir.
fn keep_artifacts(s: &Server, out_dir: &Path) -> PathBuf {
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("api_fuzz-last-run");
    let _ = std::fs::remove_dir_all(&keep);
    let _ = std::fs::create_dir_all(&keep);
    for entry in std::fs::read_dir(out_dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        // The credentials stay behind with the server that trusts them.
        if !name.to_string_lossy().ends_with(".pem") {
            let _ = std::fs::copy(entry.path(), keep.join(&name));
        }
    }
    let _ = std::fs::write(keep.join("server.log"), s.log());
    keep
}

fn schemathesis_seeds(out_dir: &Path) -> String {
    let mut seeds = Vec::new();
    for gv in GROUP_VERSIONS {
        let log = out_dir.join(format!("schemathesis-{}.log", gv.replace('/', "_")));
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(seed) = text.lines().find(|l| l.starts_with("Seed:")) {
            seeds.push(format!("{gv} {seed}"));
        }
    }
    seeds.join("; ")
}

#[test]
fn schema_driven_fuzz_gets_no_server_error_and_leaves_every_object_readable() {
    assert!(
        schemathesis_installed(),
        "python3 cannot import schemathesis: run ./install.sh --test-deps"
    );
    let mut s = Server::start();
    let seed = std::fs::read_to_string(fuzz_dir().join("seed.yaml")).expect("fuzz/seed.yaml");
    s.apply(&seed);

    let out_dir = s.dir.path().join("fuzz");
    let mut cmd = Command::new("python3");
    cmd.arg(fuzz_dir().join("run_fuzz.py"))
        .arg("--kubeconfig")
        .arg(s.kubeconfig())
        .arg("--out")
        .arg(&out_dir)
        .arg("--max-time")
        .arg(seconds_per_group_version().to_string());
    for gv in GROUP_VERSIONS {
        cmd.arg("--group-version").arg(gv);
    }
    if let Ok(seed) = std::env::var("RK3S_FUZZ_SEED") {
        cmd.arg("--seed").arg(seed);
    }
    let run = cmd.output().expect("python3 runs fuzz/run_fuzz.py");
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    let summary: Value = std::fs::read_to_string(out_dir.join("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| {
            panic!("the fuzz wrote no summary:\nstdout: {stdout}\nstderr: {stderr}")
        });
    let kept = keep_artifacts(&s, &out_dir);
    let context = format!(
        "fuzz: {}\nreports and server log kept in {}\nseeds (RK3S_FUZZ_SEED reproduces): {}\n--- server log (panics, errors, warnings) ---\n{}\n--- server log tail ---\n{}",
        stdout.trim(),
        kept.display(),
        schemathesis_seeds(&out_dir),
        interesting_log_lines(&s.log()),
        tail(&s.log())
    );

    assert!(
        server_alive(&s),
        "the server died during the fuzz\n{context}"
    );
    assert!(
        summary["requests"].as_u64().unwrap_or(0) > 500,
        "the fuzz sent too few requests to mean anything\n{context}\nstderr: {stderr}"
    );
    // Requests that only ever bounce off validation would leave the handlers untested.
    let reaching = summary["operations_reaching_2xx"]
        .as_array()
        .map_or(0, |a| a.len());
    assert!(
        reaching >= 40,
        "only {reaching} operations ever answered 2xx\n{context}"
    );
    let failures = describe_failures(&summary);
    assert!(
        failures.is_empty(),
        "the fuzz got server errors or dropped connections:\n{failures}\n{context}"
    );
    assert!(
        !s.log().contains("panicked"),
        "the server panicked during the fuzz\n{context}"
    );
    assert!(
        run.status.success(),
        "run_fuzz.py exited with {}: {stderr}\n{context}",
        run.status
    );

    s.ok(&["get", "--raw", "/readyz"]);
    let (problems, objects) = unreadable_objects(&s);
    assert!(
        problems.is_empty(),
        "{} problems reading the store back after the fuzz:\n{}\n{context}",
        problems.len(),
        problems.join("\n")
    );
    assert!(objects > 0, "the store holds no objects after the fuzz");

    // What the fuzz stored must also decode from disk, not just from the live cache.
    s.restart();
    let (problems, _) = unreadable_objects(&s);
    assert!(
        problems.is_empty(),
        "problems reading the store back after a restart:\n{}\n{}",
        problems.join("\n"),
        tail(&s.log())
    );
}
