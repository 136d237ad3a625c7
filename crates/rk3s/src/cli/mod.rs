//! Command-line interface: the subcommands, their flags (k3s's names), the YAML config file and
//! `RK3S_*` environment variables, resolved once into validated configuration.
//! Precedence: flags, then environment variables, then the config file, then defaults.

mod config_file;
mod server;

pub use server::ServerConfig;

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Clap(#[from] clap::Error),
    #[error("config file {path}: {message}")]
    ConfigFile { path: String, message: String },
    #[error("invalid value {value:?} for {flag}: {message}")]
    InvalidValue {
        flag: String,
        value: String,
        message: String,
    },
}

#[derive(Debug, Parser)]
#[command(name = "rk3s", version = concat!(env!("CARGO_PKG_VERSION"), " (Kubernetes v1.33.0)"), about = "Lightweight Kubernetes in one binary")]
#[command(args_override_self = true, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Run the control plane (and, unless --disable-agent, a node on this machine).
    Server(Box<server::ServerArgs>),
    /// Run a node agent. Today: simulated nodes only (`--simulate N`).
    Agent(AgentArgs),
    /// Run kubectl against this cluster (KUBECONFIG defaults to the written kubeconfig).
    Kubectl {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// Register this many simulated nodes (no containers: pods go Running with an IP).
    #[arg(long)]
    pub simulate: Option<usize>,
    /// Kubeconfig of the server to join.
    #[arg(long, default_value = "/etc/rk3s/rk3s.yaml", env = "RK3S_KUBECONFIG")]
    pub kubeconfig: std::path::PathBuf,
    /// Simulated nodes are named `<prefix><index>`.
    #[arg(long, default_value = "sim-node-")]
    pub node_name_prefix: String,
    /// Turn on debug logging.
    #[arg(long)]
    pub debug: bool,
}

/// Validated `rk3s agent` configuration.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub simulate: usize,
    pub kubeconfig: std::path::PathBuf,
    pub node_name_prefix: String,
    pub debug: bool,
}

/// A parsed, validated command.
#[derive(Debug)]
pub enum Command {
    Server(Box<ServerConfig>),
    Agent(AgentConfig),
    Kubectl(Vec<OsString>),
}

pub fn parse(argv: Vec<OsString>) -> Result<Command, CliError> {
    // `rk3s kubectl ...` passes everything through untouched (including --help).
    if argv.get(1).is_some_and(|a| a == "kubectl") {
        return Ok(Command::Kubectl(argv[2..].to_vec()));
    }
    let cli = Cli::try_parse_from(&argv)?;
    match cli.command {
        Sub::Server(args) => {
            let config_path = args.config.clone();
            let explicit = config_path.is_some();
            let path = config_path.unwrap_or_else(|| config_file::DEFAULT_PATH.into());
            let argv = match config_file::load(&path, explicit)? {
                Some(entries) => {
                    let cmd = Cli::command();
                    let server_cmd = cmd.find_subcommand("server").cloned().ok_or_else(|| {
                        CliError::ConfigFile {
                            path: path.display().to_string(),
                            message: "internal: no server subcommand".into(),
                        }
                    })?;
                    let matches = server_cmd.clone().try_get_matches_from(argv[1..].iter())?;
                    let extra = config_file::to_args(&path, &server_cmd, &matches, entries)?;
                    // Config values first, so flags given on the command line override them.
                    let mut merged: Vec<OsString> = vec![argv[0].clone(), "server".into()];
                    merged.extend(extra);
                    merged.extend(argv[2..].iter().cloned());
                    merged
                }
                None => argv,
            };
            let matches = Cli::command().try_get_matches_from(&argv)?;
            let cli = Cli::from_arg_matches(&matches)?;
            let Sub::Server(args) = cli.command else {
                unreachable_server()
            };
            Ok(Command::Server(Box::new(ServerConfig::from_args(*args)?)))
        }
        Sub::Kubectl { args } => Ok(Command::Kubectl(args)),
        Sub::Agent(a) => {
            let simulate = match a.simulate {
                Some(n) if (1..=5000).contains(&n) => n,
                Some(n) => {
                    return Err(CliError::InvalidValue {
                        flag: "--simulate".into(),
                        value: n.to_string(),
                        message: "must be between 1 and 5000".into(),
                    });
                }
                None => {
                    return Err(CliError::InvalidValue {
                        flag: "--simulate".into(),
                        value: String::new(),
                        message: "a real node agent is not part of this version: pass --simulate N for simulated nodes".into(),
                    });
                }
            };
            if rk3s_core::names::validate_name("", "nodes", &format!("{}0", a.node_name_prefix))
                .is_err()
            {
                return Err(CliError::InvalidValue {
                    flag: "--node-name-prefix".into(),
                    value: a.node_name_prefix,
                    message: "node names must be lowercase RFC 1123 subdomains".into(),
                });
            }
            Ok(Command::Agent(AgentConfig {
                simulate,
                kubeconfig: a.kubeconfig,
                node_name_prefix: a.node_name_prefix,
                debug: a.debug,
            }))
        }
    }
}

fn unreachable_server() -> ! {
    // parse() re-parses the same argv it already parsed as `server`.
    eprintln!("error: internal: expected the server subcommand");
    std::process::exit(2)
}
