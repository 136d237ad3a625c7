//! `rk3s kubectl ARGS…`: run kubectl with KUBECONFIG defaulting to the server's kubeconfig.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const DEFAULT_KUBECONFIG: &str = "/etc/rk3s/rk3s.yaml";

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

pub fn run(args: Vec<OsString>) -> ExitCode {
    let Some(kubectl) = find_in_path("kubectl") else {
        eprintln!(
            "error: kubectl was not found in PATH; install kubectl (e.g. the kubectl package) and try again"
        );
        return ExitCode::from(1);
    };
    let mut cmd = std::process::Command::new(&kubectl);
    cmd.args(&args);
    let explicit = args
        .iter()
        .any(|a| a.to_string_lossy().starts_with("--kubeconfig"));
    if std::env::var_os("KUBECONFIG").is_none() && !explicit {
        cmd.env("KUBECONFIG", DEFAULT_KUBECONFIG);
        if !Path::new(DEFAULT_KUBECONFIG).exists() {
            eprintln!(
                "warning: {DEFAULT_KUBECONFIG} does not exist: is `rk3s server` running on this machine?"
            );
        }
    }
    let err = cmd.exec();
    eprintln!("error: running {}: {err}", kubectl.display());
    ExitCode::from(1)
}
