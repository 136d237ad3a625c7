//! X.509 building blocks: ECDSA P-256 keys, CA creation ([`Ca::create`]), leaf issuance
//! ([`Ca::issue`]) and inspection of certificates read back from disk ([`CertInfo::from_pem`]).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;
use x509_parser::time::ASN1Time;

use crate::error::PkiError;
use crate::sans::San;

const DAY_SECS: i64 = 24 * 60 * 60;
pub const CA_LIFETIME_SECS: i64 = 10 * 365 * DAY_SECS;
pub const LEAF_LIFETIME_SECS: i64 = 365 * DAY_SECS;
/// Leaves are re-issued once they are this close to expiry.
pub const RENEW_BEFORE_SECS: i64 = 90 * DAY_SECS;
/// Certificates start an hour in the past so peers whose clocks lag a little accept them.
const BACKDATE_SECS: i64 = 60 * 60;
/// rcgen keeps one value per attribute type, so a second organization goes in under the same OID
/// spelled as a custom type; more than two would need a subject encoder of our own.
const ORGANIZATION_OID: [u64; 4] = [2, 5, 4, 10];
pub const MAX_ORGANIZATIONS: usize = 2;

/// Seconds since the Unix epoch; a clock before 1970 counts as the epoch.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub fn generate_key() -> Result<KeyPair, PkiError> {
    Ok(KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?)
}

/// What a leaf certificate is for, which decides its extended key usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    ServerAuth,
    ClientAuth,
}

/// The subject and purpose of a leaf certificate to issue.
#[derive(Debug, Clone, Copy)]
pub struct LeafRequest<'a> {
    pub common_name: &'a str,
    pub organizations: &'a [&'a str],
    pub sans: &'a BTreeSet<San>,
    pub usage: Usage,
}

/// A certificate authority ready to sign: its certificate and the key behind it.
pub struct Ca {
    cert_pem: String,
    info: CertInfo,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// Creates a self-signed CA; returns it with its private key PEM (for the caller to persist).
    pub fn create(common_name: &str, now: i64) -> Result<(Ca, String), PkiError> {
        let key = generate_key()?;
        let key_pem = key.serialize_pem();
        let mut params = CertificateParams::default();
        params.distinguished_name = subject(common_name, &[])?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut params, now, CA_LIFETIME_SECS)?;
        params.serial_number = Some(random_serial());
        let cert_pem = params.self_signed(&key)?.pem();
        let info = CertInfo::from_pem(&cert_pem).map_err(PkiError::ParseCertificate)?;
        let issuer = Issuer::new(params, key);
        Ok((
            Ca {
                cert_pem,
                info,
                issuer,
            },
            key_pem,
        ))
    }

    /// Loads a CA from PEM text; `Err` carries a reason for the caller to attach the file name to.
    pub fn load(cert_pem: &str, key_pem: &str) -> Result<Ca, LoadError> {
        let info = CertInfo::from_pem(cert_pem).map_err(LoadError::Certificate)?;
        if !info.is_ca {
            return Err(LoadError::Certificate(
                "not a CA certificate (basicConstraints CA is not set)".into(),
            ));
        }
        let key = KeyPair::from_pem(key_pem).map_err(|e| LoadError::Key(e.to_string()))?;
        if !info.matches_key(&key) {
            return Err(LoadError::Mismatch);
        }
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)
            .map_err(|e| LoadError::Certificate(e.to_string()))?;
        Ok(Ca {
            cert_pem: cert_pem.to_string(),
            info,
            issuer,
        })
    }

    /// The certificate PEM exactly as created or read from disk.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn info(&self) -> &CertInfo {
        &self.info
    }

    /// Whether `leaf` carries a valid signature by this CA.
    pub fn signed(&self, leaf: &CertInfo) -> bool {
        let Ok((_, ca)) = X509Certificate::from_der(&self.info.der) else {
            return false;
        };
        let Ok((_, cert)) = X509Certificate::from_der(&leaf.der) else {
            return false;
        };
        cert.verify_signature(Some(ca.public_key())).is_ok()
    }

    /// Issues a leaf certificate for `key` valid for [`LEAF_LIFETIME_SECS`] from `now`.
    pub fn issue(
        &self,
        request: &LeafRequest<'_>,
        key: &KeyPair,
        now: i64,
    ) -> Result<String, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = subject(request.common_name, request.organizations)?;
        params.subject_alt_names =
            request
                .sans
                .iter()
                .map(|san| match san {
                    San::Ip(ip) => Ok(SanType::IpAddress(*ip)),
                    San::Dns(d) => d.as_str().try_into().map(SanType::DnsName).map_err(|_| {
                        PkiError::InvalidSan {
                            value: d.clone(),
                            reason: "not ASCII",
                        }
                    }),
                })
                .collect::<Result<_, _>>()?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![match request.usage {
            Usage::ServerAuth => ExtendedKeyUsagePurpose::ServerAuth,
            Usage::ClientAuth => ExtendedKeyUsagePurpose::ClientAuth,
        }];
        params.use_authority_key_identifier_extension = true;
        // Never outlive the CA: clients would reject the chain after the CA expires anyway.
        let lifetime = LEAF_LIFETIME_SECS.min(self.info.not_after.saturating_sub(now));
        set_validity(&mut params, now, lifetime.max(0))?;
        params.serial_number = Some(random_serial());
        Ok(params.signed_by(key, &self.issuer)?.pem())
    }
}

