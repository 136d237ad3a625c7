//! Pod IP allocation inside one node's IPv4 pod CIDR: addresses handed out in order, returned
//! when the pod goes. Entry point: [`PodIpam::from_cidr`].

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;

/// Offsets reserved at the start of every range: .0 is the network, .1 the bridge/gateway.
const FIRST_USABLE: u64 = 2;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error("pod CIDR {0:?} is not of the form a.b.c.d/n")]
    Malformed(String),
    #[error("pod CIDR {0:?} is IPv6; simulated nodes give pods IPv4 addresses only")]
    Ipv6(String),
    #[error("pod CIDR {0:?} has no room for pods (prefix longer than /30)")]
    TooSmall(String),
    #[error("no free pod addresses left")]
    Exhausted,
}

#[derive(Debug, Clone)]
pub struct PodIpam {
    cidr: String,
    base: u64,
    /// Addresses in the range; usable offsets are FIRST_USABLE..size-1 (the last is broadcast).
    size: u64,
    used: BTreeSet<u64>,
    by_pod: HashMap<String, u64>,
    next: u64,
}

impl PodIpam {
    /// The range `network/prefix`; host bits of `network` are ignored.
    pub fn new(network: Ipv4Addr, prefix: u8) -> Result<PodIpam, IpamError> {
        if prefix > 32 {
            return Err(IpamError::Malformed(format!("{network}/{prefix}")));
        }
        if prefix > 30 {
            return Err(IpamError::TooSmall(format!("{network}/{prefix}")));
        }
        let size = 1u64 << (32 - u32::from(prefix));
        let base = u64::from(u32::from(network)) & !(size - 1);
        let masked = Ipv4Addr::from(u32::try_from(base).unwrap_or(0));
        Ok(PodIpam {
            cidr: format!("{masked}/{prefix}"),
            base,
            size,
            used: BTreeSet::new(),
            by_pod: HashMap::new(),
            next: FIRST_USABLE,
        })
    }

    /// Parses `a.b.c.d/n` as a node's `spec.podCIDR` carries it.
    pub fn from_cidr(cidr: &str) -> Result<PodIpam, IpamError> {
        let bad = || IpamError::Malformed(cidr.to_string());
        let (ip, prefix) = cidr.split_once('/').ok_or_else(bad)?;
        if ip.contains(':') && ip.parse::<std::net::Ipv6Addr>().is_ok() {
            return Err(IpamError::Ipv6(cidr.to_string()));
        }
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        // Only plain decimal: `u8::from_str` would take "+24".
        if prefix.is_empty() || prefix.len() > 2 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        PodIpam::new(ip, prefix)
    }

    fn addr(&self, offset: u64) -> Ipv4Addr {
        // base + offset < 2^32 by construction (offset < size, base aligned to size).
        Ipv4Addr::from(u32::try_from(self.base + offset).unwrap_or(u32::MAX))
    }

    /// The range in canonical `a.b.c.d/n` form.
    pub fn cidr(&self) -> &str {
        &self.cidr
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let ip = u64::from(u32::from(ip));
        ip >= self.base && ip < self.base + self.size
    }

    /// The first free offset in `from..to`.
    fn free_in(&self, from: u64, to: u64) -> Option<u64> {
        let mut candidate = from;
        for &taken in self.used.range(from..to) {
            if taken != candidate {
                break;
            }
            candidate += 1;
        }
        (candidate < to).then_some(candidate)
    }

    /// The pod's address, allocating one the first time.
    pub fn allocate(&mut self, pod_uid: &str) -> Result<Ipv4Addr, IpamError> {
        if let Some(off) = self.by_pod.get(pod_uid) {
            return Ok(self.addr(*off));
        }
        let end = self.size - 1;
        let off = self
            .free_in(self.next, end)
            .or_else(|| self.free_in(FIRST_USABLE, self.next.min(end)))
            .ok_or(IpamError::Exhausted)?;
        self.used.insert(off);
        self.by_pod.insert(pod_uid.to_string(), off);
        // Round robin: a just-freed address is not reused at once, as host-local IPAM does.
        self.next = if off + 1 >= end {
            FIRST_USABLE
        } else {
            off + 1
        };
        Ok(self.addr(off))
    }

