//! Service configuration: one flat struct read from unprefixed environment variables (as
//! containers expect) with envy, checked right after loading.

use crate::ml::model_file::ModelName;
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;

/// A secret that never shows in `Debug` output or logs.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    #[default]
    Pretty,
}

/// Every setting, with its environment variable and default.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// `PORT`, default 8080.
    #[serde(default = "default_port")]
    pub port: u16,
    /// `HOST`, default 0.0.0.0.
    #[serde(default = "default_host")]
    pub host: String,
    /// `MODELS_DIR`, default `models`.
    #[serde(default = "default_models_dir")]
    pub models_dir: PathBuf,
    /// `ADMIN_TOKEN`: bearer token of `POST /admin/reload`; unset disables the route.
    #[serde(default)]
    pub admin_token: Option<Secret>,
    /// `API_KEYS`: comma-separated keys; when set, scoring routes need `X-Api-Key`.
    #[serde(default)]
    pub api_keys: Option<Secret>,
    /// `WORKERS`: HTTP worker threads, default one per core.
    #[serde(default)]
    pub workers: Option<usize>,
    /// `LOG_FORMAT`: `json` or `pretty` (default).
    #[serde(default, deserialize_with = "log_format")]
    pub log_format: LogFormat,
    /// `PIN_CONVERT`, `PIN_REVENUE`, `PIN_SEGMENT`: the version each model serves by
    /// default instead of its highest valid one.
    #[serde(default)]
    pub pin_convert: Option<u32>,
    #[serde(default)]
    pub pin_revenue: Option<u32>,
    #[serde(default)]
    pub pin_segment: Option<u32>,
    /// `CANARY`: `model:version:percent`, e.g. `convert:3:10` sends 10% of sessions (by a
    /// stable hash of the session id) to version 3 of convert. Parsed once, here.
    #[serde(default, deserialize_with = "canary")]
    pub canary: Option<Canary>,
    /// `POLL_INTERVAL_SECS`: rescan the models folder this often; unset or 0 disables.
    #[serde(default)]
    pub poll_interval_secs: Option<u64>,
    /// `MAX_BODY_BYTES`, default 32 MiB (the April-July CSV is 6 MB).
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// `MAX_CLICKS_PER_SESSION`, default 1000.
    #[serde(default = "default_max_clicks")]
    pub max_clicks_per_session: usize,
    /// `MAX_SESSIONS_PER_BATCH`, default 50000.
    #[serde(default = "default_max_sessions")]
    pub max_sessions_per_batch: usize,
    /// `MAX_PROBLEM_ISSUES`: invalid fields one problem document lists (the detail gives
    /// the total), default 1000.
    #[serde(default = "default_max_problem_issues")]
    pub max_problem_issues: usize,
    /// `MAX_LOADED_VERSIONS`: versions of each model kept in memory, default 3.
    #[serde(default = "default_max_loaded")]
    pub max_loaded_versions: usize,
    /// `BODY_TIMEOUT_SECS`: a request body must be complete within this time, or keep
    /// arriving at `MIN_BODY_BYTES_PER_SEC` on average beyond it; default 10.
    #[serde(default = "default_body_timeout")]
    pub body_timeout_secs: u64,
    /// `MIN_BODY_BYTES_PER_SEC`: the slowest average body rate accepted past the timeout,
    /// default 16384 (a 32 MiB batch may then take 34 minutes; a byte a second, 10 s).
    #[serde(default = "default_min_body_rate")]
    pub min_body_bytes_per_sec: usize,
    /// `MAX_BODY_BYTES_IN_FLIGHT`: request bodies held at once, across all requests, in
    /// each of two pools (batch routes; single-session routes); default 32 MiB. A batch's
    /// working memory is about twelve times its body.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes_in_flight: usize,
    /// `BATCH_QUEUE_SECS`: how long a batch waits for room in its pool before a 503,
    /// default 5.
    #[serde(default = "default_batch_queue")]
    pub batch_queue_secs: u64,
    /// `MAX_CONNECTIONS_PER_WORKER`: open connections each worker accepts before it stops
    /// accepting (the rest wait in the listen backlog); default from the descriptor limit.
    #[serde(default)]
    pub max_connections_per_worker: Option<usize>,
    /// `CSV_FORMULA_GUARD`: CSV answers prefix `'` to text cells a spreadsheet would run
    /// as a formula (`=`, `+`, `-`, `@`, tab, carriage return); default true. `false` for
    /// programs that read the cells as they are.
    #[serde(default = "default_true")]
    pub csv_formula_guard: bool,
    /// `LISTEN_BACKLOG`: connections the kernel queues before the server accepts them;
    /// default 4096. Linux caps it at `net.core.somaxconn` (4096 since 5.4).
    #[serde(default = "default_backlog")]
    pub listen_backlog: u32,
}

