//! What a request asks to do ([`Attributes`]) and what the authorizer answered ([`Decision`]).

/// The authorization-relevant parts of one request.
///
/// A resource request has `path == None`; `api_group` is `""` for the core group,
/// `namespace` is `""` for cluster-scoped requests and for lists across all namespaces, and
/// `name` is `""` for collection requests (list, watch, create without a known name). A
/// non-resource request (`/healthz`, `/api`) has `path == Some(..)` and only `verb` besides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    pub verb: String,
    pub api_group: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    pub namespace: String,
    pub path: Option<String>,
}

impl Attributes {
    /// A resource request.
    pub fn resource(verb: &str, api_group: &str, resource: &str, namespace: &str) -> Attributes {
        Attributes {
            verb: verb.to_string(),
            api_group: api_group.to_string(),
            resource: resource.to_string(),
            namespace: namespace.to_string(),
            ..Attributes::default()
        }
    }

    /// A non-resource request (`path` as requested, without the query).
    pub fn non_resource(verb: &str, path: &str) -> Attributes {
        Attributes {
            verb: verb.to_string(),
            path: Some(path.to_string()),
            ..Attributes::default()
        }
    }

    pub fn with_name(mut self, name: &str) -> Attributes {
        self.name = name.to_string();
        self
    }

    pub fn with_subresource(mut self, subresource: &str) -> Attributes {
        self.subresource = subresource.to_string();
        self
    }
}

/// An authorizer's answer. `reason` explains an allow (which binding) or a denial (what was
/// wrong), as upstream appends it to the Forbidden message when it is not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
}

impl Decision {
    pub fn allow(reason: impl Into<String>) -> Decision {
        Decision {
            allowed: true,
            reason: reason.into(),
        }
    }

    pub fn deny(reason: impl Into<String>) -> Decision {
        Decision {
            allowed: false,
            reason: reason.into(),
        }
    }
}
