//! Node pod-network ranges carved out of the cluster CIDR (no I/O): each node gets one subnet
//! of a fixed mask size, never one in use, handed out round-robin so a released range is the
//! last to come back. Entry point: [`CidrAllocator::new`].

use std::collections::BTreeSet;
use std::net::IpAddr;

/// Upstream's limit: at most 2^16 node ranges per cluster CIDR.
pub const MAX_SUBNET_BITS: u8 = 16;
pub const DEFAULT_IPV4_MASK: u8 = 24;
pub const DEFAULT_IPV6_MASK: u8 = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("{0:?} is not a CIDR (expected ADDRESS/PREFIX)")]
    Malformed(String),
    #[error("{cidr:?} has host bits set (the network is {network})")]
    HostBits { cidr: String, network: String },
    #[error(
        "node mask size /{mask} does not fit the cluster CIDR {cluster} (needs /{min} to /{max})"
    )]
    MaskSize {
        cluster: String,
        mask: u8,
        min: u8,
        max: u8,
    },
    #[error("{0:?} is not one of this cluster CIDR's node ranges")]
    NotInRange(String),
    #[error("no pod CIDR left in {0}")]
    Exhausted(String),
}

/// A parsed network: address bits as u128 (IPv4 in the low 32 bits) and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    v6: bool,
    bits: u128,
    prefix: u8,
}

impl Network {
    fn width(self) -> u8 {
        if self.v6 { 128 } else { 32 }
    }

    fn parse(s: &str) -> Result<Network, CidrError> {
        let malformed = || CidrError::Malformed(s.to_string());
        let (ip, prefix) = s.trim().split_once('/').ok_or_else(malformed)?;
        let ip: IpAddr = ip.parse().map_err(|_| malformed())?;
        // Only plain decimal digits: `+24` or ` 24` are not prefixes.
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let prefix: u8 = prefix.parse().map_err(|_| malformed())?;
        let net = match ip {
            IpAddr::V4(a) => Network {
                v6: false,
                bits: u128::from(u32::from(a)),
                prefix,
            },
            IpAddr::V6(a) => Network {
                v6: true,
                bits: u128::from(a),
                prefix,
            },
        };
        if prefix > net.width() {
            return Err(malformed());
        }
        Ok(net)
    }

    fn host_mask(width: u8, prefix: u8) -> u128 {
        let host_bits = u32::from(width - prefix);
        if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        }
    }

    fn render(v6: bool, bits: u128, prefix: u8) -> String {
        let ip = if v6 {
            IpAddr::from(bits.to_be_bytes())
        } else {
            // The low 32 bits hold the address; the rest are zero by construction.
            IpAddr::from(
                u32::try_from(bits & u128::from(u32::MAX))
                    .unwrap_or(0)
                    .to_be_bytes(),
            )
        };
        format!("{ip}/{prefix}")
    }
}

/// Which node ranges of one cluster CIDR are taken.
#[derive(Debug, Clone)]
pub struct CidrAllocator {
    cluster: Network,
    mask: u8,
    /// Number of node ranges: 2^(mask - cluster prefix), at most 2^16.
    count: u32,
    used: BTreeSet<u32>,
    /// Where the next search starts (round-robin).
    next: u32,
}

impl CidrAllocator {
    /// `mask` defaults to /24 for IPv4 and /64 for IPv6.
    pub fn new(cluster_cidr: &str, mask: Option<u8>) -> Result<CidrAllocator, CidrError> {
        let cluster = Network::parse(cluster_cidr)?;
        let width = cluster.width();
        let host = Network::host_mask(width, cluster.prefix);
        if cluster.bits & host != 0 {
            return Err(CidrError::HostBits {
                cidr: cluster_cidr.to_string(),
                network: Network::render(cluster.v6, cluster.bits & !host, cluster.prefix),
            });
        }
        let mask = mask.unwrap_or(if cluster.v6 {
            DEFAULT_IPV6_MASK
        } else {
            DEFAULT_IPV4_MASK
        });
        let max = cluster.prefix.saturating_add(MAX_SUBNET_BITS).min(width);
        if mask < cluster.prefix || mask > max {
            return Err(CidrError::MaskSize {
                cluster: cluster_cidr.to_string(),
                mask,
                min: cluster.prefix,
                max,
            });
        }
        Ok(CidrAllocator {
            cluster,
            mask,
            count: 1u32 << (mask - cluster.prefix),
            used: BTreeSet::new(),
            next: 0,
        })
    }

    pub fn cluster_cidr(&self) -> String {
        Network::render(self.cluster.v6, self.cluster.bits, self.cluster.prefix)
    }

