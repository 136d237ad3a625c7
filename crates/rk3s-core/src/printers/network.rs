//! Printers for service networking: services, endpoints, endpoint slices, ingresses and network
//! policies.

use std::collections::BTreeSet;

use serde_json::Value;

use super::fields::{
    age, get, int, items, list_with_more, name, non_empty, opt_int, opt_str, text,
};
use super::selector::{format_label_selector, format_labels};
use super::{AGE, Column, NAME, Printer};

pub(crate) fn core_printer(plural: &str) -> Option<&'static Printer> {
    match plural {
        "services" => Some(&SERVICES),
        "endpoints" => Some(&ENDPOINTS),
        _ => None,
    }
}

pub(crate) fn printer(group: &str, plural: &str) -> Option<&'static Printer> {
    match (group, plural) {
        ("discovery.k8s.io", "endpointslices") => Some(&ENDPOINT_SLICES),
        ("networking.k8s.io", "ingresses") => Some(&INGRESSES),
        ("networking.k8s.io", "ingressclasses") => Some(&INGRESS_CLASSES),
        ("networking.k8s.io", "networkpolicies") => Some(&NETWORK_POLICIES),
        ("networking.k8s.io", "servicecidrs") => Some(&SERVICE_CIDRS),
        ("networking.k8s.io", "ipaddresses") => Some(&IP_ADDRESSES),
        _ => None,
    }
}

const SERVICES: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Type", "string", "How the service is exposed."),
        Column::new("Cluster-IP", "string", "The service's cluster IP address."),
        Column::new(
            "External-IP",
            "string",
            "Addresses the service is reachable at from outside.",
        ),
        Column::new("Port(s)", "string", "The service's ports, with node ports."),
        AGE,
        Column::wide("Selector", "string", "The pods the service routes to."),
    ],
    cells: |obj, now| {
        let cluster_ip = items(obj, &["spec", "clusterIPs"])
            .first()
            .and_then(Value::as_str)
            .or_else(|| non_empty(obj, &["spec", "clusterIP"]))
            .unwrap_or("<none>");
        let ports = service_ports(items(obj, &["spec", "ports"]));
        vec![
            name(obj).into(),
            service_type(obj).into(),
            cluster_ip.into(),
            service_external_ip(obj).into(),
            (if ports.is_empty() {
                "<none>".to_owned()
            } else {
                ports
            })
            .into(),
            age(obj, now).into(),
            format_labels(obj, &["spec", "selector"]).into(),
        ]
    },
};

/// `spec.type`, which the server defaults to `ClusterIP`.
fn service_type(obj: &Value) -> &str {
    opt_str(obj, &["spec", "type"]).unwrap_or("ClusterIP")
}

