//! The `serve` binary as an orchestrator runs it: SIGHUP picks up a new version, SIGTERM
//! lets the request in flight finish before the process exits.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    address: String,
    models: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    let models = tempfile::tempdir().expect("temp dir");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    for name in ["convert", "revenue", "segment"] {
        let to = models.path().join(name).join("1");
        std::fs::create_dir_all(&to).expect("create");
        for file in ["manifest.json", "weights.json"] {
            std::fs::copy(shipped.join(name).join("1").join(file), to.join(file)).expect("copy");
        }
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_clickstream"))
        .arg("serve")
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env("MODELS_DIR", models.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if v["fields"]["message"] == "serving" {
                let _ = tx.send(v["fields"]["port"].as_u64());
            }
        }
    });
    let port = rx
        .recv_timeout(Duration::from_secs(20))
        .ok()
        .flatten()
        .expect("the server logs its port");
    Server {
        child,
        address: format!("http://127.0.0.1:{port}"),
        models,
    }
}

fn signal(server: &Server, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), server.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

fn default_convert_version(server: &Server) -> u64 {
    let body: serde_json::Value = ureq::get(&format!("{}/models/convert", server.address))
        .call()
        .expect("models answers")
        .into_json()
        .expect("json");
    body["default_version"].as_u64().unwrap_or(0)
}

#[test]
fn sighup_loads_a_newly_published_version() {
    let server = start();
    assert_eq!(default_convert_version(&server), 1);
    let v2 = server.models.path().join("convert/2");
    std::fs::create_dir_all(&v2).expect("create");
    let v1 = server.models.path().join("convert/1");
    std::fs::copy(v1.join("weights.json"), v2.join("weights.json")).expect("copy");
    let manifest = std::fs::read_to_string(v1.join("manifest.json")).expect("read");
    let mut m: serde_json::Value = serde_json::from_str(&manifest).expect("json");
    m["version"] = 2.into();
    std::fs::write(v2.join("manifest.json"), m.to_string()).expect("write");

    signal(&server, "HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while default_convert_version(&server) != 2 {
        assert!(Instant::now() < deadline, "SIGHUP did not load version 2");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits() {
    let mut server = start();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("big.csv");
    common::synthetic_clickstream(&data, 45_000, 5);
    let body = std::fs::read(&data).expect("read");
    let url = format!("{}/score/batch", server.address);
    let in_flight = std::thread::spawn(move || {
        ureq::post(&url)
            .set("Content-Type", "text/csv")
            .send_bytes(&body)
            .map(|r| {
                let status = r.status();
                let mut bytes = Vec::new();
                let read = std::io::Read::read_to_end(&mut r.into_reader(), &mut bytes);
                (status, read.map(|_| bytes.len()).unwrap_or(0))
            })
            .map_err(|e| e.to_string())
    });
    std::thread::sleep(Duration::from_millis(150));
    signal(&server, "TERM");
    let (status, length) = in_flight
        .join()
        .expect("the client thread ends")
        .expect("the request in flight gets its answer");
    assert_eq!(status, 200);
    // Every one of the 45000 sessions is answered (about 600 bytes of JSON each).
    assert!(length > 45_000 * 500, "a whole answer ({length} bytes)");
    let exit = server.child.wait().expect("the server exits");
    assert!(exit.success(), "{exit:?}");
}
