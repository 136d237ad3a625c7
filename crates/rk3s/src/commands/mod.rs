//! One module per subcommand: the glue between validated configuration and the components.

pub mod kubectl;
pub mod server;