    pub fn capacity(&self) -> u32 {
        self.count
    }

    pub fn in_use(&self) -> usize {
        self.used.len()
    }

    fn render_index(&self, index: u32) -> String {
        let shift = u32::from(self.cluster.width() - self.mask);
        let offset = u128::from(index).checked_shl(shift).unwrap_or(0);
        Network::render(self.cluster.v6, self.cluster.bits | offset, self.mask)
    }

    /// The index of a node range of this allocator, as written in a node's spec.
    fn index_of(&self, cidr: &str) -> Result<u32, CidrError> {
        let net = Network::parse(cidr)?;
        let not_ours = || CidrError::NotInRange(cidr.to_string());
        if net.v6 != self.cluster.v6 || net.prefix != self.mask {
            return Err(not_ours());
        }
        let width = self.cluster.width();
        let cluster_host = Network::host_mask(width, self.cluster.prefix);
        if net.bits & !cluster_host != self.cluster.bits {
            return Err(not_ours());
        }
        if net.bits & Network::host_mask(width, self.mask) != 0 {
            return Err(not_ours());
        }
        let shift = u32::from(width - self.mask);
        let index = (net.bits & cluster_host).checked_shr(shift).unwrap_or(0);
        u32::try_from(index).map_err(|_| not_ours())
    }

    /// Records a range a node already has (rebuilding after a restart). Returns false when it
    /// was already taken, i.e. two nodes claim it.
    pub fn occupy(&mut self, cidr: &str) -> Result<bool, CidrError> {
        let i = self.index_of(cidr)?;
        Ok(self.used.insert(i))
    }

    /// A free range, now taken.
    pub fn allocate(&mut self) -> Result<String, CidrError> {
        if self.used.len() >= self.count as usize {
            return Err(CidrError::Exhausted(self.cluster_cidr()));
        }
        let start = self.next;
        let mut i = start;
        loop {
            if self.used.insert(i) {
                self.next = (i + 1) % self.count;
                return Ok(self.render_index(i));
            }
            i = (i + 1) % self.count;
            if i == start {
                return Err(CidrError::Exhausted(self.cluster_cidr()));
            }
        }
    }

    /// Frees every range.
    pub fn clear(&mut self) {
        self.used.clear();
        self.next = 0;
    }

    /// Frees a range; freeing one not taken is harmless.
    pub fn release(&mut self, cidr: &str) -> Result<(), CidrError> {
        let i = self.index_of(cidr)?;
        self.used.remove(&i);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_k3s_default_hands_out_consecutive_slash_24s() {
        let mut a = CidrAllocator::new("10.42.0.0/16", None).unwrap();
        assert_eq!(a.capacity(), 256);
        assert_eq!(a.allocate().unwrap(), "10.42.0.0/24");
        assert_eq!(a.allocate().unwrap(), "10.42.1.0/24");
        assert_eq!(a.allocate().unwrap(), "10.42.2.0/24");
        assert_eq!(a.in_use(), 3);
    }

    #[test]
    fn a_full_range_is_exhausted_and_a_release_frees_one() {
        let mut a = CidrAllocator::new("10.0.0.0/22", Some(24)).unwrap();
        let got: Vec<String> = (0..4).map(|_| a.allocate().unwrap()).collect();
        assert_eq!(
            got,
            ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]
        );
        assert_eq!(
            a.allocate(),
            Err(CidrError::Exhausted("10.0.0.0/22".into()))
        );
        a.release("10.0.2.0/24").unwrap();
        assert_eq!(a.allocate().unwrap(), "10.0.2.0/24");
        assert!(a.allocate().is_err());
    }

    #[test]
    fn a_released_range_is_reused_only_after_the_others() {
        let mut a = CidrAllocator::new("10.0.0.0/22", Some(24)).unwrap();
        let first = a.allocate().unwrap();
        a.release(&first).unwrap();
        assert_eq!(a.allocate().unwrap(), "10.0.1.0/24");
        assert_eq!(a.allocate().unwrap(), "10.0.2.0/24");
        assert_eq!(a.allocate().unwrap(), "10.0.3.0/24");
        assert_eq!(a.allocate().unwrap(), first);
    }

