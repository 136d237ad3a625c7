//! `rk3s server` flags and their validated form, [`ServerConfig`].

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;

use super::CliError;

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Config file (YAML, keys are flag names).
    #[arg(long, short = 'c', env = "RK3S_CONFIG_FILE")]
    pub config: Option<PathBuf>,
    /// Folder to hold state.
    #[arg(
        long,
        short = 'd',
        default_value = "/var/lib/rk3s",
        env = "RK3S_DATA_DIR"
    )]
    pub data_dir: PathBuf,
    /// HTTPS listen port.
    #[arg(long, default_value_t = 6443)]
    pub https_listen_port: u16,
    /// Address to bind the API server to.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: String,
    /// Address the API server advertises to members of the cluster.
    #[arg(long)]
    pub advertise_address: Option<String>,
    /// Additional host name or IP as a Subject Alternative Name of the serving certificate (repeatable).
    #[arg(long = "tls-san")]
    pub tls_san: Vec<String>,
    /// Write the admin kubeconfig to this file.
    #[arg(
        long,
        short = 'o',
        default_value = "/etc/rk3s/rk3s.yaml",
        env = "RK3S_KUBECONFIG_OUTPUT"
    )]
    pub write_kubeconfig: PathBuf,
    /// Write the kubeconfig with this mode (octal, e.g. 644).
    #[arg(long, env = "RK3S_KUBECONFIG_MODE")]
    pub write_kubeconfig_mode: Option<String>,
    /// Shared secret used to join servers and agents.
    #[arg(long, short = 't', env = "RK3S_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// File holding the token.
    #[arg(long, env = "RK3S_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Do not run a local agent (control plane only).
    #[arg(long)]
    pub disable_agent: bool,
    /// Do not run the controllers (deployments, replica sets, jobs, garbage collector, ...).
    #[arg(long)]
    pub disable_controller_manager: bool,
    /// Do not run the scheduler.
    #[arg(long)]
    pub disable_scheduler: bool,
    /// Datastore: empty for SQLite in the data dir (PostgreSQL, MySQL and etcd come later).
    #[arg(long, env = "RK3S_DATASTORE_ENDPOINT")]
    pub datastore_endpoint: Option<String>,
    /// Node name.
    #[arg(long, env = "RK3S_NODE_NAME")]
    pub node_name: Option<String>,
    /// IPv4 network for pod IPs.
    #[arg(long, default_value = "10.42.0.0/16")]
    pub cluster_cidr: String,
    /// IPv4 network for service IPs.
    #[arg(long, default_value = "10.43.0.0/16")]
    pub service_cidr: String,
    /// Cluster DNS service IP.
    #[arg(long, default_value = "10.43.0.10")]
    pub cluster_dns: String,
    /// Cluster domain.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// Port range for NodePort services.
    #[arg(long, default_value = "30000-32767")]
    pub service_node_port_range: String,
    /// How long events are kept after they were last seen (e.g. 1h, 30m, 90s).
    #[arg(long, default_value = "1h")]
    pub event_ttl: String,
    /// How long a node may go without renewing its Lease before it is marked NotReady
    /// (Unknown), tainted unreachable and its pods evicted (kube-controller-manager's flag).
    #[arg(long, default_value = "40s")]
    pub node_monitor_grace_period: String,
    /// Turn on debug logging.
    #[arg(long)]
    pub debug: bool,
}

/// Validated `rk3s server` configuration; nothing here is touched after start-up.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub https_listen_port: u16,
    pub bind_address: IpAddr,
    pub advertise_address: Option<IpAddr>,
    pub tls_sans: Vec<String>,
    pub write_kubeconfig: PathBuf,
    pub write_kubeconfig_mode: u32,
    pub token: Option<String>,
    pub disable_agent: bool,
    pub disable_controller_manager: bool,
    pub disable_scheduler: bool,
    pub node_name: Option<String>,
    pub cluster_cidr: String,
    pub service_cidr: String,
    pub cluster_dns: IpAddr,
    pub cluster_domain: String,
    pub service_node_port_range: (u16, u16),
    pub event_ttl: std::time::Duration,
    pub node_monitor_grace_period: std::time::Duration,
    pub debug: bool,
}

fn invalid(flag: &str, value: &str, message: &str) -> CliError {
    CliError::InvalidValue {
        flag: format!("--{flag}"),
        value: value.to_string(),
        message: message.to_string(),
    }
}

fn parse_ip(flag: &str, s: &str) -> Result<IpAddr, CliError> {
    s.parse().map_err(|_| invalid(flag, s, "not an IP address"))
}

fn check_cidr(flag: &str, s: &str) -> Result<(), CliError> {
    let (ip, len) = s
        .split_once('/')
        .ok_or_else(|| invalid(flag, s, "not a CIDR (expected ADDRESS/PREFIX)"))?;
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| invalid(flag, s, "not a CIDR: bad address"))?;
    let len: u8 = len
        .parse()
        .map_err(|_| invalid(flag, s, "not a CIDR: bad prefix length"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err(invalid(flag, s, "not a CIDR: prefix length too long"));
    }
    Ok(())
}