/// `80/TCP,443:30001/TCP`.
fn service_ports(ports: &[Value]) -> String {
    ports
        .iter()
        .map(|p| {
            let port = int(p, &["port"]);
            let protocol = opt_str(p, &["protocol"]).unwrap_or("TCP");
            match int(p, &["nodePort"]) {
                node_port if node_port > 0 => format!("{port}:{node_port}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn string_list(obj: &Value, path: &[&str]) -> Vec<String> {
    items(obj, path)
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn service_external_ip(obj: &Value) -> String {
    let external_ips = string_list(obj, &["spec", "externalIPs"]);
    match service_type(obj) {
        "ClusterIP" | "NodePort" if external_ips.is_empty() => "<none>".to_owned(),
        "ClusterIP" | "NodePort" => external_ips.join(","),
        "LoadBalancer" => {
            let mut all = load_balancer_addresses(obj);
            all.extend(external_ips);
            if all.is_empty() {
                "<pending>".to_owned()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => text(obj, &["spec", "externalName"]).to_owned(),
        _ => "<unknown>".to_owned(),
    }
}

/// The distinct IPs (or hostnames, for ingresses without an IP) of `status.loadBalancer`, sorted.
fn load_balancer_addresses(obj: &Value) -> Vec<String> {
    let set: BTreeSet<&str> = items(obj, &["status", "loadBalancer", "ingress"])
        .iter()
        .filter_map(|i| non_empty(i, &["ip"]).or_else(|| non_empty(i, &["hostname"])))
        .collect();
    set.into_iter().map(str::to_owned).collect()
}

const ENDPOINTS: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "Endpoints",
            "string",
            "Addresses and ports of the endpoints.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        vec![
            name(obj).into(),
            endpoints_cell(obj).into(),
            age(obj, now).into(),
        ]
    },
};

fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn endpoints_cell(obj: &Value) -> String {
    let subsets = items(obj, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_owned();
    }
    const MAX: usize = 3;
    let mut list = Vec::new();
    let mut total = 0usize;
    for subset in subsets {
        let addresses = items(subset, &["addresses"]);
        let ips = addresses.iter().map(|a| text(a, &["ip"]));
        let ports = items(subset, &["ports"]);
        if ports.is_empty() {
            // Headless services may have addresses without ports.
            total += addresses.len();
            list.extend(ips.take(MAX.saturating_sub(list.len())).map(str::to_owned));
            continue;
        }
        for port in ports {
            let port = int(port, &["port"]);
            total += addresses.len();
            let room = MAX.saturating_sub(list.len());
            list.extend(ips.clone().take(room).map(|ip| join_host_port(ip, port)));
        }
    }
    list_with_more(&list, total, MAX)
}

const ENDPOINT_SLICES: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "AddressType",
            "string",
            "The kind of addresses in the slice.",
        ),
        Column::new("Ports", "string", "The ports of the slice."),
        Column::new("Endpoints", "string", "Addresses of the endpoints."),
        AGE,
    ],
    cells: |obj, now| {
        let ports: Vec<String> = items(obj, &["ports"])
            .iter()
            .map(|p| {
                opt_int(p, &["port"])
                    .map(|n| n.to_string())
                    .or_else(|| opt_str(p, &["name"]).map(str::to_owned))
                    .unwrap_or_else(|| "*".to_owned())
            })
            .collect();
        let addresses: Vec<String> = items(obj, &["endpoints"])
            .iter()
            .flat_map(|e| items(e, &["addresses"]))
            .map(|a| a.as_str().unwrap_or("").to_owned())
            .collect();
        vec![
            name(obj).into(),
            text(obj, &["addressType"]).into(),
            capped_or_unset(&ports).into(),
            capped_or_unset(&addresses).into(),
            age(obj, now).into(),
        ]
    },
};

/// At most three entries, `<unset>` when there are none.
fn capped_or_unset(all: &[String]) -> String {
    const MAX: usize = 3;
    let shown = &all[..all.len().min(MAX)];
    let s = list_with_more(shown, all.len(), MAX);
    if s.is_empty() {
        "<unset>".to_owned()
    } else {
        s
    }
}

const INGRESSES: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Class", "string", "The ingress class."),
        Column::new("Hosts", "string", "Hosts the rules match."),
        Column::new(
            "Address",
            "string",
            "Addresses the ingress is reachable at.",
        ),
        Column::new("Ports", "string", "Ports the ingress serves."),
        AGE,
    ],
    cells: |obj, now| {
        let ports = if items(obj, &["spec", "tls"]).is_empty() {
            "80"
        } else {
            "80, 443"
        };
        vec![
            name(obj).into(),
            opt_str(obj, &["spec", "ingressClassName"])
                .unwrap_or("<none>")
                .into(),
            ingress_hosts(items(obj, &["spec", "rules"])).into(),
            load_balancer_addresses(obj).join(",").into(),
            ports.into(),
            age(obj, now).into(),
        ]
    },
};

/// The first three rule hosts, `*` when no rule names one. The "more" count is over all rules,
/// hosted or not, as upstream counts it.
fn ingress_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut hosts: Vec<String> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX {
            more = true;
            break;
        }
        if let Some(host) = non_empty(rule, &["host"]) {
            hosts.push(host.to_owned());
        }
    }
    if hosts.is_empty() {
        return "*".to_owned();
    }
    let joined = hosts.join(",");
    if more {
        format!("{joined} + {} more...", rules.len() - MAX)
    } else {
        joined
    }
}

