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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    #[default]
    Pretty,
}

/// Writes the settings from one table: the `Settings` fields (read by envy, each named
/// by its variable in lower case), their defaults, `variables()` (what `serve --help`
/// prints) and the table of docs/operations.md. A row's doc comment is the field's
/// documentation and the document's text; `help` is the short form `serve --help` shows;
/// `shown` says the default in words where its value alone would not.
macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])+
        $field:ident: $ty:ty = $default:expr,
            $(shown $shown:literal,)?
            $(with $with:literal,)?
            $(at_least $min:literal,)?
            help $help:literal;
    )+) => {
        /// Every setting, from the environment variable of its name in capitals.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(default)]
        pub struct Settings {
            $(
                $(#[doc = $doc])+
                $(#[serde(deserialize_with = $with)])?
                pub $field: $ty,
            )+
        }

        impl Default for Settings {
            fn default() -> Settings {
                Settings {
                    $($field: $default,)+
                }
            }
        }

        impl Settings {
            /// The first setting below the least its row allows, with its value and that
            /// least.
            fn below_minimum(&self) -> Option<(String, String, u64)> {
                $($(
                    if AtLeast::below(&self.$field, $min) {
                        return Some((
                            stringify!($field).to_ascii_uppercase(),
                            AtLeast::shown(&self.$field),
                            $min,
                        ));
                    }
                )?)+
                None
            }
        }

        /// Every variable `serve` reads, in the table's order, with the defaults the code
        /// uses.
        pub fn variables() -> Vec<Variable> {
            let defaults = Settings::default();
            vec![$(
                Variable {
                    name: stringify!($field).to_ascii_uppercase(),
                    default: shown!(defaults.$field $(, $shown)?),
                    help: $help,
                    doc: [$($doc.trim()),+].join(" "),
                    least: least!($($min)?),
                },
            )+]
        }
    };
}

/// A number setting's check against the least its row allows; an unset optional one
/// passes (its default applies).
trait AtLeast {
    fn below(&self, min: u64) -> bool;
    fn shown(&self) -> String;
}

macro_rules! at_least_for_numbers {
    ($($ty:ty),+) => {
        $(impl AtLeast for $ty {
            fn below(&self, min: u64) -> bool {
                u64::try_from(*self).is_ok_and(|v| v < min)
            }
            fn shown(&self) -> String {
                self.to_string()
            }
        })+
    };
}

at_least_for_numbers!(usize, u64, u32);

impl<T: AtLeast> AtLeast for Option<T> {
    fn below(&self, min: u64) -> bool {
        self.as_ref().is_some_and(|v| v.below(min))
    }
    fn shown(&self) -> String {
        self.as_ref().map_or_else(String::new, AtLeast::shown)
    }
}

/// A row's least value, when it has one.
macro_rules! least {
    () => {
        None
    };
    ($min:literal) => {
        Some($min)
    };
}

/// A default in words: the row's own, or its value's.
macro_rules! shown {
    ($value:expr) => {
        Shown::shown(&$value)
    };
    ($value:expr, $words:literal) => {
        String::from($words)
    };
}

/// A default value as `serve --help` and the document say it.
trait Shown {
    fn shown(&self) -> String;
}

macro_rules! shown_as_displayed {
    ($($ty:ty),+) => {
        $(impl Shown for $ty {
            fn shown(&self) -> String {
                self.to_string()
            }
        })+
    };
}
shown_as_displayed!(u16, u32, u64, usize, bool, String);

impl Shown for PathBuf {
    fn shown(&self) -> String {
        self.display().to_string()
    }
}

impl Shown for LogFormat {
    /// Spelt as the variable is read: serde's one renaming rule.
    fn shown(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

settings! {
    /// The port to listen on.
    port: u16 = 8080,
        help "port to listen on";
    /// The address to listen on.
    host: String = "0.0.0.0".into(),
        help "address to listen on";
    /// The versioned model files; when it is missing or holds no valid version of a model,
    /// `serve` warns at start-up and `/readyz` names the absolute folder.
    models_dir: PathBuf = PathBuf::from("models"),
        help "folder of versioned model files";
    /// The bearer token of `POST /admin/reload`; unset, the route does not exist.
    admin_token: Option<Secret> = None,
        shown "unset (admin routes off)",
        help "bearer token of POST /admin/reload";
    /// Comma-separated keys; scoring routes then need `X-Api-Key` (declared in the OpenAPI
    /// document as the `api_key` scheme, so Swagger's "Authorize" sends it). The served
    /// `/openapi.json` follows the setting: without keys the scoring routes carry no
    /// security requirement (no lock in `/docs`), with keys they require `api_key`; the
    /// committed `openapi/openapi.json` declares the key optional
    /// (`[{}, {"api_key": []}]`), true either way.
    api_keys: Option<Secret> = None,
        shown "unset (scoring is open)",
        help "comma-separated keys; scoring routes then need X-Api-Key";
    /// HTTP worker threads.
    workers: Option<usize> = None,
        shown "one per core",
        at_least 1,
        help "HTTP worker threads";
    /// `json` or `pretty`; `RUST_LOG` sets levels (default `info`).
    log_format: LogFormat = LogFormat::Pretty,
        with "log_format",
        help "json or pretty (RUST_LOG sets levels, default info)";
    /// The version of convert served by default instead of its highest valid one.
    pin_convert: Option<u32> = None,
        shown "unset (highest valid version)",
        help "version of convert served by default";
    /// The version of revenue served by default instead of its highest valid one.
    pin_revenue: Option<u32> = None,
        shown "unset (highest valid version)",
        help "version of revenue served by default";
    /// The version of segment served by default instead of its highest valid one.
    pin_segment: Option<u32> = None,
        shown "unset (highest valid version)",
        help "version of segment served by default";
    /// `model:version:percent`, e.g. `convert:3:10` sends 10% of sessions (by a stable
    /// hash of the session id) to version 3 of convert. Parsed once, here.
    canary: Option<Canary> = None,
        shown "unset (off)",
        with "canary",
        help "model:version:percent, e.g. convert:3:10";
    /// Rescan the models folder this often, in seconds; unset or 0 disables.
    poll_interval_secs: Option<u64> = None,
        shown "unset (off)",
        help "rescan the models folder this often";
    /// The request body limit (413 past it); the April-July CSV is 6 MB.
    max_body_bytes: usize = 32 << 20,
        at_least 1,
        help "request body limit (413 past it)";
    /// Clicks per session (422 past it).
    max_clicks_per_session: usize = crate::domain::MAX_CLICKS_PER_SESSION,
        at_least 1,
        help "clicks per session (422 past it)";
    /// Sessions per batch (422 past it).
    max_sessions_per_batch: usize = 50_000,
        at_least 1,
        help "sessions per batch (422 past it)";
    /// Invalid fields one problem document lists; its detail gives the total. (Echoed
    /// values are cut to 300 characters, a fixed bound: it limits the size of one answer,
    /// and no legitimate value is longer.)
    max_problem_issues: usize = 1000,
        at_least 1,
        help "invalid fields one problem document lists (the total is in its detail)";
    /// Versions of each model kept in memory (pins and canary always).
    max_loaded_versions: usize = 3,
        at_least 1,
        help "versions of each model kept in memory";
    /// A request body must be complete within this time, or keep arriving at
    /// `MIN_BODY_BYTES_PER_SEC` on average; otherwise 408 `body_timeout` and the
    /// connection is closed.
    body_timeout_secs: u64 = 10,
        at_least 1,
        help "a body must be complete within this time, or keep arriving at MIN_BODY_BYTES_PER_SEC (408 otherwise)";
    /// The slowest average body rate accepted past `BODY_TIMEOUT_SECS` (a 32 MiB batch may
    /// take 34 minutes; a byte a second is cut off at 10 s).
    min_body_bytes_per_sec: usize = 16 << 10,
        at_least 1,
        help "slowest average body rate accepted past BODY_TIMEOUT_SECS";
    /// Request bodies held at once across all requests, in each of two pools (batch
    /// routes; single-session routes), counted from `Content-Length` before the body is
    /// read and held until the answer is made; past it, 503 `overloaded` with
    /// `Retry-After: 1`. A batch's working memory is about twelve times its body, so the
    /// default bounds batches to about 400 MB. Must be at least `MAX_BODY_BYTES`.
    max_body_bytes_in_flight: usize = 32 << 20,
        at_least 1,
        help "bodies held at once in each pool (batch routes; single-session routes); 503 with Retry-After past it";
    /// How long a batch waits for room in its pool before its 503, in seconds (single
    /// sessions never wait).
    batch_queue_secs: u64 = 5,
        help "how long a batch waits for room in its pool before a 503";
    /// Open connections each worker accepts; past it the worker stops accepting and new
    /// connections wait in the listen backlog instead of failing with "Too many open
    /// files".
    max_connections_per_worker: Option<usize> = None,
        shown "(descriptor limit - 64) / workers",
        at_least 1,
        help "open connections each worker accepts; the rest wait in the listen backlog";
    /// Text cells of CSV answers that begin with `=`, `+`, `-`, `@`, a tab or a carriage
    /// return get a leading `'`, so a spreadsheet shows them rather than running them
    /// (OWASP's advice on CSV injection); cells that read as numbers (`-2`, `+3.5`, `1e5`)
    /// are kept. `false` for programs that read the cells as they are
    /// (`score --no-formula-guard` likewise).
    csv_formula_guard: bool = true,
        help "prefix ' to CSV text cells starting with = + - @ tab or CR, so spreadsheets do not run them; false for machine readers";
    /// Connections the kernel queues before a worker accepts them; Linux caps it at
    /// `net.core.somaxconn` (4096 since kernel 5.4; `/proc/sys/net/core/somaxconn`). The
    /// listener is made with this backlog (socket2), since one bound by the standard
    /// library had 128: a burst of 1,000 connections then waited a second for a resent
    /// SYN.
    listen_backlog: u32 = 4096,
        at_least 1,
        help "connections the kernel queues before they are accepted (capped at net.core.somaxconn)";
}

/// envy's own message for a bad enum value does not name the variable.
fn log_format<'de, D: serde::Deserializer<'de>>(d: D) -> Result<LogFormat, D::Error> {
    use serde::de::IntoDeserializer;
    let text = String::deserialize(d)?;
    // Any case, then serde's own spelling of the variants.
    let lower = text.to_ascii_lowercase();
    let read: Result<LogFormat, serde::de::value::Error> =
        LogFormat::deserialize(lower.as_str().into_deserializer());
    read.map_err(|_| {
        serde::de::Error::custom(format!(
            "LOG_FORMAT={text:?} is invalid: expected json or pretty"
        ))
    })
}

/// `CANARY` from its text form; the message names the variable, as envy's would not.
fn canary<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Canary>, D::Error> {
    let text = String::deserialize(d)?;
    text.parse::<Canary>().map(Some).map_err(|problem| {
        serde::de::Error::custom(format!("CANARY={text:?} is invalid: {problem}"))
    })
}

/// One environment variable of `serve`: its name, its default in words, what it does in
/// short (`serve --help`) and in full (docs/operations.md).
pub struct Variable {
    pub name: String,
    pub default: String,
    pub help: &'static str,
    pub doc: String,
    /// The least value accepted, checked at start-up.
    pub least: Option<u64>,
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
            v.name, v.help, v.default
        ));
    }
    text.push_str("\nExample: PORT=9000 MODELS_DIR=/srv/models clickstream serve");
    text
}

