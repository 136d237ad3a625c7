use serde_json::{Value, json};

use super::{create, errors};
use crate::defaults::apply;

#[test]
fn service_ports_types_and_names_are_checked() {
    let svc = |spec: Value| json!({"metadata": {"name": "s"}, "spec": spec});
    assert_eq!(
        create("", "services", svc(json!({"selector": {"app": "a"}}))),
        vec!["spec.ports: Required value"]
    );
    assert_eq!(
        create("", "services", svc(json!({"clusterIP": "None"}))),
        Vec::<String>::new()
    );
    assert_eq!(
        create("", "services", svc(json!({"type": "ExternalName"}))),
        vec!["spec.externalName: Required value"]
    );
    assert_eq!(
        create(
            "",
            "services",
            svc(json!({"type": "Magic", "ports": [
                {"port": 80, "name": "web"}, {"port": 70000, "protocol": "ICMP"}, {"port": 80, "name": "web", "nodePort": 30001, "targetPort": "Http"}
            ]}))
        ),
        vec![
            "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
            "spec.ports[1].name: Required value",
            "spec.ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.ports[1].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            // Defaulting copied the port into targetPort, as upstream's does.
            "spec.ports[1].targetPort: Invalid value: intstr.IntOrString{Type:0, IntVal:70000, StrVal:\"\"}: must be between 1 and 65535, inclusive",
            "spec.ports[2].name: Duplicate value: \"web\"",
            "spec.ports[2].targetPort: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"Http\"}: must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            "spec.ports[2]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
        ]
    );
    assert_eq!(
        create(
            "",
            "services",
            svc(json!({"ports": [{"port": 80, "nodePort": 30080}]}))
        ),
        vec!["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
    );
}

#[test]
fn service_cluster_ip_is_immutable() {
    let mut old = json!({"spec": {"selector": {"app": "a"}, "ports": [{"port": 80}], "clusterIP": "10.43.0.10"}});
    apply("", "services", &mut old);
    let mut new = old.clone();
    new["spec"]["ports"][0]["port"] = json!(8080);
    assert_eq!(
        errors("", "services", Some(&old), &new),
        Vec::<String>::new()
    );
    new["spec"]["clusterIP"] = json!("10.43.0.11");
    new["spec"]["clusterIPs"] = json!(["10.43.0.11"]);
    assert_eq!(
        errors("", "services", Some(&old), &new),
        vec![
            "spec.clusterIPs[0]: Invalid value: []string{\"10.43.0.11\"}: may not change once set"
        ]
    );
    new["spec"]["type"] = json!("ExternalName");
    new["spec"]["externalName"] = json!("db.example.com.");
    assert_eq!(
        errors("", "services", Some(&old), &new),
        vec!["spec.clusterIPs: Forbidden: may not be set for ExternalName services"]
    );
    // Upstream's update strategy drops the allocated IPs when the type stops needing them.
    if let Some(spec) = new["spec"].as_object_mut() {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
    }
    assert_eq!(
        errors("", "services", Some(&old), &new),
        Vec::<String>::new()
    );
}

#[test]
fn ingress_paths_backends_and_hosts_are_checked() {
    let ok = json!({"spec": {"ingressClassName": "traefik", "rules": [{"host": "*.example.com", "http": {"paths": [
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}});
    assert_eq!(
        errors("networking.k8s.io", "ingresses", None, &ok),
        Vec::<String>::new()
    );
    let bad = json!({"spec": {"rules": [{"host": "10.0.0.1", "http": {"paths": [
        {"path": "api", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
        {"path": "api", "pathType": "Prefix", "backend": {"service": {"name": "Web", "port": {}}}},
        {"path": "/a//b", "pathType": "Regex", "backend": {}}]}}]}});
    let p = "spec.rules[0].http.paths";
    assert_eq!(
        errors("networking.k8s.io", "ingresses", None, &bad),
        vec![
            "spec.rules[0].host: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address".to_string(),
            format!("{p}[0].pathType: Required value: pathType must be specified"),
            format!("{p}[1].path: Invalid value: \"api\": must be an absolute path"),
            format!("{p}[1].backend.service.name: Invalid value: \"Web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"),
            format!("{p}[1].backend.service.port.name: Required value: port name or number is required"),
            format!("{p}[2].pathType: Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\""),
            format!("{p}[2].backend: Invalid value: networking.IngressBackend{{Service:(*networking.IngressServiceBackend)(nil), Resource:(*core.TypedLocalObjectReference)(nil)}}: resource or service backend is required"),
        ]
    );
    assert_eq!(
        errors("networking.k8s.io", "ingresses", None, &json!({"spec": {}})),
        vec![
            "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"
        ]
    );
}

#[test]
fn network_policy_peers_ports_and_cidrs_are_checked() {
    let mut np = json!({"spec": {"podSelector": {"matchLabels": {"app": "db"}},
        "ingress": [{"from": [{"podSelector": {}}, {}, {"ipBlock": {"cidr": "10.0.0.0/33"}, "namespaceSelector": {}}],
                     "ports": [{"port": 5432, "endPort": 5000}, {"protocol": "ICMP", "port": "postgres"}]}],
        "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16", "nope"]}}]}],
        "policyTypes": ["Ingress", "Sideways"]}});
    apply("networking.k8s.io", "networkpolicies", &mut np);
    assert_eq!(
        errors("networking.k8s.io", "networkpolicies", None, &np),
        vec![
            "spec.ingress[0].ports[0].endPort: Invalid value: 5000: must be greater than or equal to `port`",
            "spec.ingress[0].ports[1].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            "spec.ingress[0].from[1]: Required value: must specify a peer",
            "spec.ingress[0].from[2]: Forbidden: may not specify both ipBlock and another peer",
            "spec.ingress[0].from[2].ipBlock.cidr: Invalid value: \"10.0.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            "spec.egress[0].to[0].ipBlock.except[1]: Invalid value: \"nope\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            "spec.policyTypes[1]: Unsupported value: \"Sideways\": supported values: \"Ingress\", \"Egress\"",
        ]
    );
}
