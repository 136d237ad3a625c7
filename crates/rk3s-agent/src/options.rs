//! Settings of a simulated node fleet, validated once. Entry point: [`SimulateOptions`].

use std::time::Duration;

use rk3s_core::quantity::Quantity;

/// How many nodes to simulate and what each looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulateOptions {
    pub count: usize,
    /// Node names are `<name_prefix><index>`, index from 0.
    pub name_prefix: String,
    /// Capacity and allocatable cpu, as a quantity (`4`, `3500m`).
    pub cpu: String,
    /// Capacity and allocatable memory, as a quantity (`8Gi`).
    pub memory: String,
    pub ephemeral_storage: String,
    /// Maximum pods per node.
    pub pods: u32,
    /// Labels added to every node (besides `kubernetes.io/hostname`, `kubernetes.io/os`,
    /// `kubernetes.io/arch`).
    pub labels: Vec<(String, String)>,
    /// How often each node's Lease is renewed (upstream kubelet: 10s).
    pub lease_interval: Duration,
    /// How often each node's status (conditions' heartbeat) is written (upstream: 1m).
    pub status_interval: Duration,
    /// How long a container stays `ContainerCreating`; zero goes straight to Running.
    pub start_delay: Duration,
    /// How long pods on nodes without `spec.podCIDR` wait for the node IPAM controller
    /// (`NetworkNotReady`) before, if no node of the fleet has been given one, the fleet gives
    /// up and uses its own fallback ranges (servers with `--disable-controller-manager`).
    /// Zero: fall back at once.
    pub pod_cidr_wait: Duration,
    /// Concurrent API writes of the fleet.
    pub parallelism: usize,
    /// Record the kubelet's pod events (Pulled, Created, Started, Killing).
    pub events: bool,
}

impl Default for SimulateOptions {
    fn default() -> Self {
        SimulateOptions {
            count: 1,
            name_prefix: "sim-node-".into(),
            cpu: "4".into(),
            memory: "8Gi".into(),
            ephemeral_storage: "100Gi".into(),
            pods: 110,
            labels: Vec::new(),
            lease_interval: Duration::from_secs(10),
            status_interval: Duration::from_secs(60),
            start_delay: Duration::ZERO,
            pod_cidr_wait: Duration::from_secs(5),
            parallelism: 32,
            events: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("invalid {field} quantity {value:?}")]
    Quantity { field: &'static str, value: String },
    #[error("name prefix {0:?} does not make valid node names")]
    NamePrefix(String),
    #[error("at most {max} simulated nodes are supported")]
    TooMany { max: usize },
}

/// Fake pod CIDRs are 10.<42+i/256>.<i%256>.0/24 and stay inside 10.42.0.0/16..10.255.
pub const MAX_NODES: usize = (256 - 42) * 256;

impl SimulateOptions {
    pub fn validate(&self) -> Result<(), OptionsError> {
        for (field, value) in [
            ("cpu", &self.cpu),
            ("memory", &self.memory),
            ("ephemeral-storage", &self.ephemeral_storage),
        ] {
            if Quantity::parse(value).is_err() {
                return Err(OptionsError::Quantity {
                    field,
                    value: value.clone(),
                });
            }
        }
        let sample = format!("{}{}", self.name_prefix, self.count);
        let valid = !sample.is_empty()
            && sample.len() <= 253
            && sample
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && sample.starts_with(|c: char| c.is_ascii_alphanumeric());
        if !valid {
            return Err(OptionsError::NamePrefix(self.name_prefix.clone()));
        }
        if self.count > MAX_NODES {
            return Err(OptionsError::TooMany { max: MAX_NODES });
        }
        Ok(())
    }

    pub fn node_name(&self, index: usize) -> String {
        format!("{}{index}", self.name_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(SimulateOptions::default().validate(), Ok(()));
    }

    #[test]
    fn bad_quantities_are_rejected() {
        for bad in ["", "lots", "4x", "1..2", "Gi", "1e"] {
            let o = SimulateOptions {
                cpu: bad.into(),
                ..Default::default()
            };
            assert!(o.validate().is_err(), "{bad:?} accepted");
        }
        for good in ["4", "3500m", "1.5", "8Gi", "1e3"] {
            let o = SimulateOptions {
                memory: good.into(),
                ..Default::default()
            };
            assert_eq!(o.validate(), Ok(()), "{good:?} rejected");
        }
    }

    #[test]
    fn node_names_must_be_dns_names() {
        for bad in ["Sim-", "sim_node", "-x", "a/b"] {
            let o = SimulateOptions {
                name_prefix: bad.into(),
                ..Default::default()
            };
            assert!(
                matches!(o.validate(), Err(OptionsError::NamePrefix(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn fleet_size_is_bounded() {
        let o = SimulateOptions {
            count: MAX_NODES + 1,
            ..Default::default()
        };
        assert_eq!(o.validate(), Err(OptionsError::TooMany { max: MAX_NODES }));
    }
}
