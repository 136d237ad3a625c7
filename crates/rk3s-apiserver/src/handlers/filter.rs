//! Label and field selectors of list and watch requests, applied to stored objects.

use rk3s_core::ResourceType;
use rk3s_core::selectors::{FieldSelector, LabelSelector};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::request::Query;

/// The selection a list or watch asked for.
pub struct ObjectFilter {
    group: String,
    plural: String,
    label: Option<LabelSelector>,
    field: Option<FieldSelector>,
}

impl ObjectFilter {
    pub fn from_query(rt: &ResourceType, q: &Query) -> ApiResult<ObjectFilter> {
        let label =
            match &q.label_selector {
                Some(s) => Some(LabelSelector::parse(s).map_err(|e| {
                    ApiError::BadRequest(format!("unable to parse requirement: {e}"))
                })?),
                None => None,
            };
        let field = match &q.field_selector {
            Some(s) => {
                let sel = FieldSelector::parse(s)
                    .map_err(|e| ApiError::BadRequest(format!("invalid field selector: {e}")))?;
                // Reject unsupported fields up front, with upstream's message.
                sel.validate_for(&rt.group, &rt.plural)
                    .map_err(|e| ApiError::BadRequest(e.to_string()))?;
                Some(sel)
            }
            None => None,
        };
        Ok(ObjectFilter {
            group: rt.group.clone(),
            plural: rt.plural.clone(),
            label,
            field,
        })
    }

    pub fn is_everything(&self) -> bool {
        self.label.is_none() && self.field.is_none()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        if let Some(l) = &self.label {
            let labels = obj.pointer("/metadata/labels").and_then(Value::as_object);
            if !l.matches_json(labels) {
                return false;
            }
        }
        if let Some(f) = &self.field
            && !f
                .matches_object(&self.group, &self.plural, obj)
                .unwrap_or(false)
        {
            return false;
        }
        true
    }
}
