//! Quota admission as pure functions: ResourceQuota accounting ([`check_quota`], [`Usage`]) and
//! LimitRange defaulting and enforcement ([`apply_limit_ranges`]). Objects are the API's JSON.

mod admission;
mod amount;
mod limit_range;
mod pod;
mod usage;

pub use admission::{QuotaDecision, QuotaError, check_quota, quota_status};
pub use limit_range::{LimitRangeError, aggregate_message, apply_limit_ranges};
pub use usage::{Usage, usage_of};

#[cfg(test)]
mod tests;
