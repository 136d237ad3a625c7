//! The simulated kubelet's pod worker: a state machine over the pod's own status that says
//! what to write next. Pure (time and addresses are handed in). Entry point: [`step`].
//!
//! States, read back from `status` each time so an agent restart resumes where it was:
//! - *new* (no container statuses): start the containers, through `ContainerCreating` when a
//!   start delay is configured, and then `Running` with an IP, all containers ready;
//! - *running*: containers run forever, unless the pod carries [`EXIT_AFTER_ANNOTATION`]: then
//!   each container exits that long after it started, with the code in
//!   [`EXIT_CODE_ANNOTATION`] (default 0). By `restartPolicy`: `Never` ends the pod
//!   (`Succeeded` for 0, `Failed` otherwise), `OnFailure` ends it on 0 and restarts the
//!   containers otherwise, `Always` restarts them (restartCount + 1);
//! - *terminal* (`Succeeded`/`Failed`): nothing more;
//! - *deleting* (`deletionTimestamp` set): the containers are stopped (exit 0) and the pod is
//!   removed with grace period 0, as the kubelet confirms a graceful deletion.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// How long each container runs before it exits (`2s`, `1m30s`, `500ms`).
pub const EXIT_AFTER_ANNOTATION: &str = "rk3s.io/simulate-exit-after";
/// The exit code of that exit (an integer; anything else counts as 1).
pub const EXIT_CODE_ANNOTATION: &str = "rk3s.io/simulate-exit-code";

/// What the worker knows besides the pod.
#[derive(Debug, Clone)]
pub struct Env<'a> {
    pub now: jiff::Timestamp,
    pub host_ip: &'a str,
    /// The address the pod gets (the host's for hostNetwork pods).
    pub pod_ip: &'a str,
    pub start_delay: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Nothing to write; look again after this long (`None`: only when the pod changes).
    Wait(Option<Duration>),
    /// Write this status, then look again after `recheck`.
    Write {
        status: PodStatus,
        recheck: Option<Duration>,
    },
    /// Write this status (if any), then delete the pod with grace period 0.
    Finish { status: Option<PodStatus> },
}

/// Go-style durations: a sequence of `<number><unit>` with units `ms`, `s`, `m`, `h`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (Duration::from_millis(1), 2)
        } else if rest.starts_with('s') {
            (Duration::from_secs(1), 1)
        } else if rest.starts_with('m') {
            (Duration::from_secs(60), 1)
        } else if rest.starts_with('h') {
            (Duration::from_secs(3600), 1)
        } else {
            return None;
        };
        total = total.checked_add(unit.checked_mul(u32::try_from(n).ok()?)?)?;
        rest = &rest[len..];
    }
    Some(total)
}

fn annotation<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

fn exit_code(pod: &Pod) -> i32 {
    match annotation(pod, EXIT_CODE_ANNOTATION) {
        None => 0,
        Some(v) => v.trim().parse().unwrap_or(1),
    }
}

fn containers(pod: &Pod) -> &[Container] {
    pod.spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or(&[])
}

fn init_containers(pod: &Pod) -> &[Container] {
    pod.spec
        .as_ref()
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or(&[])
}

fn container_id(pod: &Pod, name: &str, restarts: i32) -> String {
    let uid = pod.metadata.uid.as_deref().unwrap_or("nouid");
    format!("simulated://{uid}-{name}-{restarts}")
}

/// A stable fake digest for the image, so `imageID` looks like a pulled image.
fn image_id(image: &str) -> String {
    let mut digest = String::with_capacity(64);
    for seed in 0u64..4 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
        for b in image.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        digest.push_str(&format!("{h:016x}"));
    }
    let name = image.split('@').next().unwrap_or(image);
    let name = name
        .rsplit_once(':')
        .filter(|(_, tag)| !tag.contains('/'))
        .map_or(name, |(n, _)| n);
    let qualified = match name.split_once('/') {
        Some((host, _)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            name.to_string()
        }
        Some(_) => format!("docker.io/{name}"),
        None => format!("docker.io/library/{name}"),
    };
    format!("{qualified}@sha256:{digest}")
}

