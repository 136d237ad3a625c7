//! The pure RBAC evaluator: a [`Policy`] (roles, cluster roles and their bindings) answers
//! whether a user may do something and which rules apply to them, with upstream's semantics.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;

use serde_json::{Value, json};

use super::attributes::{Attributes, Decision};
use super::policy::{Binding, PolicyRule, Role, Subject, name_and_namespace};

const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// The four RBAC kinds a [`Policy`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    Role,
    ClusterRole,
    RoleBinding,
    ClusterRoleBinding,
}

/// A snapshot of the RBAC objects, indexed for evaluation.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// namespace → name → role.
    roles: HashMap<String, HashMap<String, Role>>,
    cluster_roles: HashMap<String, Role>,
    /// namespace → name → binding; ordered so that reasons are deterministic.
    role_bindings: HashMap<String, BTreeMap<String, Binding>>,
    cluster_role_bindings: BTreeMap<String, Binding>,
}

/// Which binding granted a rule, for the allow reason.
struct Source<'a> {
    binding_name: &'a str,
    binding_namespace: &'a str,
    binding: &'a Binding,
    subject: &'a Subject,
}

impl Source<'_> {
    fn describe(&self) -> String {
        let subject = describe_subject(self.subject, self.binding_namespace);
        let role_ref = &self.binding.role_ref;
        if self.binding_namespace.is_empty() {
            format!(
                "ClusterRoleBinding {:?} of {} {:?} to {subject}",
                self.binding_name, role_ref.kind, role_ref.name
            )
        } else {
            format!(
                "RoleBinding {:?} of {} {:?} to {subject}",
                format!("{}/{}", self.binding_name, self.binding_namespace),
                role_ref.kind,
                role_ref.name
            )
        }
    }
}

fn describe_subject(s: &Subject, binding_namespace: &str) -> String {
    if s.kind == "ServiceAccount" {
        let ns = if s.namespace.is_empty() {
            binding_namespace
        } else {
            &s.namespace
        };
        format!("{} {:?}", s.kind, format!("{}/{}", s.name, ns))
    } else {
        format!("{} {:?}", s.kind, s.name)
    }
}

/// What the visitor sees: the rules of one applicable binding, or why a binding's role could
/// not be resolved.
enum Visit<'a> {
    Rules(Source<'a>, &'a [PolicyRule]),
    Error(String),
}

impl Policy {
    pub fn new() -> Policy {
        Policy::default()
    }

    /// Builds a policy from objects' JSON; names and namespaces come from their metadata.
    pub fn from_json(
        roles: &[Value],
        cluster_roles: &[Value],
        role_bindings: &[Value],
        cluster_role_bindings: &[Value],
    ) -> Policy {
        let mut p = Policy::new();
        for (kind, objects) in [
            (PolicyKind::Role, roles),
            (PolicyKind::ClusterRole, cluster_roles),
            (PolicyKind::RoleBinding, role_bindings),
            (PolicyKind::ClusterRoleBinding, cluster_role_bindings),
        ] {
            for obj in objects {
                let (name, namespace) = name_and_namespace(obj);
                p.put(kind, &namespace, &name, obj);
            }
        }
        p
    }

    /// Adds or replaces one object (`namespace` is ignored for cluster-scoped kinds).
    pub fn put(&mut self, kind: PolicyKind, namespace: &str, name: &str, obj: &Value) {
        let name = name.to_string();
        match kind {
            PolicyKind::Role => {
                self.roles
                    .entry(namespace.to_string())
                    .or_default()
                    .insert(name, Role::from_json(obj));
            }
            PolicyKind::ClusterRole => {
                self.cluster_roles.insert(name, Role::from_json(obj));
            }
            PolicyKind::RoleBinding => {
                self.role_bindings
                    .entry(namespace.to_string())
                    .or_default()
                    .insert(name, Binding::from_json(obj));
            }
            PolicyKind::ClusterRoleBinding => {
                self.cluster_role_bindings
                    .insert(name, Binding::from_json(obj));
            }
        }
    }

    pub fn remove(&mut self, kind: PolicyKind, namespace: &str, name: &str) {
        match kind {
            PolicyKind::Role => {
                if let Some(m) = self.roles.get_mut(namespace) {
                    m.remove(name);
                    if m.is_empty() {
                        self.roles.remove(namespace);
                    }
                }
            }
            PolicyKind::ClusterRole => {
                self.cluster_roles.remove(name);
            }
            PolicyKind::RoleBinding => {
                if let Some(m) = self.role_bindings.get_mut(namespace) {
                    m.remove(name);
                    if m.is_empty() {
                        self.role_bindings.remove(namespace);
                    }
                }
            }
            PolicyKind::ClusterRoleBinding => {
                self.cluster_role_bindings.remove(name);
            }
        }
    }