/// envy's own message for a bad enum value does not name the variable.
fn log_format<'de, D: serde::Deserializer<'de>>(d: D) -> Result<LogFormat, D::Error> {
    let text = String::deserialize(d)?;
    match text.to_ascii_lowercase().as_str() {
        "json" => Ok(LogFormat::Json),
        "pretty" => Ok(LogFormat::Pretty),
        _ => Err(serde::de::Error::custom(format!(
            "LOG_FORMAT={text:?} is invalid: expected json or pretty"
        ))),
    }
}

/// `CANARY` from its text form; the message names the variable, as envy's would not.
fn canary<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Canary>, D::Error> {
    let text = String::deserialize(d)?;
    text.parse::<Canary>().map(Some).map_err(|problem| {
        serde::de::Error::custom(format!("CANARY={text:?} is invalid: {problem}"))
    })
}

fn default_port() -> u16 {
    8080
}
fn default_host() -> String {
    "0.0.0.0".into()
}
fn default_models_dir() -> PathBuf {
    PathBuf::from("models")
}
fn default_max_body_bytes() -> usize {
    32 << 20
}
fn default_max_clicks() -> usize {
    crate::domain::MAX_CLICKS_PER_SESSION
}
fn default_max_sessions() -> usize {
    50_000
}
fn default_body_timeout() -> u64 {
    10
}
fn default_min_body_rate() -> usize {
    16 << 10
}
fn default_max_problem_issues() -> usize {
    1000
}
fn default_batch_queue() -> u64 {
    5
}
fn default_max_loaded() -> usize {
    3
}
fn default_true() -> bool {
    true
}
fn default_backlog() -> u32 {
    4096
}

/// One environment variable of `serve`: its name, its default in words, what it does.
pub struct Variable {
    pub name: &'static str,
    pub default: String,
    pub meaning: &'static str,
}

/// Every variable `serve` reads, with the defaults the code uses: `serve --help` prints
/// this list, and a test holds it to the fields of [`Settings`] and to docs/operations.md.
pub fn variables() -> Vec<Variable> {
    let var = |name, default: String, meaning| Variable {
        name,
        default,
        meaning,
    };
    let unset = |what: &str| format!("unset ({what})");
    vec![
        var("PORT", default_port().to_string(), "port to listen on"),
        var("HOST", default_host(), "address to listen on"),
        var(
            "MODELS_DIR",
            default_models_dir().display().to_string(),
            "folder of versioned model files",
        ),
        var(
            "ADMIN_TOKEN",
            unset("admin routes off"),
            "bearer token of POST /admin/reload",
        ),
        var(
            "API_KEYS",
            unset("scoring is open"),
            "comma-separated keys; scoring routes then need X-Api-Key",
        ),
        var("WORKERS", "one per core".into(), "HTTP worker threads"),
        var(
            "LOG_FORMAT",
            "pretty".into(),
            "json or pretty (RUST_LOG sets levels, default info)",
        ),
        var(
            "PIN_CONVERT",
            unset("highest valid version"),
            "version of convert served by default",
        ),
        var(
            "PIN_REVENUE",
            unset("highest valid version"),
            "version of revenue served by default",
        ),
        var(
            "PIN_SEGMENT",
            unset("highest valid version"),
            "version of segment served by default",
        ),
        var(
            "CANARY",
            unset("off"),
            "model:version:percent, e.g. convert:3:10",
        ),
        var(
            "POLL_INTERVAL_SECS",
            unset("off"),
            "rescan the models folder this often",
        ),
        var(
            "MAX_BODY_BYTES",
            default_max_body_bytes().to_string(),
            "request body limit (413 past it)",
        ),
        var(
            "MAX_CLICKS_PER_SESSION",
            default_max_clicks().to_string(),
            "clicks per session (422 past it)",
        ),
        var(
            "MAX_SESSIONS_PER_BATCH",
            default_max_sessions().to_string(),
            "sessions per batch (422 past it)",
        ),
        var(
            "MAX_PROBLEM_ISSUES",
            default_max_problem_issues().to_string(),
            "invalid fields one problem document lists (the total is in its detail)",
        ),
        var(
            "MAX_LOADED_VERSIONS",
            default_max_loaded().to_string(),
            "versions of each model kept in memory",
        ),
        var(
            "BODY_TIMEOUT_SECS",
            default_body_timeout().to_string(),
            "a body must be complete within this time, or keep arriving at MIN_BODY_BYTES_PER_SEC (408 otherwise)",
        ),
        var(
            "MIN_BODY_BYTES_PER_SEC",
            default_min_body_rate().to_string(),
            "slowest average body rate accepted past BODY_TIMEOUT_SECS",
        ),
        var(
            "MAX_BODY_BYTES_IN_FLIGHT",
            default_max_body_bytes().to_string(),
            "bodies held at once in each pool (batch routes; single-session routes); 503 with Retry-After past it",
        ),
        var(
            "BATCH_QUEUE_SECS",
            default_batch_queue().to_string(),
            "how long a batch waits for room in its pool before a 503",
        ),
        var(
            "MAX_CONNECTIONS_PER_WORKER",
            "(descriptor limit - 64) / workers".into(),
            "open connections each worker accepts; the rest wait in the listen backlog",
        ),
        var(
            "CSV_FORMULA_GUARD",
            default_true().to_string(),
            "prefix ' to CSV text cells starting with = + - @ tab or CR, so spreadsheets do not run them; false for machine readers",
        ),
        var(
            "LISTEN_BACKLOG",
            default_backlog().to_string(),
            "connections the kernel queues before they are accepted (capped at net.core.somaxconn)",
        ),
    ]
}