fn status_of(
    c: &Container,
    pod: &Pod,
    state: ContainerState,
    restarts: i32,
    last: Option<ContainerState>,
) -> ContainerStatus {
    let running = state.running.is_some();
    let image = c.image.clone().unwrap_or_default();
    let started = state.running.is_some() || state.terminated.is_some();
    ContainerStatus {
        name: c.name.clone(),
        image: image.clone(),
        image_id: if started {
            image_id(&image)
        } else {
            String::new()
        },
        container_id: started.then(|| container_id(pod, &c.name, restarts)),
        ready: running,
        started: Some(running),
        restart_count: restarts,
        state: Some(state),
        last_state: last,
        ..Default::default()
    }
}

fn running(at: jiff::Timestamp) -> ContainerState {
    ContainerState {
        running: Some(ContainerStateRunning {
            started_at: Some(Time(at)),
        }),
        ..Default::default()
    }
}

fn terminated(
    code: i32,
    started: jiff::Timestamp,
    finished: jiff::Timestamp,
    pod: &Pod,
    name: &str,
    restarts: i32,
) -> ContainerState {
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: code,
            reason: Some(if code == 0 { "Completed" } else { "Error" }.into()),
            started_at: Some(Time(started)),
            finished_at: Some(Time(finished)),
            container_id: Some(container_id(pod, name, restarts)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn waiting(reason: &str) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message: None,
        }),
        ..Default::default()
    }
}