const INGRESS_CLASSES: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "Controller",
            "string",
            "The controller implementing the class.",
        ),
        Column::new("Parameters", "string", "The class's parameters object."),
        AGE,
    ],
    cells: |obj, now| {
        let parameters = match get(obj, &["spec", "parameters"]) {
            Some(p) => {
                let kind = text(p, &["kind"]);
                let group = non_empty(p, &["apiGroup"])
                    .map(|g| format!(".{g}"))
                    .unwrap_or_default();
                format!("{kind}{group}/{}", text(p, &["name"]))
            }
            None => "<none>".to_owned(),
        };
        vec![
            name(obj).into(),
            text(obj, &["spec", "controller"]).into(),
            parameters.into(),
            age(obj, now).into(),
        ]
    },
};

const NETWORK_POLICIES: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Pod-Selector", "string", "The pods the policy applies to."),
        AGE,
    ],
    cells: |obj, now| {
        // An absent podSelector means the empty selector (all pods), not "nothing".
        let selector = get(obj, &["spec", "podSelector"])
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}));
        vec![
            name(obj).into(),
            format_label_selector(Some(&selector)).into(),
            age(obj, now).into(),
        ]
    },
};

const SERVICE_CIDRS: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "CIDRs",
            "string",
            "The ranges service IPs are allocated from.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        vec![
            name(obj).into(),
            string_list(obj, &["spec", "cidrs"]).join(",").into(),
            age(obj, now).into(),
        ]
    },
};