/// Where docs/operations.md's table of variables begins and ends.
const TABLE_START: &str = "<!-- settings table: generated from src/service/settings.rs -->";
const TABLE_END: &str = "<!-- end of the settings table -->";

/// The variables as docs/operations.md shows them: a Markdown table between the two
/// markers.
pub fn variables_markdown() -> String {
    let cell = |text: &str| text.replace('|', "\\|");
    let mut table = format!("{TABLE_START}\n| variable | default | meaning |\n|---|---|---|\n");
    for v in variables() {
        let least = v
            .least
            .map(|min| format!(" At least {min}."))
            .unwrap_or_default();
        table.push_str(&format!(
            "| `{}` | {} | {}{least} |\n",
            v.name,
            cell(&v.default),
            cell(&v.doc)
        ));
    }
    table + TABLE_END
}

/// `document` with its settings table replaced by the code's; `None` when it has no
/// markers.
pub fn with_variables_markdown(document: &str) -> Option<String> {
    let start = document.find(TABLE_START)?;
    let end = start + document[start..].find(TABLE_END)? + TABLE_END.len();
    Some(format!(
        "{}{}{}",
        &document[..start],
        variables_markdown(),
        &document[end..]
    ))
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
        name: String,
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
        let invalid = |name: &str, value: String, problem: &str| SettingsError::Invalid {
            name: name.to_owned(),
            value,
            problem: problem.into(),
        };
        if let Some((name, value, min)) = self.below_minimum() {
            return Err(invalid(&name, value, &format!("must be at least {min}")));
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
    fn every_setting_below_its_least_is_refused_by_name() {
        let bounded: Vec<Variable> = variables()
            .into_iter()
            .filter(|v| v.least.is_some())
            .collect();
        assert!(bounded.len() >= 10, "the table marks its bounded settings");
        for v in bounded {
            let below = v.least.map_or(0, |m| m - 1).to_string();
            let err = Settings::from_vars(vars(&[(v.name.as_str(), below.as_str())]))
                .expect_err("a value below the least is refused");
            assert!(
                err.to_string().contains(&v.name) && err.to_string().contains("at least"),
                "{}: {err}",
                v.name
            );
        }
    }

    #[test]
    fn the_variable_list_says_the_defaults_the_code_uses() {
        let read = Settings::from_vars(vars(&[])).expect("defaults are valid");
        assert_eq!(format!("{read:?}"), format!("{:?}", Settings::default()));
        let default_of = |name: &str| {
            variables()
                .into_iter()
                .find(|v| v.name == name)
                .map(|v| v.default)
                .unwrap_or_default()
        };
        assert_eq!(default_of("PORT"), "8080");
        assert_eq!(default_of("MODELS_DIR"), "models");
        assert_eq!(default_of("LOG_FORMAT"), "pretty");
        assert_eq!(default_of("MAX_BODY_BYTES"), (32 << 20).to_string());
        assert_eq!(default_of("WORKERS"), "one per core");
        // Each variable is read into the field of its name.
        let set = Settings::from_vars(vars(&[("MAX_SESSIONS_PER_BATCH", "7"), ("HOST", "::1")]))
            .expect("valid settings");
        assert_eq!((set.max_sessions_per_batch, set.host.as_str()), (7, "::1"));
        let help = variables_help();
        for v in variables() {
            assert!(
                help.contains(&format!("  {} ", v.name)),
                "{} not in --help",
                v.name
            );
        }
    }

    #[test]
    fn docs_operations_md_has_the_settings_table_of_the_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operations.md");
        let document = std::fs::read_to_string(&path).expect("docs/operations.md is readable");
        let generated = with_variables_markdown(&document)
            .expect("docs/operations.md has the settings table's markers");
        if generated == document {
            return;
        }
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, generated).expect("docs/operations.md is writable");
            return;
        }
        panic!(
            "docs/operations.md's settings table differs from src/service/settings.rs; \
             regenerate it with `UPDATE_DOCS=1 cargo test --release --lib settings`"
        );
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
