//! Endpoints and EndpointSlice controller: keeps one Endpoints object and the managed
//! EndpointSlices of every Service with a selector in step with the pods it selects.
//! Entry point: [`run`]; what the objects contain is decided in [`build`].

pub mod build;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::{self, Timestamp};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use self::build::{MANAGED_BY, MANAGED_BY_LABEL, SERVICE_NAME_LABEL, SliceContent};
use crate::informers::Informer;
use crate::replicaset::decide::controller_ref;

const MANAGER: &str = "endpointslice-controller";
const RESYNC: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("service has no namespace")]
    NoNamespace,
    #[error("listing pods failed")]
    ListPods(#[source] kube::Error),
    #[error("reading endpoints failed")]
    GetEndpoints(#[source] kube::Error),
    #[error("writing endpoints failed")]
    WriteEndpoints(#[source] kube::Error),
    #[error("listing endpoint slices failed")]
    ListSlices(#[source] kube::Error),
    #[error("writing endpoint slice failed")]
    WriteSlice(#[source] kube::Error),
}

type ServiceKey = (String, String);

struct Context {
    client: Client,
    /// Pods each service's objects listed at its last sync: a pod whose labels stop matching
    /// must still wake the service that has to drop it.
    members: Mutex<HashMap<ServiceKey, BTreeSet<String>>>,
}

/// Runs the controller until `shutdown` fires.
pub async fn run(
    client: Client,
    pods: Informer<Pod>,
    concurrency: u16,
    shutdown: CancellationToken,
) {
    let services: Api<Service> = Api::all(client.clone());
    let controller = Controller::new(services.clone(), watcher::Config::default());
    let store = controller.store();
    let ctx = Arc::new(Context {
        client: client.clone(),
        members: Mutex::new(HashMap::new()),
    });
    let index = ctx.clone();
    let sweeper = tokio::spawn(delete_for_removed_services(
        client.clone(),
        shutdown.clone(),
    ));
    controller
        .watches_shared_stream(pods.subscribe(), move |pod| {
            services_for_pod(&store, &index, &pod)
        })
        .owns(
            Api::<EndpointSlice>::all(client.clone()),
            watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY}")),
        )
        .watches(
            Api::<Endpoints>::all(client),
            watcher::Config::default(),
            |ep: Endpoints| {
                vec![
                    ObjectRef::<Service>::new(&ep.name_any())
                        .within(&ep.namespace().unwrap_or_default()),
                ]
            },
        )
        .with_config(
            ControllerConfig::default()
                .debounce(Duration::from_millis(50))
                .concurrency(concurrency),
        )
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                debug!(error = %e, "endpoints reconcile did not complete");
            }
        })
        .await;
    let _ = sweeper.await;
}

/// Services whose selector matches the pod, and those that listed it last time.
fn services_for_pod(store: &Store<Service>, ctx: &Context, pod: &Pod) -> Vec<ObjectRef<Service>> {
    let ns = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    let labels = pod.labels();
    let listed: Vec<String> = ctx
        .members
        .lock()
        .map(|m| {
            m.iter()
                .filter(|((n, _), pods)| *n == ns && pods.contains(&name))
                .map(|((_, s), _)| s.clone())
                .collect()
        })
        .unwrap_or_default();
    let mut out: BTreeSet<String> = listed.into_iter().collect();
    for svc in store.state() {
        if svc.namespace().as_deref() != Some(ns.as_str()) || !build::is_managed(&svc) {
            continue;
        }
        let selector = svc.spec.as_ref().and_then(|s| s.selector.as_ref());
        if selector.is_some_and(|sel| sel.iter().all(|(k, v)| labels.get(k) == Some(v))) {
            out.insert(svc.name_any());
        }
    }
    out.into_iter()
        .map(|s| ObjectRef::new(&s).within(&ns))
        .collect()
}

fn error_policy(svc: Arc<Service>, error: &ReconcileError, _ctx: Arc<Context>) -> Action {
    warn!(error = %error, service = %svc.name_any(), "endpoints sync failed");
    Action::requeue(Duration::from_secs(5))
}

