//! The RBAC objects as the evaluator sees them, parsed leniently from stored JSON: a malformed
//! field reads as empty (granting nothing) rather than failing, since validation happened at
//! write time and a bad object must not take the authorizer down.

use serde_json::{Map, Value, json};

/// One `rules[]` entry of a Role or ClusterRole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

impl PolicyRule {
    pub fn from_json(value: &Value) -> PolicyRule {
        PolicyRule {
            verbs: strings(value.get("verbs")),
            api_groups: strings(value.get("apiGroups")),
            resources: strings(value.get("resources")),
            resource_names: strings(value.get("resourceNames")),
            non_resource_urls: strings(value.get("nonResourceURLs")),
        }
    }

    /// The wire form, omitting empty lists as upstream's `omitempty` does.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: &[String]| {
            if !v.is_empty() {
                m.insert(k.to_string(), json!(v));
            }
        };
        put("verbs", &self.verbs);
        put("apiGroups", &self.api_groups);
        put("resources", &self.resources);
        put("resourceNames", &self.resource_names);
        put("nonResourceURLs", &self.non_resource_urls);
        Value::Object(m)
    }
}

/// The rules of a Role or ClusterRole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Role {
    pub rules: Vec<PolicyRule>,
}

impl Role {
    pub fn from_json(value: &Value) -> Role {
        Role {
            rules: rules_from_json(value.get("rules")),
        }
    }
}

/// Parses a `rules` list; anything but a list is no rules.
pub fn rules_from_json(value: Option<&Value>) -> Vec<PolicyRule> {
    match value {
        Some(Value::Array(items)) => items.iter().map(PolicyRule::from_json).collect(),
        _ => Vec::new(),
    }
}

/// A binding's `roleRef`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleRef {
    /// `Role` or `ClusterRole`.
    pub kind: String,
    pub name: String,
}

/// A binding's `subjects[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// `User`, `Group` or `ServiceAccount`.
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

/// A RoleBinding or ClusterRoleBinding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binding {
    pub role_ref: RoleRef,
    pub subjects: Vec<Subject>,
}

impl Binding {
    pub fn from_json(value: &Value) -> Binding {
        let role_ref = value.get("roleRef");
        let subjects = match value.get("subjects") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|s| Subject {
                    kind: string(s.get("kind")),
                    name: string(s.get("name")),
                    namespace: string(s.get("namespace")),
                })
                .collect(),
            _ => Vec::new(),
        };
        Binding {
            role_ref: RoleRef {
                kind: string(role_ref.and_then(|r| r.get("kind"))),
                name: string(role_ref.and_then(|r| r.get("name"))),
            },
            subjects,
        }
    }
}

/// `metadata.name` and `metadata.namespace` of an object (empty when absent).
pub fn name_and_namespace(value: &Value) -> (String, String) {
    let meta = value.get("metadata");
    (
        string(meta.and_then(|m| m.get("name"))),
        string(meta.and_then(|m| m.get("namespace"))),
    )
}

fn string(value: Option<&Value>) -> String {
    value
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}
