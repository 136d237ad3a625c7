//! Service addresses and node ports: `clusterIP` from the service CIDR and `nodePort` from the
//! node-port range, unique under concurrency because each allocation is a create of its own
//! store key (an `IPAddress` object for IPs, as upstream's allocator keeps them; a plain key
//! per node port). Released when the service goes or gives them up.

use std::net::Ipv4Addr;

use rk3s_store::{Backend, StoreError};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult, Cause};

/// The service network settings (`--service-cidr`, `--service-node-port-range`).
#[derive(Debug, Clone)]
pub struct ServiceNetwork {
    pub base: Ipv4Addr,
    pub prefix_len: u8,
    pub node_ports: (u16, u16),
}

impl Default for ServiceNetwork {
    fn default() -> Self {
        ServiceNetwork {
            base: Ipv4Addr::new(10, 43, 0, 0),
            prefix_len: 16,
            node_ports: (30000, 32767),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NetworkConfigError {
    #[error("not an IPv4 CIDR: {0}")]
    BadCidr(String),
}

impl ServiceNetwork {
    pub fn parse(cidr: &str, node_ports: (u16, u16)) -> Result<ServiceNetwork, NetworkConfigError> {
        let bad = || NetworkConfigError::BadCidr(cidr.to_string());
        let (ip, len) = cidr.split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let prefix_len: u8 = len.parse().map_err(|_| bad())?;
        if !(8..=30).contains(&prefix_len) {
            return Err(bad());
        }
        let mask = u32::MAX << (32 - prefix_len);
        Ok(ServiceNetwork {
            base: Ipv4Addr::from(u32::from(ip) & mask),
            prefix_len,
            node_ports,
        })
    }

    fn size(&self) -> u32 {
        1u32 << (32 - self.prefix_len)
    }

    /// The n-th address of the range.
    pub fn nth(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + n)
    }

    /// The offset of `ip` in the range, if it is a usable address of it.
    fn offset(&self, ip: Ipv4Addr) -> Option<u32> {
        let off = u32::from(ip).checked_sub(u32::from(self.base))?;
        (off >= 1 && off < self.size() - 1).then_some(off)
    }

    pub fn cidr(&self) -> String {
        format!("{}/{}", self.base, self.prefix_len)
    }
}

fn ip_key(ip: Ipv4Addr) -> String {
    format!("/registry/ipaddresses/{ip}")
}

fn port_key(port: u16) -> String {
    format!("/registry/rk3s.io/nodeports/{port}")
}

fn ip_object(ip: Ipv4Addr, namespace: &str, name: &str) -> Vec<u8> {
    let obj = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IPAddress",
        "metadata": {
            "name": ip.to_string(),
            "uid": uuid::Uuid::new_v4().to_string(),
            "creationTimestamp": crate::objects::now_rfc3339(),
            "labels": {"ipaddress.kubernetes.io/ip-family": "IPv4", "ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io"},
        },
        "spec": {"parentRef": {"group": "", "resource": "services", "namespace": namespace, "name": name}},
    });
    serde_json::to_vec(&obj).unwrap_or_default()
}

fn invalid(field: &str, message: String) -> ApiError {
    ApiError::invalid(
        "Service",
        "",
        "",
        vec![Cause {
            reason: "FieldValueInvalid",
            field: field.into(),
            message,
        }],
    )
}

