//! Who a verified client certificate speaks for: [`identity_from_cert_der`] maps the subject to a
//! Kubernetes user (common name) and groups (organizations).

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::error::PkiError;

/// The authenticated identity of a client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertIdentity {
    pub user: String,
    pub groups: Vec<String>,
}

/// Reads user and groups from a client certificate the TLS layer has already verified; this does
/// no chain or validity checking of its own. A missing or non-text common name is an error, since
/// an empty user name would be ambiguous; an organization that is not text is an error too rather
/// than silently dropped, so a group is never lost without notice.
pub fn identity_from_cert_der(der: &[u8]) -> Result<CertIdentity, PkiError> {
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|e| PkiError::ParseCertificate(e.to_string()))?;
    if !rest.is_empty() {
        return Err(PkiError::ParseCertificate(
            "unexpected data after the certificate".into(),
        ));
    }
    let subject = cert.subject();
    let user = subject
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .filter(|cn| !cn.is_empty())
        .ok_or(PkiError::MissingCommonName)?
        .to_string();
    let groups = subject
        .iter_organization()
        .map(|a| {
            a.as_str()
                .map(str::to_string)
                .map_err(|_| PkiError::ParseCertificate("organization is not a text string".into()))
        })
        .collect::<Result<_, _>>()?;
    Ok(CertIdentity { user, groups })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::{Ca, LeafRequest, Usage, generate_key};
    use std::collections::BTreeSet;

    fn client_der(cn: &str, orgs: &[&str]) -> Vec<u8> {
        let (ca, _) = Ca::create("ca", 1_750_000_000).unwrap();
        let key = generate_key().unwrap();
        let sans = BTreeSet::new();
        let pem = ca
            .issue(
                &LeafRequest {
                    common_name: cn,
                    organizations: orgs,
                    sans: &sans,
                    usage: Usage::ClientAuth,
                },
                &key,
                1_750_000_000,
            )
            .unwrap();
        crate::certs::CertInfo::from_pem(&pem).unwrap().der
    }

    #[test]
    fn node_certificate_maps_to_node_user_and_group() {
        let id = identity_from_cert_der(&client_der("system:node:n1", &["system:nodes"])).unwrap();
        assert_eq!(id.user, "system:node:n1");
        assert_eq!(id.groups, vec!["system:nodes"]);
    }

    #[test]
    fn certificate_without_organization_has_no_groups() {
        let id = identity_from_cert_der(&client_der("alice", &[])).unwrap();
        assert_eq!(
            id,
            CertIdentity {
                user: "alice".into(),
                groups: vec![]
            }
        );
    }

    #[test]
    fn garbage_truncated_and_padded_der_is_rejected() {
        let der = client_der("alice", &["g"]);
        assert!(identity_from_cert_der(&[]).is_err());
        assert!(identity_from_cert_der(b"not a certificate").is_err());
        assert!(identity_from_cert_der(&der[..der.len() / 2]).is_err());
        let mut padded = der.clone();
        padded.push(0);
        assert!(identity_from_cert_der(&padded).is_err());
    }
}