    /// Drops every object of one kind (before a relist replaces them).
    pub fn clear(&mut self, kind: PolicyKind) {
        match kind {
            PolicyKind::Role => self.roles.clear(),
            PolicyKind::ClusterRole => self.cluster_roles.clear(),
            PolicyKind::RoleBinding => self.role_bindings.clear(),
            PolicyKind::ClusterRoleBinding => self.cluster_role_bindings.clear(),
        }
    }

    /// RBAC's answer for `user` in `groups`. Superusers are not special here: see
    /// [`super::RbacAuthorizer::authorize`] for the whole chain.
    pub fn authorize(&self, user: &str, groups: &[String], attrs: &Attributes) -> Decision {
        let mut errors = Vec::new();
        let mut allowed_by = None;
        self.visit(user, groups, &attrs.namespace, |visit| match visit {
            Visit::Rules(source, rules) => {
                if rules.iter().any(|r| rule_allows(attrs, r)) {
                    allowed_by = Some(source.describe());
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            }
            Visit::Error(e) => {
                errors.push(e);
                ControlFlow::Continue(())
            }
        });
        match allowed_by {
            Some(by) => Decision::allow(format!("RBAC: allowed by {by}")),
            None if errors.is_empty() => Decision::deny(""),
            None => Decision::deny(format!("RBAC: {}", aggregate_errors(&errors))),
        }
    }

    /// Every rule that applies to `user` in `namespace` (cluster-wide ones too), as a
    /// SelfSubjectRulesReview reports them.
    pub fn rules_for(&self, user: &str, groups: &[String], namespace: &str) -> RulesReview {
        let mut review = RulesReview::default();
        let mut errors = Vec::new();
        self.visit(user, groups, namespace, |visit| {
            match visit {
                Visit::Rules(_, rules) => {
                    for r in rules {
                        review.add(r);
                    }
                }
                Visit::Error(e) => errors.push(e),
            }
            ControlFlow::Continue(())
        });
        if !errors.is_empty() {
            review.incomplete = true;
            review.evaluation_error = aggregate_errors(&errors);
        }
        review
    }

    /// Calls `visitor` with the rules of every binding that applies to the user: cluster role
    /// bindings first, then the role bindings of `namespace`.
    fn visit<'a>(
        &'a self,
        user: &str,
        groups: &[String],
        namespace: &'a str,
        mut visitor: impl FnMut(Visit<'a>) -> ControlFlow<()>,
    ) {
        let scopes = self
            .cluster_role_bindings
            .iter()
            .map(|(name, b)| ("", name, b))
            .chain(
                self.role_bindings
                    .get(namespace)
                    .filter(|_| !namespace.is_empty())
                    .into_iter()
                    .flat_map(|m| m.iter().map(|(name, b)| (namespace, name, b))),
            );
        for (binding_namespace, name, binding) in scopes {
            let Some(subject) = binding
                .subjects
                .iter()
                .find(|s| applies_to(s, user, groups, binding_namespace))
            else {
                continue;
            };
            let visit = match self.role_rules(binding, binding_namespace) {
                Ok(rules) => Visit::Rules(
                    Source {
                        binding_name: name,
                        binding_namespace,
                        binding,
                        subject,
                    },
                    rules,
                ),
                Err(e) => Visit::Error(e),
            };
            if visitor(visit).is_break() {
                return;
            }
        }
    }

    fn role_rules(
        &self,
        binding: &Binding,
        binding_namespace: &str,
    ) -> Result<&[PolicyRule], String> {
        let name = &binding.role_ref.name;
        match binding.role_ref.kind.as_str() {
            // A cluster role binding has no namespace to find a Role in.
            "Role" => (!binding_namespace.is_empty())
                .then(|| self.roles.get(binding_namespace))
                .flatten()
                .and_then(|m| m.get(name))
                .map(|r| r.rules.as_slice())
                .ok_or_else(|| format!("role.rbac.authorization.k8s.io {name:?} not found")),
            "ClusterRole" => self
                .cluster_roles
                .get(name)
                .map(|r| r.rules.as_slice())
                .ok_or_else(|| format!("clusterrole.rbac.authorization.k8s.io {name:?} not found")),
            other => Err(format!("unsupported role reference kind: {other:?}")),
        }
    }
}

/// Upstream's rendering of an error list: one error bare, several in brackets.
fn aggregate_errors(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// Whether a binding subject names this user. A ServiceAccount subject without a namespace
/// means the binding's own namespace.
pub fn applies_to(
    subject: &Subject,
    user: &str,
    groups: &[String],
    binding_namespace: &str,
) -> bool {
    match subject.kind.as_str() {
        "User" => subject.name == user,
        "Group" => groups.contains(&subject.name),
        "ServiceAccount" => {
            let ns = if subject.namespace.is_empty() {
                binding_namespace
            } else {
                &subject.namespace
            };
            !ns.is_empty()
                && user
                    .strip_prefix(SERVICE_ACCOUNT_PREFIX)
                    .and_then(|rest| rest.strip_prefix(ns))
                    .and_then(|rest| rest.strip_prefix(':'))
                    == Some(subject.name.as_str())
        }
        _ => false,
    }
}

/// Whether one rule grants the request.
pub fn rule_allows(attrs: &Attributes, rule: &PolicyRule) -> bool {
    match &attrs.path {
        None => {
            verb_matches(rule, &attrs.verb)
                && api_group_matches(rule, &attrs.api_group)
                && resource_matches(rule, &attrs.resource, &attrs.subresource)
                && resource_name_matches(rule, &attrs.name)
        }
        Some(path) => verb_matches(rule, &attrs.verb) && non_resource_url_matches(rule, path),
    }
}

fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    rule.api_groups.iter().any(|g| g == "*" || g == group)
}

fn resource_matches(rule: &PolicyRule, resource: &str, subresource: &str) -> bool {
    rule.resources.iter().any(|r| {
        if r == "*" {
            return true;
        }
        if subresource.is_empty() {
            return r == resource;
        }
        // `pods/log` names one subresource of one resource, `*/scale` one subresource of all.
        match r.split_once('/') {
            Some((res, sub)) => sub == subresource && (res == resource || res == "*"),
            None => false,
        }
    })
}

/// A rule listing names grants only requests for one of those names (never collections).
fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| n == name)
}

fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls.iter().any(|u| {
        u == "*"
            || u == path
            || u.strip_suffix('*')
                .is_some_and(|prefix| path.starts_with(prefix))
    })
}

/// A resource rule as SelfSubjectRulesReview reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
}

/// A non-resource rule as SelfSubjectRulesReview reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonResourceRule {
    pub verbs: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

/// The rules that apply to a user in a namespace; `incomplete` when some binding's role could
/// not be resolved (`evaluation_error` says which).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesReview {
    pub resource_rules: Vec<ResourceRule>,
    pub non_resource_rules: Vec<NonResourceRule>,
    pub incomplete: bool,
    pub evaluation_error: String,
}

impl RulesReview {
    /// What a superuser may do: everything.
    pub fn everything() -> RulesReview {
        let all = vec!["*".to_string()];
        RulesReview {
            resource_rules: vec![ResourceRule {
                verbs: all.clone(),
                api_groups: all.clone(),
                resources: all.clone(),
                resource_names: Vec::new(),
            }],
            non_resource_rules: vec![NonResourceRule {
                verbs: all.clone(),
                non_resource_urls: all,
            }],
            incomplete: false,
            evaluation_error: String::new(),
        }
    }

    /// A rule may carry both resources and non-resource URLs; each half is reported.
    fn add(&mut self, r: &PolicyRule) {
        if !r.resources.is_empty() {
            self.resource_rules.push(ResourceRule {
                verbs: r.verbs.clone(),
                api_groups: r.api_groups.clone(),
                resources: r.resources.clone(),
                resource_names: r.resource_names.clone(),
            });
        }
        if !r.non_resource_urls.is_empty() {
            self.non_resource_rules.push(NonResourceRule {
                verbs: r.verbs.clone(),
                non_resource_urls: r.non_resource_urls.clone(),
            });
        }
    }

    /// The `status` of a SelfSubjectRulesReview (authorization.k8s.io/v1).
    pub fn status_json(&self) -> Value {
        let omit_empty = |v: &[String]| (!v.is_empty()).then(|| json!(v));
        let resource_rules: Vec<Value> = self
            .resource_rules
            .iter()
            .map(|r| {
                let mut m = serde_json::Map::new();
                m.insert("verbs".into(), json!(r.verbs));
                for (k, v) in [
                    ("apiGroups", &r.api_groups),
                    ("resources", &r.resources),
                    ("resourceNames", &r.resource_names),
                ] {
                    if let Some(v) = omit_empty(v) {
                        m.insert(k.into(), v);
                    }
                }
                Value::Object(m)
            })
            .collect();
        let non_resource_rules: Vec<Value> = self
            .non_resource_rules
            .iter()
            .map(|r| {
                let mut m = serde_json::Map::new();
                m.insert("verbs".into(), json!(r.verbs));
                if let Some(v) = omit_empty(&r.non_resource_urls) {
                    m.insert("nonResourceURLs".into(), v);
                }
                Value::Object(m)
            })
            .collect();
        let mut status = json!({
            "resourceRules": resource_rules,
            "nonResourceRules": non_resource_rules,
            "incomplete": self.incomplete,
        });
        if !self.evaluation_error.is_empty()
            && let Some(m) = status.as_object_mut()
        {
            m.insert("evaluationError".into(), json!(self.evaluation_error));
        }
        status
    }
}