/// Endpoints are not owned by their service, so the garbage collector cannot remove them:
/// deleted services are watched for here, and after every (re)list the managed Endpoints of
/// services that no longer exist are swept, as upstream does at start-up. (Slices carry an
/// owner reference and go through the collector.)
async fn delete_for_removed_services(client: Client, shutdown: CancellationToken) {
    let services: Api<Service> = Api::all(client.clone());
    let mut events =
        std::pin::pin!(watcher(services, watcher::Config::default()).default_backoff());
    let mut listed: BTreeSet<ServiceKey> = BTreeSet::new();
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return,
            e = events.next() => e,
        };
        let Some(event) = next else {
            return;
        };
        match event {
            Ok(watcher::Event::Init) => listed.clear(),
            Ok(watcher::Event::InitApply(svc)) => {
                listed.insert((svc.namespace().unwrap_or_default(), svc.name_any()));
            }
            Ok(watcher::Event::InitDone) => sweep_leftovers(&client, &listed).await,
            Ok(watcher::Event::Delete(svc)) if build::is_managed(&svc) => {
                let ns = svc.namespace().unwrap_or_default();
                let api: Api<Endpoints> = Api::namespaced(client.clone(), &ns);
                if let Err(e) = api.delete(&svc.name_any(), &DeleteParams::default()).await {
                    debug!(error = %e, service = %svc.name_any(), "deleting endpoints of a removed service failed");
                }
            }
            _ => {}
        }
    }
}

/// Deletes the Endpoints this controller wrote whose service is not in `services`.
async fn sweep_leftovers(client: &Client, services: &BTreeSet<ServiceKey>) {
    let all = match Api::<Endpoints>::all(client.clone())
        .list(&ListParams::default())
        .await
    {
        Ok(l) => l.items,
        Err(e) => {
            debug!(error = %e, "listing endpoints for leftovers failed");
            return;
        }
    };
    for ep in all {
        let key = (ep.namespace().unwrap_or_default(), ep.name_any());
        let managed = ep
            .annotations()
            .contains_key(build::TRIGGER_TIME_ANNOTATION);
        if !managed || services.contains(&key) {
            continue;
        }
        let api: Api<Endpoints> = Api::namespaced(client.clone(), &key.0);
        if let Err(e) = api.delete(&key.1, &DeleteParams::default()).await {
            debug!(error = %e, endpoints = %key.1, "deleting leftover endpoints failed");
        }
    }
}

async fn reconcile(svc: Arc<Service>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    if !build::is_managed(&svc) || svc.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = svc.namespace().ok_or(ReconcileError::NoNamespace)?;
    let name = svc.name_any();
    let selector = svc
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let pods = Api::<Pod>::namespaced(ctx.client.clone(), &ns)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(ReconcileError::ListPods)?
        .items;
    let members: Vec<build::Member> = pods.iter().filter_map(|p| build::member(&svc, p)).collect();
    if let Ok(mut m) = ctx.members.lock() {
        m.insert(
            (ns.clone(), name.clone()),
            pods.iter().map(|p| p.name_any()).collect(),
        );
    }
    sync_endpoints(&ctx, &svc, &ns, &members).await?;
    sync_slices(&ctx, &svc, &ns, &members).await?;
    Ok(Action::requeue(RESYNC))
}

async fn sync_endpoints(
    ctx: &Context,
    svc: &Service,
    ns: &str,
    members: &[build::Member],
) -> Result<(), ReconcileError> {
    let name = svc.name_any();
    let api: Api<Endpoints> = Api::namespaced(ctx.client.clone(), ns);
    let subsets = build::subsets(svc, members);
    let labels = build::labels(svc);
    let now = Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or(Timestamp::now())
        .to_string();
    let existing = api
        .get_opt(&name)
        .await
        .map_err(ReconcileError::GetEndpoints)?;
    let params = PostParams {
        field_manager: Some(MANAGER.into()),
        ..Default::default()
    };
    match existing {
        None => {
            let ep = Endpoints {
                metadata: ObjectMeta {
                    name: Some(name),
                    namespace: Some(ns.into()),
                    labels: Some(labels),
                    annotations: Some(BTreeMap::from([(
                        build::TRIGGER_TIME_ANNOTATION.to_string(),
                        now,
                    )])),
                    ..Default::default()
                },
                subsets: (!subsets.is_empty()).then_some(subsets),
            };
            match api.create(&params, &ep).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
                Err(e) => Err(ReconcileError::WriteEndpoints(e)),
            }
        }
        Some(current) => {
            let have = current.subsets.clone().unwrap_or_default();
            let have_labels = current.metadata.labels.clone().unwrap_or_default();
            if have == subsets && have_labels == labels {
                return Ok(());
            }
            let mut next = current;
            next.metadata.labels = Some(labels);
            next.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(build::TRIGGER_TIME_ANNOTATION.into(), now);
            next.metadata.managed_fields = None;
            next.subsets = (!subsets.is_empty()).then_some(subsets);
            match api.replace(&name, &params, &next).await {
                Ok(_) => Ok(()),
                // Changed under us: the watch brings the next sync.
                Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => Ok(()),
                Err(e) => Err(ReconcileError::WriteEndpoints(e)),
            }
        }
    }
}