/// Reserve a specific address. Conflicts are `Invalid` with upstream's wording.
pub async fn reserve_ip(
    store: &dyn Backend,
    net: &ServiceNetwork,
    ip: Ipv4Addr,
    namespace: &str,
    name: &str,
) -> ApiResult<()> {
    if net.offset(ip).is_none() {
        return Err(invalid(
            "spec.clusterIPs",
            format!(
                "Invalid value: []string{{\"{ip}\"}}: failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {}",
                net.cidr()
            ),
        ));
    }
    match store
        .create(&ip_key(ip), ip_object(ip, namespace, name))
        .await
    {
        Ok(_) => Ok(()),
        Err(StoreError::AlreadyExists) => Err(invalid(
            "spec.clusterIPs",
            format!(
                "Invalid value: []string{{\"{ip}\"}}: failed to allocate IP {ip}: provided IP is already allocated"
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Allocate a free address: from the upper part of the range first, keeping the lower band
/// for addresses users ask for (as upstream does), then the lower band.
pub async fn allocate_ip(
    store: &dyn Backend,
    net: &ServiceNetwork,
    namespace: &str,
    name: &str,
) -> ApiResult<Ipv4Addr> {
    let usable = net.size() - 2;
    let band = (usable / 16).clamp(16.min(usable), 256);
    let upper = usable - band;
    let start = uuid::Uuid::new_v4().as_u128() as u32;
    let ranges = [(band + 1, upper), (1, band)];
    for (first, count) in ranges {
        if count == 0 {
            continue;
        }
        for i in 0..count {
            let off = first + (start.wrapping_add(i) % count);
            let ip = net.nth(off);
            match store
                .create(&ip_key(ip), ip_object(ip, namespace, name))
                .await
            {
                Ok(_) => return Ok(ip),
                Err(StoreError::AlreadyExists) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
    Err(ApiError::Internal(format!(
        "the service IP range {} is full",
        net.cidr()
    )))
}

pub async fn release_ip(store: &dyn Backend, ip: &str) {
    if let Ok(ip) = ip.parse::<Ipv4Addr>()
        && let Err(e) = store.delete(&ip_key(ip), None).await
        && !matches!(e, StoreError::NotFound)
    {
        tracing::warn!(ip = %ip, error = %e, "releasing a service IP failed");
    }
}

pub async fn reserve_port(
    store: &dyn Backend,
    net: &ServiceNetwork,
    port: u16,
    field: &str,
) -> ApiResult<()> {
    let (lo, hi) = net.node_ports;
    if port < lo || port > hi {
        return Err(invalid(
            field,
            format!(
                "Invalid value: {port}: provided port is not in the valid range. The range of valid ports is {lo}-{hi}"
            ),
        ));
    }
    match store.create(&port_key(port), b"{}".to_vec()).await {
        Ok(_) => Ok(()),
        Err(StoreError::AlreadyExists) => Err(invalid(
            field,
            format!("Invalid value: {port}: provided port is already allocated"),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn allocate_port(store: &dyn Backend, net: &ServiceNetwork) -> ApiResult<u16> {
    let (lo, hi) = net.node_ports;
    let count = u32::from(hi - lo) + 1;
    let start = uuid::Uuid::new_v4().as_u128() as u32;
    for i in 0..count {
        let port = lo + ((start.wrapping_add(i) % count) as u16);
        match store.create(&port_key(port), b"{}".to_vec()).await {
            Ok(_) => return Ok(port),
            Err(StoreError::AlreadyExists) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Internal(format!(
        "the node port range {lo}-{hi} is full"
    )))
}

pub async fn release_port(store: &dyn Backend, port: u16) {
    if let Err(e) = store.delete(&port_key(port), None).await
        && !matches!(e, StoreError::NotFound)
    {
        tracing::warn!(port, error = %e, "releasing a node port failed");
    }
}

/// What a service holds: its cluster IP (if allocated here) and node ports.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Held {
    pub ip: Option<String>,
    pub ports: Vec<u16>,
}

impl Held {
    pub fn of(svc: &Value) -> Held {
        let ip = svc
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && *s != "None")
            .map(str::to_string);
        let ports = svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .filter_map(|p| p.get("nodePort")?.as_u64())
                    .filter_map(|p| u16::try_from(p).ok())
                    .collect()
            })
            .unwrap_or_default();
        Held { ip, ports }
    }

    pub async fn release(&self, store: &dyn Backend) {
        if let Some(ip) = &self.ip {
            release_ip(store, ip).await;
        }
        for p in &self.ports {
            release_port(store, *p).await;
        }
    }
}

fn needs_node_ports(svc: &Value) -> bool {
    matches!(
        svc.pointer("/spec/type").and_then(Value::as_str),
        Some("NodePort") | Some("LoadBalancer")
    )
}

/// Allocate what a new (or updated) service needs. `old` is what it held before an update,
/// kept where still wanted. On error everything newly taken is given back.
pub async fn allocate_for_service(
    store: &dyn Backend,
    net: &ServiceNetwork,
    svc: &mut Value,
    old: Option<&Held>,
) -> ApiResult<Held> {
    let namespace = svc
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = svc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut taken = Held::default();
    let result = allocate_inner(store, net, svc, old, &namespace, &name, &mut taken).await;
    if let Err(e) = result {
        taken.release(store).await;
        return Err(e);
    }
    Ok(Held::of(svc))
}

async fn allocate_inner(
    store: &dyn Backend,
    net: &ServiceNetwork,
    svc: &mut Value,
    old: Option<&Held>,
    namespace: &str,
    name: &str,
    taken: &mut Held,
) -> ApiResult<()> {
    let svc_type = svc
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if svc_type != "ExternalName" {
        let requested = svc
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let old_ip = old.and_then(|h| h.ip.clone());
        let ip = match requested.as_str() {
            "None" => "None".to_string(),
            "" => match old_ip {
                Some(ip) => ip,
                None => {
                    let ip = allocate_ip(store, net, namespace, name).await?.to_string();
                    taken.ip = Some(ip.clone());
                    ip
                }
            },
            r if old_ip.as_deref() == Some(r) => r.to_string(),
            r => {
                let ip: Ipv4Addr = r.parse().map_err(|_| {
                    invalid("spec.clusterIPs[0]", format!("Invalid value: {r:?}: must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
                })?;
                reserve_ip(store, net, ip, namespace, name).await?;
                taken.ip = Some(r.to_string());
                r.to_string()
            }
        };
        if let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("clusterIP".into(), json!(ip));
            spec.insert("clusterIPs".into(), json!([ip]));
        }
    }
    if needs_node_ports(svc) {
        let old_ports: Vec<u16> = old.map(|h| h.ports.clone()).unwrap_or_default();
        let count = svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .map_or(0, |a| a.len());
        for i in 0..count {
            let field = format!("spec.ports[{i}].nodePort");
            let current = svc
                .pointer(&format!("/spec/ports/{i}/nodePort"))
                .and_then(Value::as_u64);
            let port = match current {
                Some(p) if old_ports.contains(&(p as u16)) => p as u16,
                Some(p) => {
                    let p = u16::try_from(p).map_err(|_| {
                        invalid(
                            &field,
                            format!("Invalid value: {p}: provided port is not in the valid range"),
                        )
                    })?;
                    reserve_port(store, net, p, &field).await?;
                    taken.ports.push(p);
                    p
                }
                None => {
                    let p = allocate_port(store, net).await?;
                    taken.ports.push(p);
                    p
                }
            };
            if let Some(p) = svc
                .pointer_mut(&format!("/spec/ports/{i}"))
                .and_then(Value::as_object_mut)
            {
                p.insert("nodePort".into(), json!(port));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_network_parses_and_excludes_network_and_broadcast() {
        let n = ServiceNetwork::parse("10.43.7.9/16", (30000, 32767)).unwrap();
        assert_eq!(n.base, Ipv4Addr::new(10, 43, 0, 0));
        assert_eq!(n.nth(1), Ipv4Addr::new(10, 43, 0, 1));
        assert_eq!(n.offset(Ipv4Addr::new(10, 43, 0, 0)), None);
        assert_eq!(n.offset(Ipv4Addr::new(10, 43, 255, 255)), None);
        assert_eq!(n.offset(Ipv4Addr::new(10, 44, 0, 1)), None);
        assert_eq!(n.offset(Ipv4Addr::new(10, 43, 1, 0)), Some(256));
        assert!(ServiceNetwork::parse("nope", (1, 2)).is_err());
        assert!(ServiceNetwork::parse("10.0.0.0/31", (1, 2)).is_err());
    }
}
