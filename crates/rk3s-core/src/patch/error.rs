//! The error every patch engine returns; messages are written to be shown to the API client.

/// Why a patch could not be applied. [`PatchError::status_code`] gives the HTTP status the API
/// answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The body of a JSON patch is not a list of operations.
    #[error("invalid json patch: {0}")]
    InvalidJsonPatch(String),
    #[error("json patch has {count} operations, more than the {max} allowed")]
    TooManyOperations { count: usize, max: usize },
    /// A `test` operation found a different value.
    #[error("json patch operation {index} failed: the value at {path:?} does not match")]
    TestFailed { index: usize, path: String },
    /// An operation names a location the document does not have (or a bad `from`).
    #[error("json patch operation {index} ({op} {path:?}) cannot be applied: {reason}")]
    OperationFailed {
        index: usize,
        op: &'static str,
        path: String,
        reason: String,
    },
    /// The patch or the document is not a JSON object where one is required.
    #[error("{what} must be a json object")]
    NotAnObject { what: &'static str },
    /// A `$patch` value other than `replace`, `delete` or `merge`, or a `$`-key the strategic
    /// merge patch format does not define.
    #[error("unknown strategic merge patch directive {directive:?} at {path:?}")]
    UnknownDirective { directive: String, path: String },
    /// A directive whose value has the wrong shape, e.g. `$retainKeys` that is not a list of
    /// strings.
    #[error("invalid {directive} at {path:?}: expected {expected}")]
    InvalidDirective {
        directive: String,
        path: String,
        expected: &'static str,
    },
    /// An item of a list merged by key lacks the key.
    #[error("list item at {path:?} has no merge key {key:?}")]
    MissingMergeKey { path: String, key: String },
    /// The items of a patch list are not in the order its `$setElementOrder` gives.
    #[error(
        "the order of the items in the patch list at {path:?} does not match its $setElementOrder list"
    )]
    SetElementOrderMismatch { path: String },
    /// A list merged by strategy mixes objects with other values, or holds lists.
    #[error(
        "list at {path:?} mixes objects and other values or contains lists, so it cannot be merged"
    )]
    MixedListItems { path: String },
    /// A list of objects with merge strategy but no merge key in the schema.
    #[error("list at {path:?} cannot be merged: its type declares no merge key")]
    NoMergeKey { path: String },
    #[error("patch is nested deeper than {max} levels")]
    TooDeep { max: usize },
}

impl PatchError {
    /// The HTTP status the API server answers with, as upstream does: 413 for too many
    /// operations, 422 for a well-formed JSON patch that does not apply, 400 otherwise.
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::TooManyOperations { .. } => 413,
            PatchError::TestFailed { .. } | PatchError::OperationFailed { .. } => 422,
            _ => 400,
        }
    }
}
