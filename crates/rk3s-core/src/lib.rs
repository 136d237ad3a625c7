//! rk3s core: the resource registry, selectors, name validation, patch engines and other pure
//! logic shared by the server's components. Nothing in this crate does I/O.

pub mod apply;
pub mod builtin;
pub mod conversion;
pub mod crd;
pub mod defaults;
pub mod names;
pub mod patch;
pub mod printers;
pub mod quantity;
pub mod quota;
pub mod registry;
pub mod selectors;
pub mod validation;

pub use registry::{Registry, ResourceType, Subresource, TypedCodec};
