//! Patch engines for PATCH requests: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and
//! Kubernetes strategic merge patch for built-in kinds. Entry points: [`json_patch`],
//! [`merge_patch`], [`strategic_merge_patch`]; [`PatchType`] picks one from the content type.

mod error;
mod json;
mod merge;
mod meta;
mod order;
mod schema_nav;
mod strategic;

pub use error::PatchError;
pub use json::{MAX_JSON_PATCH_OPERATIONS, json_patch};
pub use merge::merge_patch;
pub use meta::{PatchMeta, patch_meta, patch_meta_table};
pub use schema_nav::{SchemaNav, SchemaNode};
pub use strategic::strategic_merge_patch;

/// The kind of patch a PATCH request carries, chosen by its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchType {
    /// `application/json-patch+json`: a list of RFC 6902 operations.
    Json,
    /// `application/merge-patch+json`: an RFC 7386 merge patch.
    Merge,
    /// `application/strategic-merge-patch+json`: Kubernetes strategic merge patch.
    StrategicMerge,
    /// `application/apply-patch+yaml`: server-side apply.
    Apply,
}

impl PatchType {
    /// The patch type of a `Content-Type` header value; parameters such as `; charset=utf-8`
    /// and letter case are ignored. `None` for anything else (a 415 for the caller).
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        PatchType::ALL
            .into_iter()
            .find(|t| t.content_type().eq_ignore_ascii_case(media_type))
    }

    /// The media type, as discovery and the OpenAPI document list it.
    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Json => "application/json-patch+json",
            PatchType::Merge => "application/merge-patch+json",
            PatchType::StrategicMerge => "application/strategic-merge-patch+json",
            PatchType::Apply => "application/apply-patch+yaml",
        }
    }

    pub const ALL: [PatchType; 4] = [
        PatchType::Json,
        PatchType::Merge,
        PatchType::StrategicMerge,
        PatchType::Apply,
    ];
}

#[cfg(test)]
mod strategic_tests;
#[cfg(test)]
mod tests;
