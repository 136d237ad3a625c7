//! rk3s scheduler: assigns pending pods to nodes with upstream's default filters and scores.
//! The decision is pure ([`schedule::schedule`] over a [`snapshot::Snapshot`]); [`run::run`] wires
//! it to the API with reflector caches, a queue of unscheduled pods and the `pods/binding` call.

pub mod affinity;
pub mod filter;
pub mod placement;
pub mod preemption;
pub mod queue;
pub mod report;
pub mod resources;
pub mod run;
pub mod schedule;
pub mod score;
pub mod snapshot;
pub mod spread;
pub mod volumes;

#[cfg(test)]
mod tests;

pub use filter::{PodContext, Reason, filter};
pub use run::{SchedulerError, run};
pub use schedule::{FitError, schedule};
pub use score::score;
pub use snapshot::{NodeInfo, Snapshot};