    #[test]
    fn pre_existing_assignments_are_never_handed_out_again() {
        let mut a = CidrAllocator::new("10.42.0.0/16", None).unwrap();
        assert_eq!(a.occupy("10.42.0.0/24"), Ok(true));
        assert_eq!(a.occupy("10.42.2.0/24"), Ok(true));
        assert_eq!(a.occupy("10.42.2.0/24"), Ok(false), "a duplicate claim");
        assert_eq!(a.allocate().unwrap(), "10.42.1.0/24");
        assert_eq!(a.allocate().unwrap(), "10.42.3.0/24");
        let mut seen = BTreeSet::from(["10.42.0.0/24".to_string(), "10.42.2.0/24".into()]);
        seen.insert("10.42.1.0/24".into());
        seen.insert("10.42.3.0/24".into());
        while let Ok(c) = a.allocate() {
            assert!(seen.insert(c.clone()), "{c} handed out twice");
        }
        assert_eq!(seen.len(), 256);
    }

    #[test]
    fn foreign_ranges_are_not_ours() {
        let mut a = CidrAllocator::new("10.42.0.0/16", None).unwrap();
        for bad in [
            "10.43.0.0/24",
            "10.42.0.0/25",
            "10.42.0.128/24",
            "fd00::/64",
            "10.42.0.0/16",
        ] {
            assert!(
                matches!(a.occupy(bad), Err(CidrError::NotInRange(_))),
                "{bad}"
            );
        }
        assert!(matches!(a.release("junk"), Err(CidrError::Malformed(_))));
        assert_eq!(a.in_use(), 0);
    }

    #[test]
    fn invalid_cluster_cidrs_are_rejected() {
        for bad in [
            "",
            "10.42.0.0",
            "10.42.0.0/",
            "10.42.0.0/33",
            "10.42.0.0/+16",
            "10.42.0/16",
            "banana/16",
            "10.42.0.0/16/1",
            "fd00::/129",
        ] {
            assert!(
                matches!(CidrAllocator::new(bad, None), Err(CidrError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            CidrAllocator::new("10.42.1.0/16", None).unwrap_err(),
            CidrError::HostBits {
                cidr: "10.42.1.0/16".into(),
                network: "10.42.0.0/16".into()
            }
        );
    }

    #[test]
    fn mask_sizes_must_fit_the_cluster_cidr() {
        assert!(matches!(
            CidrAllocator::new("10.42.0.0/25", None),
            Err(CidrError::MaskSize { mask: 24, .. })
        ));
        assert!(matches!(
            CidrAllocator::new("10.0.0.0/7", None),
            Err(CidrError::MaskSize { max: 23, .. })
        ));
        assert!(CidrAllocator::new("10.0.0.0/8", Some(24)).is_ok());
        assert!(matches!(
            CidrAllocator::new("10.42.0.0/16", Some(33)),
            Err(CidrError::MaskSize { .. })
        ));
        // One range for the whole cluster is allowed.
        let mut a = CidrAllocator::new("10.42.0.0/24", Some(24)).unwrap();
        assert_eq!(a.allocate().unwrap(), "10.42.0.0/24");
        assert!(a.allocate().is_err());
    }

    #[test]
    fn ipv6_cluster_cidrs_get_slash_64s() {
        let mut a = CidrAllocator::new("fd00:10:42::/56", None).unwrap();
        assert_eq!(a.capacity(), 256);
        assert_eq!(a.allocate().unwrap(), "fd00:10:42::/64");
        assert_eq!(a.allocate().unwrap(), "fd00:10:42:1::/64");
        assert_eq!(a.occupy("fd00:10:42:ff::/64"), Ok(true));
        assert!(matches!(
            a.occupy("fd00:10:43::/64"),
            Err(CidrError::NotInRange(_))
        ));
        assert!(matches!(
            CidrAllocator::new("::/0", None),
            Err(CidrError::MaskSize { .. })
        ));
        assert!(CidrAllocator::new("::/0", Some(16)).is_ok());
        let mut full = CidrAllocator::new("fd00::/128", Some(128)).unwrap();
        assert_eq!(full.allocate().unwrap(), "fd00::/128");
    }

    #[test]
    fn a_slash_32_cluster_gives_one_host_range() {
        let mut a = CidrAllocator::new("10.1.2.3/32", Some(32)).unwrap();
        assert_eq!(a.allocate().unwrap(), "10.1.2.3/32");
        assert!(a.allocate().is_err());
    }

    #[test]
    fn the_largest_split_is_sixteen_bits() {
        let mut a = CidrAllocator::new("10.0.0.0/8", Some(24)).unwrap();
        assert_eq!(a.capacity(), 65536);
        for _ in 0..65536 {
            a.allocate().unwrap();
        }
        assert!(a.allocate().is_err());
        a.release("10.255.255.0/24").unwrap();
        assert_eq!(a.allocate().unwrap(), "10.255.255.0/24");
        a.clear();
        assert_eq!(a.in_use(), 0);
        assert_eq!(a.allocate().unwrap(), "10.0.0.0/24");
    }
}