/// The pod's conditions with ours set; others' conditions (e.g. DisruptionTarget) are kept,
/// and a condition keeps its transition time while its status does not change.
fn conditions(
    pod: &Pod,
    set: &[(&str, bool, Option<&str>)],
    now: jiff::Timestamp,
) -> Vec<PodCondition> {
    let existing: Vec<PodCondition> = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut out: Vec<PodCondition> = existing
        .iter()
        .filter(|c| !set.iter().any(|(t, _, _)| *t == c.type_))
        .cloned()
        .collect();
    for (type_, ok, reason) in set {
        let status = if *ok { "True" } else { "False" };
        let prev = existing.iter().find(|c| c.type_ == *type_);
        let since = prev
            .filter(|c| c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or(Time(now));
        out.push(PodCondition {
            type_: type_.to_string(),
            status: status.into(),
            reason: reason.map(str::to_string),
            last_transition_time: Some(since),
            ..Default::default()
        });
    }
    out
}

fn base_status(pod: &Pod, env: &Env<'_>, phase: &str) -> PodStatus {
    let prev = pod.status.clone().unwrap_or_default();
    PodStatus {
        phase: Some(phase.into()),
        host_ip: Some(env.host_ip.to_string()),
        host_ips: Some(vec![HostIP {
            ip: env.host_ip.to_string(),
        }]),
        pod_ip: Some(env.pod_ip.to_string()),
        pod_ips: Some(vec![PodIP {
            ip: env.pod_ip.to_string(),
        }]),
        start_time: prev.start_time.or(Some(Time(env.now))),
        qos_class: prev.qos_class,
        ..Default::default()
    }
}

fn init_done(pod: &Pod, at: jiff::Timestamp) -> Vec<ContainerStatus> {
    init_containers(pod)
        .iter()
        .map(|c| {
            let state = if c.restart_policy.as_deref() == Some("Always") {
                running(at)
            } else {
                terminated(0, at, at, pod, &c.name, 0)
            };
            let mut s = status_of(c, pod, state, 0, None);
            s.ready = s.state.as_ref().is_some_and(|st| st.terminated.is_some()) || s.ready;
            s
        })
        .collect()
}

const ALL_RUNNING: &[(&str, bool, Option<&str>)] = &[
    ("PodReadyToStartContainers", true, None),
    ("Initialized", true, None),
    ("Ready", true, None),
    ("ContainersReady", true, None),
    ("PodScheduled", true, None),
];

fn running_status(
    pod: &Pod,
    env: &Env<'_>,
    restarts: i32,
    last: Option<&BTreeMap<String, ContainerState>>,
) -> PodStatus {
    let mut s = base_status(pod, env, "Running");
    s.container_statuses = Some(
        containers(pod)
            .iter()
            .map(|c| {
                status_of(
                    c,
                    pod,
                    running(env.now),
                    restarts,
                    last.and_then(|l| l.get(&c.name).cloned()),
                )
            })
            .collect(),
    );
    let init = init_done(pod, env.now);
    if !init.is_empty() {
        s.init_container_statuses = Some(init);
    }
    s.conditions = Some(conditions(pod, ALL_RUNNING, env.now));
    s
}

fn creating_status(pod: &Pod, env: &Env<'_>) -> PodStatus {
    let mut s = base_status(pod, env, "Pending");
    s.pod_ip = None;
    s.pod_ips = None;
    s.container_statuses = Some(
        containers(pod)
            .iter()
            .map(|c| status_of(c, pod, waiting("ContainerCreating"), 0, None))
            .collect(),
    );
    s.conditions = Some(conditions(
        pod,
        &[
            ("PodReadyToStartContainers", false, None),
            ("Initialized", true, None),
            ("Ready", false, Some("ContainersNotReady")),
            ("ContainersReady", false, Some("ContainersNotReady")),
            ("PodScheduled", true, None),
        ],
        env.now,
    ));
    s
}

/// Every container terminated with `code`, started at `started`; the pod in `phase`.
fn stopped_status(pod: &Pod, env: &Env<'_>, code: i32, phase: &str) -> PodStatus {
    let mut s = base_status(pod, env, phase);
    let prev = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref());
    s.container_statuses = Some(
        containers(pod)
            .iter()
            .map(|c| {
                let p = prev.and_then(|l| l.iter().find(|x| x.name == c.name));
                let restarts = p.map_or(0, |p| p.restart_count);
                let started = p
                    .and_then(|p| p.state.as_ref())
                    .and_then(|st| st.running.as_ref())
                    .and_then(|r| r.started_at.clone())
                    .map_or(env.now, |t| t.0);
                status_of(
                    c,
                    pod,
                    terminated(code, started, env.now, pod, &c.name, restarts),
                    restarts,
                    p.and_then(|p| p.last_state.clone()),
                )
            })
            .collect(),
    );
    if let Some(init) = pod
        .status
        .as_ref()
        .and_then(|s| s.init_container_statuses.clone())
    {
        s.init_container_statuses = Some(init);
    }
    let reason = Some("PodCompleted");
    s.conditions = Some(conditions(
        pod,
        &[
            ("PodReadyToStartContainers", false, None),
            ("Initialized", true, reason),
            ("Ready", false, reason),
            ("ContainersReady", false, reason),
            ("PodScheduled", true, None),
        ],
        env.now,
    ));
    s
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// When the containers started, if they all run.
fn running_since(pod: &Pod) -> Option<(jiff::Timestamp, i32)> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    if statuses.is_empty() || statuses.len() != containers(pod).len() {
        return None;
    }
    let mut since: Option<jiff::Timestamp> = None;
    let mut restarts = 0;
    for s in statuses {
        let t = s.state.as_ref()?.running.as_ref()?.started_at.as_ref()?.0;
        since = Some(since.map_or(t, |x| x.max(t)));
        restarts = restarts.max(s.restart_count);
    }
    since.map(|s| (s, restarts))
}

fn creating_since(pod: &Pod) -> Option<jiff::Timestamp> {
    let status = pod.status.as_ref()?;
    let all_creating = status.container_statuses.as_ref().is_some_and(|l| {
        !l.is_empty()
            && l.iter().all(|s| {
                s.state
                    .as_ref()
                    .and_then(|st| st.waiting.as_ref())
                    .and_then(|w| w.reason.as_deref())
                    == Some("ContainerCreating")
            })
    });
    if !all_creating {
        return None;
    }
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodReadyToStartContainers")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
        .or_else(|| status.start_time.as_ref().map(|t| t.0))
}

fn until(now: jiff::Timestamp, due: jiff::Timestamp) -> Duration {
    Duration::try_from(due.duration_since(now)).unwrap_or(Duration::ZERO)
}

fn after(t: jiff::Timestamp, d: Duration) -> jiff::Timestamp {
    jiff::SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(jiff::Timestamp::MAX)
}

