//! Subject alternative names of the serving certificate: parsing, validation and the default set.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use crate::error::PkiError;

/// One subject alternative name; DNS names are kept lowercase so sets compare reliably.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum San {
    Dns(String),
    Ip(IpAddr),
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(d) => f.write_str(d),
            San::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// Names every serving certificate carries: loopback for local clients and the in-cluster names of
/// the `kubernetes` service, which pods reach the API server through.
const DEFAULT_SANS: &[&str] = &[
    "localhost",
    "127.0.0.1",
    "::1",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

/// Parses one SAN: anything that parses as an IP address is an IP SAN, the rest must be a valid
/// DNS name (optionally with a leading `*.` wildcard label).
pub fn parse_san(value: &str) -> Result<San, PkiError> {
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Ok(San::Ip(ip));
    }
    validate_dns_name(value)?;
    Ok(San::Dns(value.to_ascii_lowercase()))
}

/// The full SAN set of the serving certificate: the defaults plus `extra`.
pub fn serving_sans(extra: &[String]) -> Result<BTreeSet<San>, PkiError> {
    let mut set = BTreeSet::new();
    for s in DEFAULT_SANS {
        set.insert(parse_san(s)?);
    }
    for s in extra {
        set.insert(parse_san(s)?);
    }
    Ok(set)
}

fn validate_dns_name(value: &str) -> Result<(), PkiError> {
    let invalid = |reason| PkiError::InvalidSan {
        value: value.to_string(),
        reason,
    };
    if value.is_empty() {
        return Err(invalid("empty"));
    }
    if value.len() > 253 {
        return Err(invalid("longer than 253 characters"));
    }
    let body = value.strip_prefix("*.").unwrap_or(value);
    for label in body.split('.') {
        if label.is_empty() {
            return Err(invalid("empty DNS label"));
        }
        if label.len() > 63 {
            return Err(invalid("DNS label longer than 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(invalid(
                "not an IP address and not a DNS name (letters, digits, '-' and '.' only)",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid("DNS label starts or ends with '-'"));
        }
    }
    // An all-numeric last label means a mistyped IP address (`10.0.0.256`), never a host name.
    if body
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid("looks like an IP address but is not a valid one"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_looking_values_become_ip_sans_and_names_are_lowercased() {
        assert_eq!(
            parse_san("10.0.0.1").unwrap(),
            San::Ip("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            parse_san("fd00::1").unwrap(),
            San::Ip("fd00::1".parse().unwrap())
        );
        assert_eq!(
            parse_san("Node-1.Example.COM").unwrap(),
            San::Dns("node-1.example.com".into())
        );
        assert_eq!(
            parse_san("*.example.com").unwrap(),
            San::Dns("*.example.com".into())
        );
    }

    #[test]
    fn invalid_values_are_rejected_with_the_value_in_the_message() {
        for bad in [
            "",
            "has space",
            "https://x.example",
            "a..b",
            "trailing.",
            "-lead.example",
            "x_y",
            "10.0.0.256",
            "1.2.3",
            "::g",
            "[::1]",
            "ünicode.example",
            "a.*.example",
            &"a".repeat(64),
            &format!("{}.x", "a.".repeat(130)),
        ] {
            let err = parse_san(bad).unwrap_err();
            assert!(
                err.to_string().contains(&format!("{bad:?}")),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn serving_sans_include_defaults_and_deduplicate() {
        let set = serving_sans(&["LOCALHOST".into(), "192.168.1.5".into()]).unwrap();
        assert!(set.contains(&San::Dns("kubernetes.default.svc.cluster.local".into())));
        assert!(set.contains(&San::Ip("::1".parse().unwrap())));
        assert!(set.contains(&San::Ip("192.168.1.5".parse().unwrap())));
        assert_eq!(set.len(), DEFAULT_SANS.len() + 1);
    }
}