/// The variables as `serve --help` shows them.
pub fn variables_help() -> String {
    let rows = variables();
    let width = rows.iter().map(|v| v.name.len()).max().unwrap_or(0);
    let mut text = String::from(
        "Configuration comes from environment variables (an invalid value stops start-up, naming it):\n",
    );
    for v in rows {
        text.push_str(&format!(
            "  {:<width$}  {} [default: {}]\n",
            v.name, v.meaning, v.default
        ));
    }
    text.push_str("\nExample: PORT=9000 MODELS_DIR=/srv/models clickstream serve");
    text
}

/// The soft limit on open descriptors, where the platform tells it.
fn open_files_limit() -> Option<usize> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one rlimit through a valid pointer to a local.
        let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
        if got == 0 {
            return Some(usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX));
        }
    }
    None
}

/// A configured canary: a share of sessions meets another version of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Canary {
    pub model: ModelName,
    pub version: u32,
    /// 0..=100.
    pub percent: u8,
}

impl std::str::FromStr for Canary {
    type Err = String;

    fn from_str(text: &str) -> Result<Canary, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let [model, version, percent] = parts.as_slice() else {
            return Err("expected model:version:percent, e.g. convert:3:10".into());
        };
        let model = model.parse::<ModelName>()?;
        let version = version
            .parse::<u32>()
            .map_err(|_| "the version must be a whole number".to_owned())?;
        let percent = percent
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= 100)
            .ok_or_else(|| "the percent must be a whole number from 0 to 100".to_owned())?;
        Ok(Canary {
            model,
            version,
            percent,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration: {0}")]
    Env(#[from] envy::Error),
    #[error("configuration: {name}={value:?} is invalid: {problem}")]
    Invalid {
        name: &'static str,
        value: String,
        problem: String,
    },
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, SettingsError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads settings from name/value pairs (the environment, or a test's own).
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let settings: Settings = envy::from_iter(vars)?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), SettingsError> {
        let invalid = |name, value: String, problem: &str| SettingsError::Invalid {
            name,
            value,
            problem: problem.into(),
        };
        if self.workers == Some(0) {
            return Err(invalid("WORKERS", "0".into(), "must be at least 1"));
        }
        for (name, value) in [
            ("MAX_BODY_BYTES", self.max_body_bytes),
            ("MAX_CLICKS_PER_SESSION", self.max_clicks_per_session),
            ("MAX_SESSIONS_PER_BATCH", self.max_sessions_per_batch),
            ("MAX_PROBLEM_ISSUES", self.max_problem_issues),
            ("MAX_LOADED_VERSIONS", self.max_loaded_versions),
            ("MIN_BODY_BYTES_PER_SEC", self.min_body_bytes_per_sec),
            ("BODY_TIMEOUT_SECS", self.body_timeout_secs as usize),
            ("MAX_BODY_BYTES_IN_FLIGHT", self.max_body_bytes_in_flight),
            ("LISTEN_BACKLOG", self.listen_backlog as usize),
            (
                "MAX_CONNECTIONS_PER_WORKER",
                self.max_connections_per_worker.unwrap_or(1),
            ),
        ] {
            if value == 0 {
                return Err(invalid(name, "0".into(), "must be at least 1"));
            }
        }
        if self.max_body_bytes_in_flight < self.max_body_bytes {
            return Err(invalid(
                "MAX_BODY_BYTES_IN_FLIGHT",
                self.max_body_bytes_in_flight.to_string(),
                &format!(
                    "must be at least MAX_BODY_BYTES ({}), or a body of the largest size could never be admitted",
                    self.max_body_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Connections each worker accepts: the setting, or what the process's descriptor
    /// limit allows (64 kept for model files, logs and the listener). Past the limit a
    /// worker stops accepting, instead of every new connection failing with "Too many open
    /// files".
    pub fn connections_per_worker(&self, workers: usize) -> usize {
        self.max_connections_per_worker.unwrap_or_else(|| {
            let descriptors = open_files_limit().unwrap_or(1024);
            (descriptors.saturating_sub(64) / workers.max(1)).clamp(16, 25_000)
        })
    }

    pub fn pin(&self, model: ModelName) -> Option<u32> {
        match model {
            ModelName::Convert => self.pin_convert,
            ModelName::Revenue => self.pin_revenue,
            ModelName::Segment => self.pin_segment,
        }
    }

    /// The API keys, split.
    pub fn api_keys(&self) -> Vec<String> {
        self.api_keys
            .as_ref()
            .map(|k| {
                k.expose()
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_run_locally() {
        let s = Settings::from_vars(vars(&[])).expect("defaults are valid");
        assert_eq!((s.port, s.host.as_str()), (8080, "0.0.0.0"));
        assert_eq!(s.models_dir, PathBuf::from("models"));
        assert_eq!(s.log_format, LogFormat::Pretty);
        assert!(s.admin_token.is_none());
    }

    #[test]
    fn an_invalid_value_names_its_variable() {
        let err = Settings::from_vars(vars(&[("PORT", "eighty")])).expect_err("invalid port");
        assert!(err.to_string().contains("PORT"), "{err}");
        let err = Settings::from_vars(vars(&[("CANARY", "convert:x:10")])).expect_err("bad canary");
        assert!(err.to_string().contains("CANARY"), "{err}");
        let err = Settings::from_vars(vars(&[("WORKERS", "0")])).expect_err("no workers");
        assert!(err.to_string().contains("WORKERS"), "{err}");
        let err = Settings::from_vars(vars(&[("LOG_FORMAT", "xml")])).expect_err("bad format");
        assert!(err.to_string().contains("LOG_FORMAT"), "{err}");
    }

    #[test]
    fn the_variable_list_names_every_setting_and_its_real_default() {
        let defaults = Settings::from_vars(vars(&[])).expect("defaults are valid");
        // Debug prints every field as `name: value`: the settings that exist.
        let debug = format!("{defaults:?}");
        let fields: Vec<String> = debug
            .split(['{', ','])
            .filter_map(|part| part.split_once(':').map(|(name, _)| name.trim().to_owned()))
            .filter(|name| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            })
            .collect();
        let listed: Vec<String> = variables()
            .iter()
            .map(|v| v.name.to_ascii_lowercase())
            .collect();
        assert_eq!(
            fields, listed,
            "Settings fields and the variable list differ"
        );
        let default_of = |name: &str| {
            variables()
                .into_iter()
                .find(|v| v.name == name)
                .map(|v| v.default)
                .unwrap_or_default()
        };
        assert_eq!(default_of("PORT"), defaults.port.to_string());
        assert_eq!(
            default_of("MAX_BODY_BYTES"),
            defaults.max_body_bytes.to_string()
        );
        assert_eq!(
            default_of("MAX_SESSIONS_PER_BATCH"),
            defaults.max_sessions_per_batch.to_string()
        );
        let readme = include_str!("../../docs/operations.md");
        for v in variables() {
            assert!(
                readme.contains(&format!("`{}`", v.name)),
                "docs/operations.md's table lacks {}",
                v.name
            );
        }
    }

    #[test]
    fn the_connection_limit_is_the_setting_or_what_the_descriptors_allow() {
        let set = Settings::from_vars(vars(&[("MAX_CONNECTIONS_PER_WORKER", "7")]))
            .expect("valid settings");
        assert_eq!(set.connections_per_worker(4), 7);
        let default = Settings::from_vars(vars(&[])).expect("defaults are valid");
        let limit = open_files_limit().expect("a descriptor limit on Linux");
        let per_worker = default.connections_per_worker(2);
        assert!(
            per_worker * 2 + 64 <= limit.max(16 * 2 + 64),
            "{per_worker} of {limit}"
        );
        assert!((16..=25_000).contains(&per_worker), "{per_worker}");
    }

    #[test]
    fn canary_and_keys_parse_and_secrets_stay_hidden() {
        let s = Settings::from_vars(vars(&[
            ("CANARY", "convert:3:10"),
            ("API_KEYS", "a, b,,c"),
            ("ADMIN_TOKEN", "hunter2"),
        ]))
        .expect("valid settings");
        assert_eq!(
            s.canary,
            Some(Canary {
                model: ModelName::Convert,
                version: 3,
                percent: 10
            })
        );
        assert_eq!(s.api_keys(), vec!["a", "b", "c"]);
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
