//! rk3s agent: simulated nodes that register, heartbeat and run their pods through a
//! kubelet-like pod worker. Entry point: [`simulator::run_simulated`].

pub mod ipam;
pub mod network;
pub mod node;
pub mod options;
pub mod pod_worker;
pub mod simulator;

pub use options::SimulateOptions;
pub use simulator::{AgentError, run_simulated};
