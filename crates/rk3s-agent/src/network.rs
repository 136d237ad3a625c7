//! One simulated node's pod network, as its CNI plugin would see it: the range it hands pod
//! addresses from (the Node's `spec.podCIDR` once the node IPAM controller has assigned one,
//! or the agent's own fallback range) and every pod address in use on the node. Pure; entry
//! point: [`NodeNetwork::new`].
//!
//! Like flannel in k3s, a node's network is *not ready* until its Node carries a pod CIDR:
//! pods that need an address wait (the fleet reports `NetworkNotReady`). The agent gives up
//! waiting only when it is clear nothing will assign one ([`NodeNetwork::use_fallback`]).
//! Once a pod CIDR is known, every new address comes from it; pods that already have an
//! address keep it (a real node does not renumber running sandboxes), and those addresses are
//! never handed out twice.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use crate::ipam::{IpamError, PodIpam};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    #[error("no pod CIDR assigned to the node yet")]
    NoPodCidr,
    #[error("the node's pod CIDR cannot be used")]
    Unusable(#[source] IpamError),
    #[error("no pod address left in {cidr}")]
    Exhausted { cidr: String },
}

/// Where the range in use comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSource {
    /// The Node's `spec.podCIDR(s)`.
    PodCidr,
    /// The agent's own range, for clusters without a node IPAM controller.
    Fallback,
}

/// What changed when the Node's pod CIDRs were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    /// Nothing: no CIDR yet, or the one already in use.
    Unchanged,
    /// A new range is in use; pods waiting for an address can go on.
    Changed,
    /// The node's CIDRs just became unusable; pods needing an address wait.
    Unusable(IpamError),
}

#[derive(Debug, Clone)]
pub struct NodeNetwork {
    fallback: PodIpam,
    range: Option<(RangeSource, PodIpam)>,
    /// Why the node's own CIDRs cannot be used, while that is so.
    unusable: Option<IpamError>,
    /// Every address of a pod on this node, in or outside the current range.
    held: HashMap<String, Ipv4Addr>,
}

impl NodeNetwork {
    /// A node whose network waits for a pod CIDR, with `fallback` kept for [`use_fallback`].
    ///
    /// [`use_fallback`]: NodeNetwork::use_fallback
    pub fn new(fallback: PodIpam) -> NodeNetwork {
        NodeNetwork {
            fallback,
            range: None,
            unusable: None,
            held: HashMap::new(),
        }
    }

