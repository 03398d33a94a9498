//! One copy of each helper the tests share: servers (in this process or the `serve`
//! binary) over their own models folder, model versions, HTTP replies and request bodies,
//! the metrics text, the command line and a synthetic clickstream.

use clickstream::service::settings::Settings;
use clickstream::service::Application;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tempfile::TempDir;

// Models folders and versions.

/// The three models the service needs before it is ready.
pub const MODELS: [&str; 3] = ["convert", "revenue", "segment"];

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// Copies the two files of one model version, manifest and weights, into `to`.
pub fn copy_version(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("The version folder can be created.");
    for file in ["manifest.json", "weights.json"] {
        std::fs::copy(from.join(file), to.join(file)).expect("The model file can be copied.");
    }
}

/// Copies version 1 of the shipped model `name` into the models folder `models`.
pub fn copy_shipped(models: &Path, name: &str) {
    copy_version(
        &shipped().join(name).join("1"),
        &models.join(name).join("1"),
    );
}

/// A fresh models folder holding copies of version 1 of every shipped model.
pub fn shipped_models() -> TempDir {
    let models = empty_models();
    for name in MODELS {
        copy_shipped(models.path(), name);
    }
    models
}

/// A fresh models folder with nothing in it.
pub fn empty_models() -> TempDir {
    tempfile::tempdir().expect("A temporary models folder can be made.")
}

/// Publishes a copy of version 1 of `name` as `version` (only the manifest's number
/// changes) and returns its folder.
pub fn publish_copy(models: &Path, name: &str, version: u32) -> PathBuf {
    publish(models, name, version, false)
}

/// Publishes a copy like [`publish_copy`] whose weights have two bytes more than its
/// manifest's checksum covers: loading refuses it.
pub fn publish_corrupt_copy(models: &Path, name: &str, version: u32) -> PathBuf {
    publish(models, name, version, true)
}

/// Writes the version beside the others and renames it into place, as the trainer does, so
/// a reload (polling runs in the background) never meets half a version. A folder already
/// at that version, such as a half-written copy, is replaced.
fn publish(models: &Path, name: &str, version: u32, corrupt: bool) -> PathBuf {
    let staging = models.join(name).join(format!(".publishing-{version}"));
    copy_version(&models.join(name).join("1"), &staging);
    let manifest_path = staging.join("manifest.json");
    let mut manifest: Value = serde_json::from_slice(
        &std::fs::read(&manifest_path).expect("The copied manifest is readable."),
    )
    .expect("The copied manifest is JSON.");
    manifest["version"] = json!(version);
    std::fs::write(
        &manifest_path,
        serde_json::to_vec(&manifest).expect("A JSON value serialises."),
    )
    .expect("The manifest can be written.");
    if corrupt {
        let weights = staging.join("weights.json");
        let mut bytes = std::fs::read(&weights).expect("The copied weights are readable.");
        bytes.extend_from_slice(b"  ");
        std::fs::write(&weights, bytes).expect("The weights can be written.");
    }
    let dir = models.join(name).join(version.to_string());
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("The old version folder can be removed.");
    }
    std::fs::rename(&staging, &dir).expect("The new version can be renamed into place.");
    dir
}

// Servers.

/// A running server at `address` over its own models folder: in this process
/// ([`spawn_app`]) or the `serve` binary ([`ServeProcess`]).
pub struct TestApp {
    pub address: String,
    pub models: TempDir,
}

/// The server over copies of the shipped models, with default settings.
pub fn spawn_app() -> TestApp {
    spawn_app_with(&[])
}

/// The server over copies of the shipped models, with these settings (environment names).
pub fn spawn_app_with(env: &[(&str, &str)]) -> TestApp {
    spawn_app_on(shipped_models(), env)
}

/// Starts the server over `models` (unless `env` names another `MODELS_DIR`) on its own
/// thread and runtime, bound to port 0; it stops when the test process ends.
pub fn spawn_app_on(models: TempDir, env: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("PORT".to_string(), "0".to_string()),
        ("HOST".to_string(), "127.0.0.1".to_string()),
        ("WORKERS".to_string(), "2".to_string()),
        (
            "MODELS_DIR".to_string(),
            models.path().display().to_string(),
        ),
    ];
    // A setting the test gives replaces the default above (envy refuses a duplicate).
    vars.retain(|(k, _)| !env.iter().any(|(name, _)| name == k));
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let settings = Settings::from_vars(vars).expect("The test settings are valid.");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build(settings).expect("The server binds port 0.");
            tx.send(app.port()).expect("The test waits for the port.");
            app.run_until_stopped().await
        })
    });
    let port = rx.recv().expect("The server reports its port.");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        models,
    }
}

