//! placeholder
pub mod openapi;