    /// Reads the Node's assigned ranges (`spec.podCIDRs`, else `spec.podCIDR`). The first IPv4
    /// range is used (pods here are single-stack IPv4); empty input changes nothing, so a Node
    /// re-created without its CIDR keeps the old range until it gets a new one.
    pub fn assign(&mut self, cidrs: &[&str]) -> Assignment {
        let cidrs: Vec<&str> = cidrs.iter().copied().filter(|c| !c.is_empty()).collect();
        if cidrs.is_empty() {
            return Assignment::Unchanged;
        }
        let mut first_error = None;
        let mut chosen = None;
        for cidr in &cidrs {
            match PodIpam::from_cidr(cidr) {
                Ok(ipam) => {
                    chosen = Some(ipam);
                    break;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let Some(mut ipam) = chosen else {
            let error = first_error.unwrap_or(IpamError::Exhausted);
            self.range = None;
            if self.unusable.as_ref() == Some(&error) {
                return Assignment::Unchanged;
            }
            self.unusable = Some(error.clone());
            return Assignment::Unusable(error);
        };
        self.unusable = None;
        if let Some((RangeSource::PodCidr, current)) = &self.range
            && current.cidr() == ipam.cidr()
        {
            return Assignment::Unchanged;
        }
        for (uid, ip) in &self.held {
            ipam.claim(uid, *ip);
        }
        self.range = Some((RangeSource::PodCidr, ipam));
        Assignment::Changed
    }

    /// Whether the node has given up waiting or has a range: pods can get addresses.
    pub fn source(&self) -> Option<RangeSource> {
        self.range.as_ref().map(|(s, _)| *s)
    }

    /// Whether the Node carries a pod CIDR (usable or not): something assigns them.
    pub fn has_pod_cidr(&self) -> bool {
        self.unusable.is_some() || self.source() == Some(RangeSource::PodCidr)
    }

    /// Stops waiting for a pod CIDR and uses the fallback range; a no-op once the node has a
    /// CIDR of its own (usable or not), so addresses never leave a known pod CIDR.
    pub fn use_fallback(&mut self) -> bool {
        if self.range.is_some() || self.unusable.is_some() {
            return false;
        }
        let mut ipam = self.fallback.clone();
        for (uid, ip) in &self.held {
            ipam.claim(uid, *ip);
        }
        self.range = Some((RangeSource::Fallback, ipam));
        true
    }

    /// The pod's address from the current range, allocating one the first time (or when the
    /// one it was given is from an earlier range and was never reported).
    pub fn address(&mut self, pod_uid: &str) -> Result<Ipv4Addr, NetworkError> {
        let Some((_, ipam)) = self.range.as_mut() else {
            return Err(match &self.unusable {
                Some(e) => NetworkError::Unusable(e.clone()),
                None => NetworkError::NoPodCidr,
            });
        };
        let ip = ipam
            .allocate(pod_uid)
            .map_err(|_| NetworkError::Exhausted {
                cidr: ipam.cidr().to_string(),
            })?;
        self.held.insert(pod_uid.to_string(), ip);
        Ok(ip)
    }

    /// Records an address the pod already has, whatever range it is from.
    pub fn claim(&mut self, pod_uid: &str, ip: Ipv4Addr) {
        // An earlier address of the pod from this range is free again if this one is not in it.
        if let Some((_, ipam)) = self.range.as_mut()
            && !ipam.claim(pod_uid, ip)
        {
            ipam.release(pod_uid);
        }
        self.held.insert(pod_uid.to_string(), ip);
    }

    pub fn release(&mut self, pod_uid: &str) {
        self.held.remove(pod_uid);
        if let Some((_, ipam)) = self.range.as_mut() {
            ipam.release(pod_uid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> NodeNetwork {
        NodeNetwork::new(PodIpam::from_cidr("10.42.0.0/24").unwrap())
    }

    #[test]
    fn a_node_without_a_pod_cidr_is_not_ready() {
        let mut n = node();
        assert_eq!(n.address("a"), Err(NetworkError::NoPodCidr));
        assert_eq!(n.assign(&[]), Assignment::Unchanged);
        assert_eq!(n.assign(&[""]), Assignment::Unchanged);
        assert_eq!(n.address("a"), Err(NetworkError::NoPodCidr));
        assert!(!n.has_pod_cidr());
    }

    #[test]
    fn addresses_come_from_the_assigned_pod_cidr() {
        let mut n = node();
        assert_eq!(n.assign(&["10.77.5.0/24"]), Assignment::Changed);
        assert_eq!(n.source(), Some(RangeSource::PodCidr));
        assert_eq!(n.address("a").unwrap(), Ipv4Addr::new(10, 77, 5, 2));
        assert_eq!(n.address("a").unwrap(), Ipv4Addr::new(10, 77, 5, 2));
        assert_eq!(n.assign(&["10.77.5.0/24"]), Assignment::Unchanged);
        assert!(!n.use_fallback());
        assert_eq!(n.address("b").unwrap(), Ipv4Addr::new(10, 77, 5, 3));
    }

    #[test]
    fn fallback_is_only_taken_while_no_pod_cidr_is_known() {
        let mut n = node();
        assert!(n.use_fallback());
        assert_eq!(n.source(), Some(RangeSource::Fallback));
        let old = n.address("old").unwrap();
        assert_eq!(old, Ipv4Addr::new(10, 42, 0, 2));
        assert_eq!(n.assign(&["10.77.9.0/24"]), Assignment::Changed);
        let new = n.address("new").unwrap();
        assert_eq!(new, Ipv4Addr::new(10, 77, 9, 2));
        // The pod started before keeps its reported address, outside the new range.
        n.claim("old", old);
        assert_eq!(n.address("next").unwrap(), Ipv4Addr::new(10, 77, 9, 3));
        assert!(!n.use_fallback());
        assert_eq!(n.source(), Some(RangeSource::PodCidr));
    }

    #[test]
    fn a_new_range_never_reuses_addresses_still_held() {
        let mut n = node();
        n.use_fallback();
        let a = n.address("a").unwrap();
        n.claim("restarted", Ipv4Addr::new(10, 42, 0, 3));
        // The controller hands out the very range the fallback used.
        assert_eq!(n.assign(&["10.42.0.0/24"]), Assignment::Changed);
        let b = n.address("b").unwrap();
        assert_ne!(a, b);
        assert_ne!(b, Ipv4Addr::new(10, 42, 0, 3));
        assert_eq!(b, Ipv4Addr::new(10, 42, 0, 4));
        n.release("a");
        n.release("restarted");
        // 253 usable addresses, "b" holds one.
        let got: Vec<_> = (0..252)
            .map(|i| n.address(&format!("p{i}")).unwrap())
            .collect();
        assert!(got.contains(&a));
        assert!(matches!(
            n.address("over"),
            Err(NetworkError::Exhausted { .. })
        ));
    }

    #[test]
    fn addresses_claimed_before_the_range_is_known_are_kept_free() {
        let mut n = node();
        n.claim("running", Ipv4Addr::new(10, 77, 1, 2));
        n.assign(&["10.77.1.0/24"]);
        assert_eq!(n.address("new").unwrap(), Ipv4Addr::new(10, 77, 1, 3));
        assert_eq!(n.address("running").unwrap(), Ipv4Addr::new(10, 77, 1, 2));
    }

    #[test]
    fn dual_stack_cidrs_use_the_ipv4_range() {
        let mut n = node();
        assert_eq!(
            n.assign(&["fd00:42::/64", "10.77.3.0/24"]),
            Assignment::Changed
        );
        assert_eq!(n.address("a").unwrap(), Ipv4Addr::new(10, 77, 3, 2));
    }

    #[test]
    fn unusable_cidrs_keep_pods_waiting_with_the_reason_and_never_fall_back() {
        for bad in [
            "fd00::/64",
            "10.0.0.0/31",
            "10.0.0.7/32",
            "garbage",
            "10.0.0.0/64",
        ] {
            let mut n = node();
            let got = n.assign(&[bad]);
            assert!(matches!(got, Assignment::Unusable(_)), "{bad}: {got:?}");
            assert_eq!(n.assign(&[bad]), Assignment::Unchanged, "{bad}");
            assert!(n.has_pod_cidr());
            assert!(!n.use_fallback(), "{bad}");
            let err = n.address("a").unwrap_err();
            assert!(matches!(err, NetworkError::Unusable(_)), "{bad}: {err:?}");
            let source = std::error::Error::source(&err).map(ToString::to_string);
            assert!(
                source.is_some_and(|s| s.contains(bad)),
                "{bad}: the reason names the CIDR"
            );
        }
    }

    #[test]
    fn a_range_that_becomes_unusable_stops_allocation_until_fixed() {
        let mut n = node();
        n.assign(&["10.77.3.0/24"]);
        let a = n.address("a").unwrap();
        assert!(matches!(n.assign(&["nope"]), Assignment::Unusable(_)));
        assert!(n.address("b").is_err());
        assert_eq!(n.assign(&["10.77.4.0/24"]), Assignment::Changed);
        assert_eq!(n.address("b").unwrap(), Ipv4Addr::new(10, 77, 4, 2));
        // "a" keeps its old address: held, though outside the new range.
        n.claim("a", a);
        assert_ne!(n.address("c").unwrap(), a);
    }
}
