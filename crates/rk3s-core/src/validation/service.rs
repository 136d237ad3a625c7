//! Service validation: type, ports, target ports, affinity and the immutable cluster IP.

use std::collections::HashSet;
use std::net::IpAddr;

use serde_json::Value;

use super::FieldError;
use super::fmt::{go_intstr, go_quote, go_string_slice};
use super::json::{arr_at, get, i64_at, str_at};
use super::pod::{PROTOCOLS, check_enum, port_name_errors, port_num_error};
use crate::names::{is_dns1123_label, is_dns1123_subdomain};

const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

pub(super) fn validate_service(old: Option<&Value>, new: &Value, errs: &mut Vec<FieldError>) {
    let spec = get(new, &["spec"]).unwrap_or(&Value::Null);
    let ty = str_at(spec, &["type"]).unwrap_or("ClusterIP");
    check_enum(ty, TYPES, "spec.type", errs);
    let cluster_ip = str_at(spec, &["clusterIP"]).unwrap_or_default();
    let headless = cluster_ip == "None";
    let ports = arr_at(spec, &["ports"]);
    if ports.is_empty() && !headless && ty != "ExternalName" {
        errs.push(FieldError::required("spec.ports", ""));
    }
    if ty == "ExternalName" {
        if !arr_at(spec, &["clusterIPs"]).is_empty() || !cluster_ip.is_empty() {
            errs.push(FieldError::forbidden(
                "spec.clusterIPs",
                "may not be set for ExternalName services",
            ));
        }
        match str_at(spec, &["externalName"]).unwrap_or_default() {
            "" => errs.push(FieldError::required("spec.externalName", "")),
            name => {
                for msg in is_dns1123_subdomain(name.strip_suffix('.').unwrap_or(name)) {
                    errs.push(FieldError::invalid_str("spec.externalName", name, &msg));
                }
            }
        }
    }
    let mut names = HashSet::new();
    let mut keys = HashSet::new();
    let multi = ports.len() > 1;
    for (i, p) in ports.iter().enumerate() {
        let ppath = format!("spec.ports[{i}]");
        match str_at(p, &["name"]).unwrap_or_default() {
            "" if multi => errs.push(FieldError::required(format!("{ppath}.name"), "")),
            "" => {}
            name => {
                for msg in is_dns1123_label(name) {
                    errs.push(FieldError::invalid_str(format!("{ppath}.name"), name, &msg));
                }
                if !names.insert(name.to_string()) {
                    errs.push(FieldError::duplicate(
                        format!("{ppath}.name"),
                        go_quote(name),
                    ));
                }
            }
        }
        let port = i64_at(p, &["port"]).unwrap_or(0);
        if let Some(msg) = port_num_error(port) {
            errs.push(FieldError::invalid(format!("{ppath}.port"), port, msg));
        }
        let proto = str_at(p, &["protocol"]).unwrap_or("TCP");
        check_enum(proto, PROTOCOLS, &format!("{ppath}.protocol"), errs);
        if let Some(tp) = get(p, &["targetPort"]) {
            // Upstream prints the whole IntOrString here, unlike elsewhere.
            let tpath = format!("{ppath}.targetPort");
            match tp {
                Value::String(name) => {
                    for msg in port_name_errors(name) {
                        errs.push(FieldError::invalid(&tpath, go_intstr(tp), msg));
                    }
                }
                other => {
                    if let Some(msg) = port_num_error(other.as_i64().unwrap_or(0)) {
                        errs.push(FieldError::invalid(&tpath, go_intstr(tp), msg));
                    }
                }
            }
        }
        if let Some(np) = i64_at(p, &["nodePort"]).filter(|n| *n != 0) {
            if ty == "ClusterIP" || ty == "ExternalName" {
                errs.push(FieldError::forbidden(
                    format!("{ppath}.nodePort"),
                    &format!("may not be used when `type` is '{ty}'"),
                ));
            } else if let Some(msg) = port_num_error(np) {
                errs.push(FieldError::invalid(format!("{ppath}.nodePort"), np, msg));
            }
        }
        if !keys.insert((port, proto.to_string())) {
            errs.push(FieldError::duplicate(
                &ppath,
                format!(
                    "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
                    go_quote(proto)
                ),
            ));
        }
    }
    if let Some(a) = str_at(spec, &["sessionAffinity"]) {
        check_enum(a, &["ClientIP", "None"], "spec.sessionAffinity", errs);
    }
    if let Some(t) = i64_at(
        spec,
        &["sessionAffinityConfig", "clientIP", "timeoutSeconds"],
    ) && !(1..=86400).contains(&t)
    {
        errs.push(FieldError::invalid(
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
            t,
            "must be greater than 0 and less than 86400",
        ));
    }
    if let Some(p) = str_at(spec, &["externalTrafficPolicy"]).filter(|p| !p.is_empty()) {
        check_enum(p, &["Cluster", "Local"], "spec.externalTrafficPolicy", errs);
    }
    if let Some(p) = str_at(spec, &["internalTrafficPolicy"]) {
        check_enum(p, &["Cluster", "Local"], "spec.internalTrafficPolicy", errs);
    }
    if let Some(p) = str_at(spec, &["ipFamilyPolicy"]) {
        check_enum(
            p,
            &["PreferDualStack", "RequireDualStack", "SingleStack"],
            "spec.ipFamilyPolicy",
            errs,
        );
    }
    for (i, f) in arr_at(spec, &["ipFamilies"]).iter().enumerate() {
        check_enum(
            f.as_str().unwrap_or_default(),
            &["IPv4", "IPv6"],
            &format!("spec.ipFamilies[{i}]"),
            errs,
        );
    }
    if !cluster_ip.is_empty() && !headless && cluster_ip.parse::<IpAddr>().is_err() {
        errs.push(FieldError::invalid_str(
            "spec.clusterIPs[0]",
            cluster_ip,
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ));
    }
    if headless && (ty == "NodePort" || ty == "LoadBalancer") {
        errs.push(FieldError::invalid_str(
            "spec.clusterIPs[0]",
            cluster_ip,
            &format!("may not be set to 'None' for {ty} services"),
        ));
    }
    if let Some(old) = old {
        validate_cluster_ip_update(old, new, errs);
    }
}

/// The primary cluster IP is fixed once allocated, unless the service changes to or from
/// ExternalName. An update that omits it keeps the old one (the server carries it over).
fn validate_cluster_ip_update(old: &Value, new: &Value, errs: &mut Vec<FieldError>) {
    let ty = |o: &Value| {
        str_at(o, &["spec", "type"])
            .unwrap_or("ClusterIP")
            .to_string()
    };
    if ty(old) == "ExternalName" || ty(new) == "ExternalName" {
        return;
    }
    let old_ip = str_at(old, &["spec", "clusterIP"]).unwrap_or_default();
    let new_ip = str_at(new, &["spec", "clusterIP"]).unwrap_or_default();
    if !old_ip.is_empty() && !new_ip.is_empty() && old_ip != new_ip {
        let ips: Vec<&str> = arr_at(new, &["spec", "clusterIPs"])
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let shown = if ips.is_empty() { vec![new_ip] } else { ips };
        errs.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            go_string_slice(&shown),
            "may not change once set",
        ));
    }
}