const IP_ADDRESSES: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "ParentRef",
            "string",
            "The object the address is allocated to.",
        ),
    ],
    cells: |obj, _now| {
        let parent = match get(obj, &["spec", "parentRef"]) {
            Some(p) => {
                let resource = text(p, &["resource"]);
                let resource = match non_empty(p, &["group"]) {
                    Some(g) => format!("{resource}.{g}"),
                    None => resource.to_owned(),
                };
                let namespace = non_empty(p, &["namespace"])
                    .map(|n| format!("{n}/"))
                    .unwrap_or_default();
                format!("{resource}/{namespace}{}", text(p, &["name"]))
            }
            None => String::new(),
        };
        vec![name(obj).into(), parent.into()]
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn cluster_ip_service_row() {
        let svc = json!({
            "metadata": {"name": "web", "creationTimestamp": "2024-05-01T11:00:00Z"},
            "spec": {"type": "ClusterIP", "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"],
                     "selector": {"app": "web"},
                     "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]},
        });
        assert_eq!(
            (SERVICES.cells)(&svc, now()),
            vec![
                json!("web"),
                json!("ClusterIP"),
                json!("10.43.0.10"),
                json!("<none>"),
                json!("80/TCP,53/UDP"),
                json!("60m"),
                json!("app=web"),
            ]
        );
    }

    #[test]
    fn node_port_and_load_balancer_services() {
        let np = json!({
            "metadata": {"name": "np"},
            "spec": {"type": "NodePort", "clusterIPs": ["10.43.1.1"], "externalIPs": ["1.2.3.4"],
                     "ports": [{"port": 80, "nodePort": 30080}, {"port": 443, "nodePort": 30001, "protocol": "TCP"}]},
        });
        let row = (SERVICES.cells)(&np, now());
        assert_eq!(
            row[3..5],
            [json!("1.2.3.4"), json!("80:30080/TCP,443:30001/TCP")]
        );
        assert_eq!(row[6], json!("<none>"));

        let pending =
            json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": []}});
        let row = (SERVICES.cells)(&pending, now());
        assert_eq!(
            row[2..5],
            [json!("<none>"), json!("<pending>"), json!("<none>")]
        );

        let ready = json!({
            "metadata": {"name": "lb"},
            "spec": {"type": "LoadBalancer", "externalIPs": ["9.9.9.9"]},
            "status": {"loadBalancer": {"ingress": [{"ip": "5.5.5.5"}, {"hostname": "lb.example"}, {"ip": "1.1.1.1"}]}},
        });
        assert_eq!(
            (SERVICES.cells)(&ready, now())[3],
            json!("1.1.1.1,5.5.5.5,lb.example,9.9.9.9")
        );

        let ext = json!({"metadata": {"name": "e"}, "spec": {"type": "ExternalName", "externalName": "db.example"}});
        assert_eq!((SERVICES.cells)(&ext, now())[3], json!("db.example"));
    }

    #[test]
    fn endpoints_show_three_addresses_and_count_the_rest() {
        let ep = json!({
            "metadata": {"name": "web"},
            "subsets": [{
                "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "fd00::3"}],
                "ports": [{"port": 80}, {"port": 443}],
            }],
        });
        assert_eq!(
            endpoints_cell(&ep),
            "10.0.0.1:80,10.0.0.2:80,[fd00::3]:80 + 3 more..."
        );
        let headless = json!({"subsets": [{"addresses": [{"ip": "10.0.0.9"}]}]});
        assert_eq!(endpoints_cell(&headless), "10.0.0.9");
        assert_eq!(endpoints_cell(&json!({})), "<none>");
        assert_eq!(endpoints_cell(&json!({"subsets": [{}]})), "");
    }

    #[test]
    fn endpoint_slice_row() {
        let slice = json!({
            "metadata": {"name": "web-abc12", "creationTimestamp": "2024-05-01T11:59:30Z"},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080}, {"name": "named"}, {}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3", "10.0.0.4"]}],
        });
        assert_eq!(
            (ENDPOINT_SLICES.cells)(&slice, now()),
            vec![
                json!("web-abc12"),
                json!("IPv4"),
                json!("8080,named,*"),
                json!("10.0.0.1,10.0.0.2,10.0.0.3 + 1 more..."),
                json!("30s"),
            ]
        );
        let empty = json!({"metadata": {"name": "e"}, "addressType": "IPv4"});
        assert_eq!(
            (ENDPOINT_SLICES.cells)(&empty, now())[2..4],
            [json!("<unset>"), json!("<unset>")]
        );
    }

    #[test]
    fn ingress_row() {
        let ing = json!({
            "metadata": {"name": "site"},
            "spec": {"ingressClassName": "traefik", "tls": [{"hosts": ["a.example"]}],
                     "rules": [{"host": "a.example"}, {"host": "b.example"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.168.1.10"}]}},
        });
        assert_eq!(
            (INGRESSES.cells)(&ing, now())[..5],
            [
                json!("site"),
                json!("traefik"),
                json!("a.example,b.example"),
                json!("192.168.1.10"),
                json!("80, 443")
            ]
        );
        let bare = json!({"metadata": {"name": "x"}, "spec": {"rules": [{}]}});
        assert_eq!(
            (INGRESSES.cells)(&bare, now())[1..5],
            [json!("<none>"), json!("*"), json!(""), json!("80")]
        );
        let many: Vec<Value> = (0..5).map(|i| json!({"host": format!("h{i}")})).collect();
        assert_eq!(ingress_hosts(&many), "h0,h1,h2 + 2 more...");
        let late = vec![json!({}), json!({}), json!({}), json!({"host": "late"})];
        assert_eq!(ingress_hosts(&late), "late");
    }

    #[test]
    fn ingress_class_and_network_policy_rows() {
        let ic = json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}});
        assert_eq!(
            (INGRESS_CLASSES.cells)(&ic, now())[..3],
            [
                json!("nginx"),
                json!("k8s.io/ingress-nginx"),
                json!("IngressParameters.k8s.example.com/p")
            ]
        );
        let np = json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {}}});
        assert_eq!((NETWORK_POLICIES.cells)(&np, now())[1], json!("<none>"));
        let np = json!({"metadata": {"name": "web"}, "spec": {"podSelector": {"matchLabels": {"app": "web"}}}});
        assert_eq!((NETWORK_POLICIES.cells)(&np, now())[1], json!("app=web"));
    }
}
