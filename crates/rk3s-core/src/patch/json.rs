//! JSON patch (RFC 6902), applied with the `json-patch` crate. Entry point: [`json_patch`].

use serde::Deserialize;
use serde_json::Value;

use super::PatchError;

/// The most operations one JSON patch may carry (upstream's limit too).
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Applies the RFC 6902 patch `patch_body` (a JSON list of operations) to `doc`.
pub fn json_patch(doc: &Value, patch_body: &Value) -> Result<Value, PatchError> {
    let Value::Array(ops) = patch_body else {
        return Err(PatchError::InvalidJsonPatch(
            "expected a list of operations".to_string(),
        ));
    };
    if ops.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooManyOperations {
            count: ops.len(),
            max: MAX_JSON_PATCH_OPERATIONS,
        });
    }
    let mut operations = Vec::with_capacity(ops.len());
    for (index, op) in ops.iter().enumerate() {
        let parsed = json_patch::PatchOperation::deserialize(op)
            .map_err(|e| PatchError::InvalidJsonPatch(format!("operation {index}: {e}")))?;
        operations.push(parsed);
    }
    let mut out = doc.clone();
    // The copy is thrown away on failure, so the crate's undo log is not needed.
    json_patch::patch_unsafe(&mut out, &operations).map_err(|e| map_error(e, &operations))?;
    Ok(out)
}

fn map_error(e: json_patch::PatchError, operations: &[json_patch::PatchOperation]) -> PatchError {
    let path = e.path.to_string();
    let op = match operations.get(e.operation) {
        Some(json_patch::PatchOperation::Add(_)) => "add",
        Some(json_patch::PatchOperation::Remove(_)) => "remove",
        Some(json_patch::PatchOperation::Replace(_)) => "replace",
        Some(json_patch::PatchOperation::Move(_)) => "move",
        Some(json_patch::PatchOperation::Copy(_)) => "copy",
        Some(json_patch::PatchOperation::Test(_)) => "test",
        None => "operation",
    };
    match e.kind {
        json_patch::PatchErrorKind::TestFailed => PatchError::TestFailed {
            index: e.operation,
            path,
        },
        json_patch::PatchErrorKind::InvalidPointer => PatchError::OperationFailed {
            index: e.operation,
            op,
            path,
            reason: "the path does not exist in the object".to_string(),
        },
        json_patch::PatchErrorKind::InvalidFromPointer => PatchError::OperationFailed {
            index: e.operation,
            op,
            path,
            reason: "the \"from\" path does not exist in the object".to_string(),
        },
        json_patch::PatchErrorKind::CannotMoveInsideItself => PatchError::OperationFailed {
            index: e.operation,
            op,
            path,
            reason: "a value cannot be moved inside itself".to_string(),
        },
        other => PatchError::OperationFailed {
            index: e.operation,
            op,
            path,
            reason: other.to_string(),
        },
    }
}
