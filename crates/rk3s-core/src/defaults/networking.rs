//! Service, Endpoints, EndpointSlice and NetworkPolicy defaults.

use serde_json::{Map, Value, json};

use super::{child, existing, is_empty_or_absent, items, set};

fn protocol_tcp(port: &mut Map<String, Value>) {
    if is_empty_or_absent(port, "protocol") {
        port.insert("protocol".to_string(), json!("TCP"));
    }
}

pub(crate) fn service(root: &mut Map<String, Value>) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    if is_empty_or_absent(spec, "type") {
        spec.insert("type".to_string(), json!("ClusterIP"));
    }
    if is_empty_or_absent(spec, "sessionAffinity") {
        spec.insert("sessionAffinity".to_string(), json!("None"));
    }
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    for port in items(spec, "ports") {
        protocol_tcp(port);
        let unset = match port.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(Value::String(s)) => s.is_empty(),
            _ => false,
        };
        if unset && let Some(p) = port.get("port").cloned() {
            port.insert("targetPort".to_string(), p);
        }
    }
    if spec.get("sessionAffinity").and_then(Value::as_str) == Some("ClientIP")
        && let Some(client) =
            child(spec, "sessionAffinityConfig").and_then(|c| child(c, "clientIP"))
    {
        set(client, "timeoutSeconds", json!(10800));
    }
    if (ty == "NodePort" || ty == "LoadBalancer")
        && is_empty_or_absent(spec, "externalTrafficPolicy")
    {
        spec.insert("externalTrafficPolicy".to_string(), json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        set(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if ty == "ExternalName" {
        return;
    }
    if is_empty_or_absent(spec, "internalTrafficPolicy") {
        spec.insert("internalTrafficPolicy".to_string(), json!("Cluster"));
    }
    let cluster_ip = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(ip) = cluster_ip.filter(|ip| !ip.is_empty())
        && is_empty_or_absent(spec, "clusterIPs")
    {
        spec.insert("clusterIPs".to_string(), json!([ip]));
    }
    // Headless services without a selector take every family the cluster has (only IPv4 here).
    let headless_selectorless = spec.get("clusterIP").and_then(Value::as_str) == Some("None")
        && is_empty_or_absent(spec, "selector");
    let policy = if headless_selectorless {
        "RequireDualStack"
    } else {
        "SingleStack"
    };
    if is_empty_or_absent(spec, "ipFamilyPolicy") {
        spec.insert("ipFamilyPolicy".to_string(), json!(policy));
    }
    if is_empty_or_absent(spec, "ipFamilies") {
        spec.insert("ipFamilies".to_string(), json!(["IPv4"]));
    }
}

pub(crate) fn endpoints(root: &mut Map<String, Value>) {
    for subset in items(root, "subsets") {
        for port in items(subset, "ports") {
            protocol_tcp(port);
        }
    }
}

pub(crate) fn endpoint_slice(root: &mut Map<String, Value>) {
    for port in items(root, "ports") {
        set(port, "name", json!(""));
        protocol_tcp(port);
    }
}

pub(crate) fn network_policy(root: &mut Map<String, Value>) {
    let Some(spec) = existing(root, "spec") else {
        return;
    };
    for key in ["ingress", "egress"] {
        for rule in items(spec, key) {
            for port in items(rule, "ports") {
                protocol_tcp(port);
            }
        }
    }
    if is_empty_or_absent(spec, "policyTypes") {
        let mut types = vec![json!("Ingress")];
        if !is_empty_or_absent(spec, "egress") {
            types.push(json!("Egress"));
        }
        spec.insert("policyTypes".to_string(), Value::Array(types));
    }
}