fn slice_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut l = build::labels(svc);
    l.insert(SERVICE_NAME_LABEL.into(), svc.name_any());
    l.insert(MANAGED_BY_LABEL.into(), MANAGED_BY.into());
    l
}

fn content_of(s: &EndpointSlice) -> SliceContent {
    SliceContent {
        ports: s.ports.clone().unwrap_or_default(),
        endpoints: s.endpoints.clone(),
    }
}

async fn sync_slices(
    ctx: &Context,
    svc: &Service,
    ns: &str,
    members: &[build::Member],
) -> Result<(), ReconcileError> {
    let name = svc.name_any();
    let api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), ns);
    let mut existing = api
        .list(&ListParams::default().labels(&format!(
            "{SERVICE_NAME_LABEL}={name},{MANAGED_BY_LABEL}={MANAGED_BY}"
        )))
        .await
        .map_err(ReconcileError::ListSlices)?
        .items;
    let labels = slice_labels(svc);
    let owner = controller_ref("v1", "Service", &name, &svc.uid().unwrap_or_default());
    let params = PostParams {
        field_manager: Some(MANAGER.into()),
        ..Default::default()
    };
    let wanted = build::slices(svc, members);
    let mut reuse: Vec<(SliceContent, Option<EndpointSlice>)> = Vec::new();
    // Slices that already hold exactly what is wanted stay untouched; others are rewritten
    // with the same port set where possible, so a pod change rewrites one slice.
    let mut pending = Vec::new();
    for w in wanted {
        let exact = existing.iter().position(|s| {
            content_of(s) == w
                && s.metadata.labels.as_ref() == Some(&labels)
                && s.address_type == "IPv4"
        });
        match exact {
            Some(i) => {
                existing.remove(i);
            }
            None => pending.push(w),
        }
    }
    for w in pending {
        let same_ports = existing.iter().position(|s| {
            s.ports.clone().unwrap_or_default() == w.ports && s.address_type == "IPv4"
        });
        let slot = same_ports.map(|i| existing.remove(i));
        reuse.push((w, slot));
    }
    for (w, slot) in reuse {
        let ports = (!w.ports.is_empty()).then_some(w.ports);
        match slot {
            Some(mut s) => {
                s.metadata.labels = Some(labels.clone());
                s.metadata.managed_fields = None;
                s.ports = ports;
                s.endpoints = w.endpoints;
                let slice_name = s.name_any();
                match api.replace(&slice_name, &params, &s).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => {}
                    Err(e) => return Err(ReconcileError::WriteSlice(e)),
                }
            }
            None => {
                let s = EndpointSlice {
                    metadata: ObjectMeta {
                        generate_name: Some(format!("{name}-")),
                        namespace: Some(ns.into()),
                        labels: Some(labels.clone()),
                        owner_references: Some(vec![owner.clone()]),
                        ..Default::default()
                    },
                    address_type: "IPv4".into(),
                    endpoints: w.endpoints,
                    ports,
                };
                api.create(&params, &s)
                    .await
                    .map_err(ReconcileError::WriteSlice)?;
            }
        }
    }
    for stale in existing {
        match api
            .delete(&stale.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(ReconcileError::WriteSlice(e)),
        }
    }
    Ok(())
}