/// Why an existing CA could not be loaded; the caller knows which file each part came from.
#[derive(Debug)]
pub enum LoadError {
    Certificate(String),
    Key(String),
    Mismatch,
}

/// The facts about an existing certificate that decide whether it can be kept.
#[derive(Debug, Clone)]
pub struct CertInfo {
    pub der: Vec<u8>,
    pub not_after: i64,
    pub is_ca: bool,
    pub sans: BTreeSet<San>,
    pub common_name: Option<String>,
    pub organizations: Vec<String>,
    public_key: Vec<u8>,
}

impl CertInfo {
    /// Parses the single certificate in `pem`; the error is a human-readable reason.
    pub fn from_pem(pem: &str) -> Result<CertInfo, String> {
        let (rest, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .map_err(|e| format!("not PEM: {e}"))?;
        if block.label != "CERTIFICATE" {
            return Err(format!("PEM block is {:?}, not CERTIFICATE", block.label));
        }
        if !rest.iter().all(u8::is_ascii_whitespace) {
            return Err("unexpected data after the certificate".into());
        }
        CertInfo::from_der(&block.contents)
    }

    pub fn from_der(der: &[u8]) -> Result<CertInfo, String> {
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
        if !rest.is_empty() {
            return Err("unexpected data after the certificate".into());
        }
        let mut sans = BTreeSet::new();
        if let Some(ext) = cert.subject_alternative_name().map_err(|e| e.to_string())? {
            for name in &ext.value.general_names {
                match name {
                    GeneralName::DNSName(d) => {
                        sans.insert(San::Dns(d.to_ascii_lowercase()));
                    }
                    GeneralName::IPAddress(bytes) => {
                        if let Some(ip) = ip_from_bytes(bytes) {
                            sans.insert(San::Ip(ip));
                        }
                    }
                    _ => {}
                }
            }
        }
        let subject = cert.subject();
        let common_name = subject
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok())
            .map(str::to_string);
        let organizations = subject
            .iter_organization()
            .filter_map(|a| a.as_str().ok())
            .map(str::to_string)
            .collect();
        Ok(CertInfo {
            der: der.to_vec(),
            not_after: cert.validity().not_after.timestamp(),
            is_ca: cert.is_ca(),
            sans,
            common_name,
            organizations,
            public_key: cert.public_key().subject_public_key.data.to_vec(),
        })
    }

    pub fn matches_key(&self, key: &KeyPair) -> bool {
        self.public_key == key.public_key_raw()
    }

    pub fn expires_within(&self, now: i64, window: i64) -> bool {
        self.not_after <= now.saturating_add(window)
    }
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

fn subject(common_name: &str, organizations: &[&str]) -> Result<DistinguishedName, PkiError> {
    validate_name_part(common_name)?;
    if organizations.len() > MAX_ORGANIZATIONS {
        return Err(PkiError::InvalidSubject {
            value: organizations.join(","),
            reason: "at most two organizations are supported",
        });
    }
    let mut dn = DistinguishedName::new();
    for (i, org) in organizations.iter().enumerate() {
        validate_name_part(org)?;
        if i == 0 {
            dn.push(DnType::OrganizationName, *org);
        } else {
            dn.push(DnType::CustomDnType(ORGANIZATION_OID.to_vec()), *org);
        }
    }
    dn.push(DnType::CommonName, common_name);
    Ok(dn)
}

fn validate_name_part(value: &str) -> Result<(), PkiError> {
    let invalid = |reason| PkiError::InvalidSubject {
        value: value.to_string(),
        reason,
    };
    if value.is_empty() {
        return Err(invalid("empty"));
    }
    if value.len() > 1024 {
        return Err(invalid("longer than 1024 bytes"));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid("contains control characters"));
    }
    Ok(())
}