/// An answer: status, content type, request id and the body as JSON (a string when it is
/// not JSON).
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub request_id: Option<String>,
    pub body: Value,
}

/// Reads an answer, whatever its status.
pub fn reply(result: Result<ureq::Response, ureq::Error>) -> Reply {
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = response.status();
    let content_type = response.header("content-type").unwrap_or("").to_owned();
    let request_id = response.header("x-request-id").map(str::to_owned);
    let text = response.into_string().expect("The body is text.");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        content_type,
        request_id,
        body,
    }
}

impl TestApp {
    pub fn get(&self, path: &str) -> Reply {
        reply(ureq::get(&format!("{}{path}", self.address)).call())
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.post_raw(path, "application/json", &body.to_string(), &[])
    }

    pub fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request =
            ureq::post(&format!("{}{path}", self.address)).set("Content-Type", content_type);
        for (k, v) in headers {
            request = request.set(k, v);
        }
        reply(request.send_string(body))
    }

    /// `POST /admin/reload` with the admin token `token`.
    pub fn admin_reload(&self, token: &str) -> Reply {
        let auth = format!("Bearer {token}");
        self.post_raw(
            "/admin/reload",
            "application/json",
            "",
            &[("Authorization", &auth)],
        )
    }

    /// `GET /metrics`, parsed.
    pub fn metrics(&self) -> Metrics {
        let r = self.get("/metrics");
        assert_eq!(r.status, 200, "{:?}", r.body);
        Metrics::parse(r.body.as_str().unwrap_or(""))
    }

    /// The version of `model` that answers requests that do not ask for one.
    pub fn default_version(&self, model: &str) -> Option<u64> {
        self.get(&format!("/models/{model}")).body["default_version"].as_u64()
    }

    /// Waits (at most 20 s) until `version` of `model` is its default version.
    pub fn wait_for_default_version(&self, model: &str, version: u64, after: &str) {
        wait_until(
            20,
            &format!("{model}/{version} not default {after}"),
            || match self.default_version(model) {
                Some(v) if v == version => vec![],
                other => vec![format!("the default version is {other:?}")],
            },
        );
    }
}

impl TestApp {
    /// Waits (at most 20 s) until the bodies the server has admitted to `pool` (`batches`,
    /// `sessions`) hold at least `bytes`: a body a test keeps open has reached its handler.
    /// In-process servers share one metrics recorder, so a test that needs this figure to be
    /// its server's alone runs the `serve` binary ([`ServeProcess`]).
    pub fn wait_for_bytes_in_flight(&self, pool: &str, bytes: usize) {
        wait_until(
            20,
            &format!("{bytes} bytes not admitted to the {pool} pool"),
            || {
                let held = self
                    .metrics()
                    .value("body_bytes_in_flight", &[("pool", pool)])
                    .unwrap_or(0.0);
                if held >= bytes as f64 {
                    Vec::new()
                } else {
                    vec![format!("{held} bytes in flight")]
                }
            },
        );
    }
}

/// Asks `check` every 50 ms until it reports nothing missing, for at most `seconds`;
/// then fails, saying what is still missing.
pub fn wait_until(seconds: u64, what: &str, mut check: impl FnMut() -> Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let missing = check();
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} after {seconds} s:\n  {}",
            missing.join("\n  ")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `serve` binary over a models folder, on port 0, logging JSON lines that the test
/// keeps. Killed when dropped.
pub struct ServeProcess {
    pub app: TestApp,
    child: Child,
    logs: Arc<Mutex<Vec<Value>>>,
}

/// The `serve` binary over copies of the shipped models.
pub fn start_serve_process() -> ServeProcess {
    start_serve_process_on(shipped_models())
}

/// The `serve` binary over `models`; returns once it logs the port it serves on.
pub fn start_serve_process_on(models: TempDir) -> ServeProcess {
    start_serve_process_with(models, &[])
}

/// Like [`start_serve_process_on`], with these settings (environment names) as well.
pub fn start_serve_process_with(models: TempDir, env: &[(&str, &str)]) -> ServeProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_clickstream"))
        .arg("serve")
        .envs(env.iter().copied())
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env("MODELS_DIR", models.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("The clickstream binary starts.");
    let stdout = child.stdout.take().expect("Its stdout is piped.");
    let logs = Arc::new(Mutex::new(Vec::new()));
    let kept = logs.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if v["fields"]["message"] == "serving" {
                let _ = tx.send(v["fields"]["port"].as_u64());
            }
            kept.lock().unwrap_or_else(PoisonError::into_inner).push(v);
        }
    });
    let port = rx
        .recv_timeout(Duration::from_secs(20))
        .ok()
        .flatten()
        .expect("The server logs its port within 20 s.");
    ServeProcess {
        app: TestApp {
            address: format!("http://127.0.0.1:{port}"),
            models,
        },
        child,
        logs,
    }
}