    /// Records an address the pod already has (after an agent restart, or from an earlier
    /// range); addresses outside this range are ignored. Returns whether it was recorded.
    pub fn claim(&mut self, pod_uid: &str, ip: Ipv4Addr) -> bool {
        if !self.contains(ip) {
            return false;
        }
        let off = u64::from(u32::from(ip)) - self.base;
        if let Some(old) = self.by_pod.insert(pod_uid.to_string(), off)
            && old != off
        {
            self.used.remove(&old);
        }
        self.used.insert(off);
        true
    }

    pub fn release(&mut self, pod_uid: &str) {
        if let Some(off) = self.by_pod.remove(pod_uid) {
            self.used.remove(&off);
        }
    }

    /// How many addresses are handed out or claimed.
    pub fn in_use(&self) -> usize {
        self.by_pod.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_start_after_the_gateway_and_are_stable_per_pod() {
        let mut ipam = PodIpam::from_cidr("10.42.3.0/24").unwrap();
        assert_eq!(ipam.allocate("a").unwrap(), Ipv4Addr::new(10, 42, 3, 2));
        assert_eq!(ipam.allocate("b").unwrap(), Ipv4Addr::new(10, 42, 3, 3));
        assert_eq!(ipam.allocate("a").unwrap(), Ipv4Addr::new(10, 42, 3, 2));
        assert_eq!(ipam.cidr(), "10.42.3.0/24");
    }

    #[test]
    fn released_addresses_are_reused_and_exhaustion_is_an_error() {
        let mut ipam = PodIpam::from_cidr("10.0.0.0/29").unwrap();
        let got: Vec<_> = (0..5)
            .map(|i| ipam.allocate(&i.to_string()).unwrap())
            .collect();
        assert_eq!(got.last(), Some(&Ipv4Addr::new(10, 0, 0, 6)));
        assert_eq!(ipam.allocate("x"), Err(IpamError::Exhausted));
        ipam.release("2");
        assert_eq!(ipam.allocate("x").unwrap(), Ipv4Addr::new(10, 0, 0, 4));
        assert_eq!(ipam.in_use(), 5);
    }

    #[test]
    fn a_freed_address_is_not_handed_out_again_before_the_range_wraps() {
        let mut ipam = PodIpam::from_cidr("10.0.0.0/24").unwrap();
        let a = ipam.allocate("a").unwrap();
        ipam.release("a");
        let b = ipam.allocate("b").unwrap();
        assert_ne!(a, b);
        assert_eq!(b, Ipv4Addr::new(10, 0, 0, 3));
    }

    #[test]
    fn a_slash_30_has_exactly_one_pod_address() {
        let mut ipam = PodIpam::from_cidr("192.168.7.4/30").unwrap();
        assert_eq!(ipam.allocate("a").unwrap(), Ipv4Addr::new(192, 168, 7, 6));
        assert_eq!(ipam.allocate("b"), Err(IpamError::Exhausted));
        ipam.release("a");
        assert_eq!(ipam.allocate("b").unwrap(), Ipv4Addr::new(192, 168, 7, 6));
    }

    #[test]
    fn host_bits_are_dropped_and_huge_ranges_do_not_overflow() {
        let mut ipam = PodIpam::from_cidr("10.42.3.77/24").unwrap();
        assert_eq!(ipam.cidr(), "10.42.3.0/24");
        assert_eq!(ipam.allocate("a").unwrap(), Ipv4Addr::new(10, 42, 3, 2));
        let mut all = PodIpam::from_cidr("0.0.0.0/0").unwrap();
        assert_eq!(all.allocate("a").unwrap(), Ipv4Addr::new(0, 0, 0, 2));
        assert!(all.claim("top", Ipv4Addr::new(255, 255, 255, 254)));
        let mut top = PodIpam::from_cidr("255.255.255.0/24").unwrap();
        for i in 0..253 {
            assert!(top.allocate(&i.to_string()).is_ok());
        }
        assert_eq!(top.allocate("over"), Err(IpamError::Exhausted));
    }

    #[test]
    fn claimed_addresses_are_not_handed_out_again() {
        let mut ipam = PodIpam::from_cidr("10.0.0.0/24").unwrap();
        assert!(ipam.claim("old", Ipv4Addr::new(10, 0, 0, 2)));
        assert!(!ipam.claim("elsewhere", Ipv4Addr::new(192, 168, 0, 1)));
        assert_eq!(ipam.allocate("new").unwrap(), Ipv4Addr::new(10, 0, 0, 3));
    }

    #[test]
    fn a_pod_claiming_a_second_address_frees_its_first() {
        let mut ipam = PodIpam::from_cidr("10.0.0.0/29").unwrap();
        ipam.claim("p", Ipv4Addr::new(10, 0, 0, 2));
        ipam.claim("p", Ipv4Addr::new(10, 0, 0, 5));
        assert_eq!(ipam.in_use(), 1);
        let got: Vec<_> = (0..4)
            .map(|i| ipam.allocate(&i.to_string()).unwrap())
            .collect();
        assert!(got.contains(&Ipv4Addr::new(10, 0, 0, 2)), "{got:?}");
        assert!(!got.contains(&Ipv4Addr::new(10, 0, 0, 5)), "{got:?}");
    }

    #[test]
    fn odd_and_hostile_cidrs_are_rejected_with_a_reason() {
        type Expect = fn(&IpamError) -> bool;
        let cases: &[(&str, Expect)] = &[
            ("fd00::/64", |e| matches!(e, IpamError::Ipv6(_))),
            ("2001:db8::/48", |e| matches!(e, IpamError::Ipv6(_))),
            ("10.0.0.0/31", |e| matches!(e, IpamError::TooSmall(_))),
            ("10.0.0.1/32", |e| matches!(e, IpamError::TooSmall(_))),
            ("10.0.0.0/33", |e| matches!(e, IpamError::Malformed(_))),
            ("10.0.0.0/255", |e| matches!(e, IpamError::Malformed(_))),
            ("10.0.0.0/99999999999999999999", |e| {
                matches!(e, IpamError::Malformed(_))
            }),
            ("10.0.0.0/+24", |e| matches!(e, IpamError::Malformed(_))),
            ("10.0.0.0/-1", |e| matches!(e, IpamError::Malformed(_))),
            ("10.0.0.0/", |e| matches!(e, IpamError::Malformed(_))),
            ("10.0.0.0", |e| matches!(e, IpamError::Malformed(_))),
            ("", |e| matches!(e, IpamError::Malformed(_))),
            ("/24", |e| matches!(e, IpamError::Malformed(_))),
            ("nonsense/24", |e| matches!(e, IpamError::Malformed(_))),
            ("10.0.0.256/24", |e| matches!(e, IpamError::Malformed(_))),
            (" 10.0.0.0/24", |e| matches!(e, IpamError::Malformed(_))),
            ("10.0.0.0/24/8", |e| matches!(e, IpamError::Malformed(_))),
            ("10.0.0.0/x", |e| matches!(e, IpamError::Malformed(_))),
            ("::ffff:10.0.0.0/120", |e| matches!(e, IpamError::Ipv6(_))),
            ("10.0.0.0/２４", |e| matches!(e, IpamError::Malformed(_))),
        ];
        for (cidr, expected) in cases {
            match PodIpam::from_cidr(cidr) {
                Ok(_) => panic!("{cidr:?} accepted"),
                Err(e) => {
                    assert!(expected(&e), "{cidr:?}: {e:?}");
                    assert!(e.to_string().contains("pod CIDR"), "{e}");
                }
            }
        }
        assert!(matches!(
            PodIpam::new(Ipv4Addr::UNSPECIFIED, 200),
            Err(IpamError::Malformed(_))
        ));
    }
}