fn set_validity(params: &mut CertificateParams, now: i64, lifetime: i64) -> Result<(), PkiError> {
    let to_time = |secs: i64| {
        ASN1Time::from_timestamp(secs)
            .map(|t| t.to_datetime())
            .map_err(|_| PkiError::ParseCertificate(format!("timestamp {secs} out of range")))
    };
    params.not_before = to_time(now.saturating_sub(BACKDATE_SECS))?;
    params.not_after = to_time(now.saturating_add(lifetime))?;
    Ok(())
}

/// A random positive 128-bit serial; serials must not repeat even when a key is reused.
fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::from_slice(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sans::serving_sans;

    const NOW: i64 = 1_750_000_000;

    #[test]
    fn created_ca_is_a_ca_valid_for_ten_years() {
        let (ca, key_pem) = Ca::create("test-ca@1", NOW).unwrap();
        assert!(ca.info().is_ca);
        assert_eq!(ca.info().not_after, NOW + CA_LIFETIME_SECS);
        assert_eq!(ca.info().common_name.as_deref(), Some("test-ca@1"));
        let reloaded = Ca::load(ca.cert_pem(), &key_pem).unwrap();
        assert_eq!(reloaded.cert_pem(), ca.cert_pem());
    }

    #[test]
    fn loading_a_ca_with_a_foreign_key_is_a_mismatch() {
        let (ca, _) = Ca::create("a", NOW).unwrap();
        let (_, other_key) = Ca::create("b", NOW).unwrap();
        assert!(matches!(
            Ca::load(ca.cert_pem(), &other_key),
            Err(LoadError::Mismatch)
        ));
    }

    #[test]
    fn loading_a_leaf_as_a_ca_is_rejected() {
        let (ca, _) = Ca::create("a", NOW).unwrap();
        let key = generate_key().unwrap();
        let sans = BTreeSet::new();
        let leaf = ca
            .issue(
                &LeafRequest {
                    common_name: "x",
                    organizations: &[],
                    sans: &sans,
                    usage: Usage::ClientAuth,
                },
                &key,
                NOW,
            )
            .unwrap();
        assert!(matches!(
            Ca::load(&leaf, &key.serialize_pem()),
            Err(LoadError::Certificate(_))
        ));
    }

    #[test]
    fn issued_leaf_verifies_against_its_ca_only_and_carries_the_request() {
        let (ca, _) = Ca::create("a", NOW).unwrap();
        let (other, _) = Ca::create("b", NOW).unwrap();
        let key = generate_key().unwrap();
        let sans = serving_sans(&["10.1.2.3".into(), "api.example".into()]).unwrap();
        let pem = ca
            .issue(
                &LeafRequest {
                    common_name: "system:node:n1",
                    organizations: &["system:nodes", "extra"],
                    sans: &sans,
                    usage: Usage::ServerAuth,
                },
                &key,
                NOW,
            )
            .unwrap();
        let info = CertInfo::from_pem(&pem).unwrap();
        assert!(ca.signed(&info));
        assert!(!other.signed(&info));
        assert!(info.matches_key(&key));
        assert!(!info.is_ca);
        assert_eq!(info.sans, sans);
        assert_eq!(info.organizations, vec!["system:nodes", "extra"]);
        assert_eq!(info.not_after, NOW + LEAF_LIFETIME_SECS);
    }

    #[test]
    fn leaf_never_outlives_its_ca() {
        let (ca, _) = Ca::create("a", NOW).unwrap();
        let late = ca.info().not_after - 10 * DAY_SECS;
        let key = generate_key().unwrap();
        let sans = BTreeSet::new();
        let pem = ca
            .issue(
                &LeafRequest {
                    common_name: "x",
                    organizations: &[],
                    sans: &sans,
                    usage: Usage::ClientAuth,
                },
                &key,
                late,
            )
            .unwrap();
        assert_eq!(
            CertInfo::from_pem(&pem).unwrap().not_after,
            ca.info().not_after
        );
    }

    #[test]
    fn subjects_with_bad_parts_are_rejected() {
        assert!(subject("", &[]).is_err());
        assert!(subject("a\nb", &[]).is_err());
        assert!(subject("a", &["o\0"]).is_err());
        assert!(subject("a", &["1", "2", "3"]).is_err());
    }

    #[test]
    fn garbage_pem_is_rejected_with_a_reason() {
        for bad in [
            "",
            "hello",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            assert!(CertInfo::from_pem(bad).is_err(), "{bad}");
        }
    }
}