impl ServeProcess {
    /// Sends the signal `name` (`HUP`, `TERM`) to the server.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("The kill command runs.");
        assert!(status.success(), "kill -{name} failed: {status:?}");
    }

    /// The JSON log lines so far at `level` whose message is `message`.
    pub fn logged(&self, level: &str, message: &str) -> Vec<Value> {
        self.logs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|v| v["level"] == level && v["fields"]["message"] == message)
            .cloned()
            .collect()
    }

    pub fn wait_for_exit(&mut self) -> ExitStatus {
        self.child
            .wait()
            .expect("The server process can be waited for.")
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// Metrics.

/// The Prometheus text exposition of `/metrics`, parsed into samples.
pub struct Metrics {
    text: String,
    samples: Vec<Sample>,
}

struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

impl Metrics {
    pub fn parse(text: &str) -> Metrics {
        Metrics {
            text: text.to_owned(),
            samples: text
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .filter_map(parse_sample)
                .collect(),
        }
    }

    /// The value of the series `name` whose labels are exactly `labels`, in any order.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels == wanted)
            .map(|s| s.value)
    }

    /// The exposition lines whose series names start with `prefix`, for failure messages.
    pub fn lines(&self, prefix: &str) -> String {
        self.text
            .lines()
            .filter(|l| l.starts_with(prefix))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `name{label="value",...} value [timestamp]` or `name value [timestamp]`.
fn parse_sample(line: &str) -> Option<Sample> {
    let split = line.find(['{', ' '])?;
    let (labels, rest) = match line[split..].strip_prefix('{') {
        Some(inside) => parse_labels(inside)?,
        None => (BTreeMap::new(), &line[split..]),
    };
    Some(Sample {
        name: line[..split].to_owned(),
        labels,
        value: rest.split_whitespace().next()?.parse().ok()?,
    })
}

/// The labels after `{`, and what follows the closing `}`. Values may hold escaped quotes,
/// backslashes and newlines, and commas.
fn parse_labels(mut rest: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        let (key, after_key) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after_key.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim().to_owned(), value);
        rest = &after_key[end + 1..];
    }
}

fn series(name: &str, labels: &[(&str, &str)]) -> String {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", labels.join(","))
}

/// What a reload by `trigger` that made `version` of `model` its default and refused one
/// corrupt version of `model` must have added to the metrics since `before`: the reload
/// counted under its trigger, a loaded and a failed load of `model` counted, and
/// `model_info` 1 for the new default. Returns what is missing, followed by the `model_`
/// series for the failure message; empty when all is there.
pub fn reload_not_recorded(
    before: &Metrics,
    after: &Metrics,
    trigger: &str,
    model: &str,
    version: u32,
) -> Vec<String> {
    let mut missing = Vec::new();
    let counters: [(&str, &[(&str, &str)]); 3] = [
        ("model_reloads_total", &[("trigger", trigger)]),
        (
            "model_loads_total",
            &[("model", model), ("result", "loaded")],
        ),
        (
            "model_loads_total",
            &[("model", model), ("result", "failed")],
        ),
    ];
    for (name, labels) in counters {
        let was = before.value(name, labels).unwrap_or(0.0);
        match after.value(name, labels) {
            None => missing.push(format!("{} is absent", series(name, labels))),
            Some(now) if now < was + 1.0 => missing.push(format!(
                "{} is {now}; it was {was} before the reload",
                series(name, labels)
            )),
            Some(_) => {}
        }
    }
    let version = version.to_string();
    let info = [("model", model), ("version", version.as_str())];
    match after.value("model_info", &info) {
        Some(v) if (v - 1.0).abs() < 1e-9 => {}
        other => missing.push(format!(
            "{} is {other:?}, not 1 (the default version)",
            series("model_info", &info)
        )),
    }
    if !missing.is_empty() {
        missing.push(format!("the model series now:\n{}", after.lines("model_")));
    }
    missing
}

// Request bodies and problem documents.