impl ServerConfig {
    pub fn from_args(a: ServerArgs) -> Result<ServerConfig, CliError> {
        if a.data_dir.as_os_str().is_empty() || a.data_dir.is_relative() {
            return Err(invalid(
                "data-dir",
                &a.data_dir.display().to_string(),
                "must be an absolute path",
            ));
        }
        if a.https_listen_port == 0 {
            return Err(invalid(
                "https-listen-port",
                "0",
                "must be between 1 and 65535",
            ));
        }
        let bind_address = parse_ip("bind-address", &a.bind_address)?;
        let advertise_address = a
            .advertise_address
            .as_deref()
            .map(|s| parse_ip("advertise-address", s))
            .transpose()?;
        for san in &a.tls_san {
            if san.is_empty()
                || san
                    .chars()
                    .any(|c| c.is_whitespace() || c == '/' || c == ',')
            {
                return Err(invalid("tls-san", san, "not a host name or IP address"));
            }
        }
        let write_kubeconfig_mode = match &a.write_kubeconfig_mode {
            None => 0o600,
            Some(s) => {
                let m = u32::from_str_radix(s, 8).map_err(|_| {
                    invalid(
                        "write-kubeconfig-mode",
                        s,
                        "not an octal file mode (e.g. 600 or 644)",
                    )
                })?;
                if m > 0o777 {
                    return Err(invalid(
                        "write-kubeconfig-mode",
                        s,
                        "not an octal file mode (e.g. 600 or 644)",
                    ));
                }
                m
            }
        };
        if a.write_kubeconfig.as_os_str().is_empty() {
            return Err(invalid("write-kubeconfig", "", "must be a file path"));
        }
        let token = match (&a.token, &a.token_file) {
            (Some(t), _) if !t.is_empty() => Some(t.clone()),
            (_, Some(f)) => {
                let text = std::fs::read_to_string(f).map_err(|e| {
                    invalid(
                        "token-file",
                        &f.display().to_string(),
                        &format!("cannot read: {e}"),
                    )
                })?;
                let t = text.trim().to_string();
                if t.is_empty() {
                    return Err(invalid(
                        "token-file",
                        &f.display().to_string(),
                        "the file is empty",
                    ));
                }
                Some(t)
            }
            _ => None,
        };
        if let Some(t) = &token {
            rk3s_pki::parse_token(t).map_err(|e| invalid("token", "<redacted>", &e.to_string()))?;
        }
        match a.datastore_endpoint.as_deref() {
            None | Some("") => {}
            Some(s) if s.starts_with("sqlite://") || s.starts_with("sqlite:") => {}
            Some(s) => {
                let scheme = s.split("://").next().unwrap_or(s);
                return Err(invalid(
                    "datastore-endpoint",
                    scheme,
                    "only the embedded SQLite datastore is supported in this version (leave the flag empty)",
                ));
            }
        }
        check_cidr("cluster-cidr", &a.cluster_cidr)?;
        check_cidr("service-cidr", &a.service_cidr)?;
        if rk3s_apiserver::allocator::ServiceNetwork::parse(&a.service_cidr, (30000, 32767))
            .is_err()
        {
            return Err(invalid(
                "service-cidr",
                &a.service_cidr,
                "must be an IPv4 network with a prefix length between 8 and 30",
            ));
        }
        let cluster_dns = parse_ip("cluster-dns", &a.cluster_dns)?;
        if a.cluster_domain.is_empty() || a.cluster_domain.contains(char::is_whitespace) {
            return Err(invalid(
                "cluster-domain",
                &a.cluster_domain,
                "not a DNS domain",
            ));
        }
        let range = a
            .service_node_port_range
            .split_once('-')
            .and_then(|(lo, hi)| {
                Some((
                    lo.trim().parse::<u16>().ok()?,
                    hi.trim().parse::<u16>().ok()?,
                ))
            })
            .filter(|(lo, hi)| lo <= hi && *lo > 0)
            .ok_or_else(|| {
                invalid(
                    "service-node-port-range",
                    &a.service_node_port_range,
                    "expected LOW-HIGH, e.g. 30000-32767",
                )
            })?;
        if let Some(n) = &a.node_name
            && (n.is_empty() || rk3s_core::names::validate_name("", "nodes", n).is_err())
        {
            return Err(invalid(
                "node-name",
                n,
                "not a valid node name (lowercase RFC 1123 subdomain)",
            ));
        }
        Ok(ServerConfig {
            data_dir: a.data_dir,
            https_listen_port: a.https_listen_port,
            bind_address,
            advertise_address,
            tls_sans: a.tls_san,
            write_kubeconfig: a.write_kubeconfig,
            write_kubeconfig_mode,
            token,
            disable_agent: a.disable_agent,
            disable_controller_manager: a.disable_controller_manager,
            disable_scheduler: a.disable_scheduler,
            node_name: a.node_name,
            cluster_cidr: a.cluster_cidr,
            service_cidr: a.service_cidr,
            cluster_dns,
            cluster_domain: a.cluster_domain,
            service_node_port_range: range,
            event_ttl: parse_duration(&a.event_ttl).ok_or_else(|| {
                invalid(
                    "event-ttl",
                    &a.event_ttl,
                    "expected a duration such as 1h, 30m or 90s",
                )
            })?,
            node_monitor_grace_period: parse_duration(&a.node_monitor_grace_period).ok_or_else(
                || {
                    invalid(
                        "node-monitor-grace-period",
                        &a.node_monitor_grace_period,
                        "expected a duration such as 40s or 1m",
                    )
                },
            )?,
            debug: a.debug,
        })
    }
}

/// A duration in Go's simple forms: `90s`, `30m`, `1h`, `1h30m`.
fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut seen = false;
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
        seen = true;
    }
    (seen && num.is_empty() && total > 0).then(|| std::time::Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_parse_like_go_and_garbage_does_not() {
        assert_eq!(parse_duration("1h").map(|d| d.as_secs()), Some(3600));
        assert_eq!(parse_duration("1h30m").map(|d| d.as_secs()), Some(5400));
        assert_eq!(parse_duration("90s").map(|d| d.as_secs()), Some(90));
        for bad in ["", "h", "10", "5x", "0s", "-1h", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_none(), "{bad}");
        }
    }
}
