//! Authorization: RBAC (roles, bindings, aggregation, the bootstrap policy) and the Node
//! authorizer. Entry points: [`RbacAuthorizer::start`] then [`RbacAuthorizer::authorize`];
//! the pure evaluator is [`Policy`].

mod aggregate;
mod attributes;
mod bootstrap;
mod evaluator;
mod live;
mod node;
mod policy;
mod reconcile;

pub use aggregate::aggregate;
pub use attributes::{Attributes, Decision};
pub use bootstrap::bootstrap_objects;
pub use evaluator::{NonResourceRule, Policy, PolicyKind, ResourceRule, RulesReview};
pub use live::{RbacAuthorizer, RbacError};
pub use node::{NodeGraph, node_name};
pub use policy::{Binding, PolicyRule, Role, RoleRef, Subject};
pub use reconcile::{
    ReconcileError, ensure_bootstrap_policy, reconcile_aggregation, run_aggregation,
};

/// Members of this group may do anything, as upstream's privileged-group authorizer allows.
pub const SUPERUSER_GROUP: &str = "system:masters";

#[cfg(test)]
mod tests;
