//! Pod IP allocation inside one node's /24 (or any IPv4 CIDR): addresses handed out in order,
//! returned when the pod goes. Entry point: [`PodIpam::new`].

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error("pod CIDR {0:?} is not an IPv4 network this agent can use")]
    BadCidr(String),
    #[error("no free pod addresses left")]
    Exhausted,
}

#[derive(Debug, Clone)]
pub struct PodIpam {
    base: u32,
    /// Usable host offsets: 2..size-1 (.0 network, .1 gateway, last broadcast).
    size: u32,
    used: BTreeSet<u32>,
    by_pod: HashMap<String, u32>,
    next: u32,
}

impl PodIpam {
    pub fn new(network: Ipv4Addr, prefix: u8) -> Result<PodIpam, IpamError> {
        if !(8..=29).contains(&prefix) {
            return Err(IpamError::BadCidr(format!("{network}/{prefix}")));
        }
        let size = 1u32 << (32 - prefix);
        let base = u32::from(network) & !(size - 1);
        Ok(PodIpam {
            base,
            size,
            used: BTreeSet::new(),
            by_pod: HashMap::new(),
            next: 2,
        })
    }

    /// Parses `a.b.c.d/n`.
    pub fn from_cidr(cidr: &str) -> Result<PodIpam, IpamError> {
        let bad = || IpamError::BadCidr(cidr.to_string());
        let (ip, prefix) = cidr.split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        PodIpam::new(ip, prefix)
    }

    /// The pod's address, allocating one the first time.
    pub fn allocate(&mut self, pod_uid: &str) -> Result<Ipv4Addr, IpamError> {
        if let Some(off) = self.by_pod.get(pod_uid) {
            return Ok(Ipv4Addr::from(self.base + off));
        }
        let usable = self.size - 3;
        for _ in 0..usable {
            let off = self.next;
            self.next = if self.next + 1 >= self.size - 1 {
                2
            } else {
                self.next + 1
            };
            if self.used.insert(off) {
                self.by_pod.insert(pod_uid.to_string(), off);
                return Ok(Ipv4Addr::from(self.base + off));
            }
        }
        Err(IpamError::Exhausted)
    }

    /// Records an address the pod already has (after an agent restart).
    pub fn claim(&mut self, pod_uid: &str, ip: Ipv4Addr) {
        let ip = u32::from(ip);
        if ip >= self.base && ip < self.base + self.size {
            let off = ip - self.base;
            self.used.insert(off);
            self.by_pod.insert(pod_uid.to_string(), off);
        }
    }

    pub fn release(&mut self, pod_uid: &str) {
        if let Some(off) = self.by_pod.remove(pod_uid) {
            self.used.remove(&off);
        }
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
    }

    #[test]
    fn claimed_addresses_are_not_handed_out_again() {
        let mut ipam = PodIpam::from_cidr("10.0.0.0/24").unwrap();
        ipam.claim("old", Ipv4Addr::new(10, 0, 0, 2));
        ipam.claim("elsewhere", Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(ipam.allocate("new").unwrap(), Ipv4Addr::new(10, 0, 0, 3));
    }

    #[test]
    fn malformed_cidrs_are_rejected() {
        for bad in [
            "",
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0.0/x",
            "fd00::/64",
            "10.0.0.0/31",
            "nonsense/24",
        ] {
            assert!(PodIpam::from_cidr(bad).is_err(), "{bad:?}");
        }
    }
}