/// What to do next for a pod bound to this node.
pub fn step(pod: &Pod, env: &Env<'_>) -> Action {
    if pod.metadata.deletion_timestamp.is_some() {
        let status = match phase(pod) {
            "Succeeded" | "Failed" => None,
            _ => Some(stopped_status(pod, env, 0, "Succeeded")),
        };
        return Action::Finish { status };
    }
    if matches!(phase(pod), "Succeeded" | "Failed") {
        return Action::Wait(None);
    }
    let Some((started, restarts)) = running_since(pod) else {
        if !env.start_delay.is_zero() {
            match creating_since(pod) {
                None => {
                    return Action::Write {
                        status: creating_status(pod, env),
                        recheck: Some(env.start_delay),
                    };
                }
                Some(since) => {
                    let due = after(since, env.start_delay);
                    if env.now < due {
                        return Action::Wait(Some(until(env.now, due)));
                    }
                }
            }
        }
        let status = running_status(pod, env, 0, None);
        let recheck = annotation(pod, EXIT_AFTER_ANNOTATION).and_then(parse_duration);
        return Action::Write { status, recheck };
    };
    let Some(exit_after) = annotation(pod, EXIT_AFTER_ANNOTATION).and_then(parse_duration) else {
        return Action::Wait(None);
    };
    let due = after(started, exit_after);
    if env.now < due {
        return Action::Wait(Some(until(env.now, due)));
    }
    let code = exit_code(pod);
    let policy = pod
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always");
    let ends = match policy {
        "Never" => true,
        "OnFailure" => code == 0,
        _ => false,
    };
    if ends {
        let phase = if code == 0 { "Succeeded" } else { "Failed" };
        return Action::Write {
            status: stopped_status(pod, env, code, phase),
            recheck: None,
        };
    }
    let last: BTreeMap<String, ContainerState> = containers(pod)
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                terminated(code, started, env.now, pod, &c.name, restarts),
            )
        })
        .collect();
    let status = running_status(pod, env, restarts.saturating_add(1), Some(&last));
    Action::Write {
        status,
        recheck: Some(exit_after),
    }
}

/// An event the kubelet would record about the pod: (type, reason, message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEvent {
    pub type_: &'static str,
    pub reason: &'static str,
    pub message: String,
}

fn running_containers(status: Option<&PodStatus>) -> BTreeMap<&str, (i32, bool)> {
    status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .map(|c| {
            let running = c.state.as_ref().is_some_and(|st| st.running.is_some());
            (c.name.as_str(), (c.restart_count, running))
        })
        .collect()
}

/// The kubelet's events for the move from the pod's current status to `next`: image present,
/// container created and started, for each container (re)started by it.
pub fn transition_events(pod: &Pod, next: &PodStatus) -> Vec<PodEvent> {
    let before = running_containers(pod.status.as_ref());
    let mut out = Vec::new();
    for c in next.container_statuses.iter().flatten() {
        let running = c.state.as_ref().is_some_and(|st| st.running.is_some());
        let was = before.get(c.name.as_str());
        let started = running
            && was
                .is_none_or(|(restarts, was_running)| !was_running || *restarts != c.restart_count);
        if !started {
            continue;
        }
        out.push(PodEvent {
            type_: "Normal",
            reason: "Pulled",
            message: format!("Container image \"{}\" already present on machine", c.image),
        });
        out.push(PodEvent {
            type_: "Normal",
            reason: "Created",
            message: format!("Created container: {}", c.name),
        });
        out.push(PodEvent {
            type_: "Normal",
            reason: "Started",
            message: format!("Started container {}", c.name),
        });
    }
    out
}

/// The kubelet's events when it stops the pod's running containers for a deletion.
pub fn stopping_events(pod: &Pod) -> Vec<PodEvent> {
    running_containers(pod.status.as_ref())
        .into_iter()
        .filter(|(_, (_, running))| *running)
        .map(|(name, _)| PodEvent {
            type_: "Normal",
            reason: "Killing",
            message: format!("Stopping container {name}"),
        })
        .collect()
}

#[cfg(test)]
mod tests;
