//! Per-kind admission on every create and update, after the generic checks: CRD objects
//! (defaulting, validation, stored versions) and custom resources (pruning, schema defaults
//! and validation). Entry point: [`admit`].

use rk3s_core::ResourceType;
use serde_json::Value;

use crate::error::{ApiError, ApiResult, Cause};
use crate::objects;

fn is_crd(rt: &ResourceType) -> bool {
    rt.group == "apiextensions.k8s.io" && rt.plural == "customresourcedefinitions"
}

fn invalid(rt: &ResourceType, obj: &Value, errors: Vec<rk3s_core::crd::FieldError>) -> ApiError {
    let causes = errors
        .into_iter()
        .map(|e| Cause {
            reason: e.reason,
            field: e.field,
            message: e.message,
        })
        .collect();
    ApiError::invalid(&rt.kind, &rt.group, objects::name(obj), causes)
}

/// Default and validate `obj` (a create when `old` is `None`), in place.
pub fn admit(
    rt: &ResourceType,
    subresource: Option<&str>,
    old: Option<&Value>,
    obj: &mut Value,
) -> ApiResult<()> {
    if is_crd(rt) {
        rk3s_core::crd::default_crd(obj);
        match old {
            None => rk3s_core::crd::prepare_crd_create(obj),
            Some(o) if subresource.is_none() => rk3s_core::crd::prepare_crd_update(o, obj),
            Some(_) => {}
        }
        let errors = rk3s_core::crd::validate_crd(old, obj);
        if !errors.is_empty() {
            return Err(invalid(rt, obj, errors));
        }
        return Ok(());
    }
    if let Some(custom) = &rt.custom {
        // The served version's schema decides what is kept, defaulted and valid.
        custom.schema.prune(obj);
        custom.schema.apply_defaults(obj);
        let errors = custom.schema.validate(obj);
        if !errors.is_empty() {
            return Err(invalid(rt, obj, errors));
        }
    }
    Ok(())
}
