//! The YAML config file (`--config`, default /etc/rk3s/config.yaml): keys are flag names,
//! values are strings, numbers, booleans or lists (for repeatable flags).

use std::ffi::OsString;
use std::path::Path;

use clap::parser::ValueSource;

use super::CliError;

pub const DEFAULT_PATH: &str = "/etc/rk3s/config.yaml";

/// Read the file; `None` if it does not exist and was not asked for explicitly.
pub fn load(
    path: &Path,
    explicit: bool,
) -> Result<Option<Vec<(String, serde_json::Value)>>, CliError> {
    let err = |message: String| CliError::ConfigFile {
        path: path.display().to_string(),
        message,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
        Err(e) => return Err(err(format!("cannot read: {e}"))),
    };
    if text.trim().is_empty() {
        return Ok(Some(Vec::new()));
    }
    let v: serde_json::Value =
        serde_saphyr::from_str(&text).map_err(|e| err(format!("malformed YAML: {e}")))?;
    match v {
        serde_json::Value::Object(m) => Ok(Some(m.into_iter().collect())),
        serde_json::Value::Null => Ok(Some(Vec::new())),
        _ => Err(err("must be a mapping of flag names to values".into())),
    }
}

/// Turn config entries into command-line arguments for the flags that were not given on the
/// command line or through their environment variable.
pub fn to_args(
    path: &Path,
    cmd: &clap::Command,
    matches: &clap::ArgMatches,
    entries: Vec<(String, serde_json::Value)>,
) -> Result<Vec<OsString>, CliError> {
    let err = |message: String| CliError::ConfigFile {
        path: path.display().to_string(),
        message,
    };
    let mut out = Vec::new();
    for (key, value) in entries {
        let Some(arg) = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()))
        else {
            return Err(err(format!("unknown key {key:?}")));
        };
        if key == "config" {
            return Err(err("key \"config\" cannot be set in the config file".into()));
        }
        let id = arg.get_id().as_str();
        if matches!(
            matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let takes_value = arg.get_action().takes_values();
        let scalars: Vec<String> = match &value {
            serde_json::Value::Array(items) => items
                .iter()
                .map(|i| scalar(&key, i))
                .collect::<Result<_, _>>()
                .map_err(err)?,
            other => vec![scalar(&key, other).map_err(err)?],
        };
        if !takes_value {
            // A boolean switch.
            match scalars.as_slice() {
                [s] if s == "true" => out.push(OsString::from(format!("--{key}"))),
                [s] if s == "false" => {}
                _ => return Err(err(format!("key {key:?} must be true or false"))),
            }
            continue;
        }
        for s in scalars {
            out.push(OsString::from(format!("--{key}={s}")));
        }
    }
    Ok(out)
}

fn scalar(key: &str, v: &serde_json::Value) -> Result<String, String> {
    match v {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Bool(b) => Ok(b.to_string()),
        _ => Err(format!(
            "key {key:?} must be a string, number, boolean or a list of them"
        )),
    }
}