/// One click of a July session on `product` (its first letter gives the category).
pub fn click(order: i64, product: &str, price: f64) -> Value {
    let category = match &product[..1] {
        "A" => 1,
        "B" => 2,
        "C" => 3,
        _ => 4,
    };
    json!({"year": 2008, "month": 7, "day": 3, "order": order, "country": 29,
           "page1_main_category": category, "page2_clothing_model": product, "colour": 3,
           "location": 2, "model_photography": 1, "price": price, "price_2": 2, "page": 1})
}

pub fn session(id: &str, clicks: Vec<Value>) -> Value {
    json!({"session_id": id, "clicks": clicks})
}

/// Session `s-1`: three clicks, out of order, no basket event.
pub fn browsing() -> Value {
    session(
        "s-1",
        vec![
            click(2, "B4", 52.0),
            click(1, "A13", 28.0),
            click(3, "C7", 38.0),
        ],
    )
}

pub const CSV_HEADER: &str = "year;month;day;order;country;session ID;page 1 (main category);page 2 (clothing model);colour;location;model photography;price;price 2;page";

/// A CSV upload in the UCI format: session `a` browses two products, session `b` clicks
/// P2 twice in a row (a basket event).
pub fn csv_body() -> String {
    format!(
        "{CSV_HEADER}\n2008;7;3;1;29;a;1;A13;1;5;1;28;2;1\n2008;7;3;2;29;a;2;B4;1;5;1;52;1;1\n2008;7;3;1;9;b;4;P2;3;1;2;20;2;2\n2008;7;3;2;9;b;4;P2;3;1;2;20;2;2\n"
    )
}

/// `r` is an `application/problem+json` document with `status`, a title and a detail.
pub fn assert_problem(r: &Reply, status: u16) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.content_type, "application/problem+json");
    assert_eq!(r.body["status"], status);
    assert!(
        r.body["title"].is_string() && r.body["detail"].is_string(),
        "{:?}",
        r.body
    );
}

// The command line.

pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_clickstream"))
        .args(args)
        .output()
        .expect("The clickstream binary runs.")
}

/// Runs `clickstream COMMAND --data DATA --models MODELS EXTRA...`.
pub fn run_on(command: &str, data: &Path, models: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        command,
        "--data",
        data.to_str().expect("The data path is UTF-8."),
        "--models",
        models.to_str().expect("The models path is UTF-8."),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("The file exists."))
        .expect("The file is JSON.")
}

/// A deterministic clickstream over April-June in the UCI format, with a planted signal:
/// sessions from the Czech Republic that view sale items convert far more often.
pub fn synthetic_clickstream(path: &Path, sessions: usize, seed: u64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut out = format!("{CSV_HEADER}\n");
    for s in 0..sessions {
        let month = 4 + (s * 3 / sessions) as u32;
        let day = 1 + rng.gen_range(0..28);
        let country = if rng.gen_bool(0.3) { 9 } else { 29 };
        let sale_lover = rng.gen_bool(0.4);
        let p_convert = match (country == 9, sale_lover) {
            (true, true) => 0.6,
            (true, false) | (false, true) => 0.2,
            (false, false) => 0.05,
        };
        let converts = rng.gen_bool(p_convert);
        let len = rng.gen_range(1..12usize);
        let basket_at = if converts && len >= 2 {
            Some(rng.gen_range(1..len))
        } else {
            None
        };
        let mut previous = String::new();
        for order in 0..len {
            let category = if sale_lover && rng.gen_bool(0.7) {
                4
            } else {
                rng.gen_range(1..=3)
            };
            let letter = ["A", "B", "C", "P"][category - 1];
            let mut product = format!("{letter}{}", rng.gen_range(1..30));
            if Some(order) == basket_at {
                product = previous.clone();
            } else if product == previous {
                // Avoid unplanned basket events.
                product = format!("{letter}{}", 30 + order);
            }
            let cat_of = |p: &str| match &p[..1] {
                "A" => 1,
                "B" => 2,
                "C" => 3,
                _ => 4,
            };
            let price = 20 + (product[1..].parse::<u32>().unwrap_or(1) * 3) % 60;
            let _ = writeln!(
                out,
                "2008;{month};{day};{};{country};{};{};{product};{};{};{};{price};{};{}",
                order + 1,
                s + 1,
                cat_of(&product),
                rng.gen_range(1..=14),
                rng.gen_range(1..=6),
                rng.gen_range(1..=2),
                if price > 50 { 1 } else { 2 },
                rng.gen_range(1..=5),
            );
            previous = product;
        }
    }
    std::fs::write(path, out).expect("The synthetic clickstream can be written.");
}
