//! One module per subcommand: the glue between validated configuration and the components.

pub mod agent;
pub mod kubectl;
mod loopback;
pub mod server;
