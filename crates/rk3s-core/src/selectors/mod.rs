//! Label and field selectors: parsing the query-string forms, building label selectors from
//! `metav1.LabelSelector`, and matching objects. Entry points: [`LabelSelector`],
//! [`FieldSelector`], [`field_value`].

mod field;
mod label;

pub use field::{
    FieldOp, FieldRequirement, FieldSelector, FieldSelectorError, field_value, supported_fields,
};
pub use label::{LabelOp, LabelRequirement, LabelSelector, LabelSelectorError};
