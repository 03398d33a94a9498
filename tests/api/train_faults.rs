//! `train` against a target that fails under it: a full disk, a read-only folder, a kill in
//! the middle of publishing. Each ends with a clear error (or none, for a kill) and no
//! version folder that a server would find half-written.
//!
//! A full or read-only filesystem is a real tmpfs mounted for the test, which needs root;
//! without it these tests say so and skip.

use crate::helpers::{run_on, spawn_app_on, synthetic_clickstream, text, MODELS};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A tmpfs of `size` at a fresh folder, unmounted when dropped; `None` (with a message)
/// where mounting is not allowed.
struct Mount {
    point: PathBuf,
    /// Holds the mount point's parent until the tmpfs is unmounted.
    _dir: tempfile::TempDir,
}

impl Mount {
    fn tmpfs(size: &str) -> Option<Mount> {
        let dir = tempfile::tempdir().expect("temp dir");
        let point = dir.path().join("mnt");
        std::fs::create_dir(&point).expect("mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&point)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root); the fault is not tried");
            return None;
        }
        Some(Mount { point, _dir: dir })
    }

    fn read_only(&self) {
        let status = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.point)
            .status()
            .expect("mount runs");
        assert!(status.success(), "remount read-only");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.point).status();
    }
}

/// Numbered version folders under `models`, as a server scanning it would see them.
fn versions(models: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for name in MODELS {
        let Ok(entries) = std::fs::read_dir(models.join(name)) else {
            continue;
        };
        for e in entries.flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            if file.parse::<u32>().is_ok() {
                found.push(format!("{name}/{file}"));
            }
        }
    }
    found.sort();
    found
}

fn data(dir: &Path) -> PathBuf {
    let data = dir.join("clicks.csv");
    synthetic_clickstream(&data, 1500, 42);
    data
}

const THIN: [&str; 2] = ["--min-sessions-per-class", "20"];

#[test]
fn train_into_a_full_disk_fails_naming_the_problem_and_leaves_no_version() {
    let work = tempfile::tempdir().expect("temp dir");
    let data = data(work.path());
    // Disks that fill up at different points of the three models' files and the report:
    // each train publishes all three versions or none, and says which.
    let mut failed = 0;
    for size in ["64k", "256k", "512k", "768k", "1m", "2m", "4m"] {
        let Some(mount) = Mount::tmpfs(size) else {
            return;
        };
        let models = mount.point.join("models");
        let out = run_on("train", &data, &models, &THIN);
        let stderr = text(&out.stderr);
        let found = versions(&models);
        if out.status.success() {
            assert_eq!(found.len(), 3, "{size}: {found:?}");
            continue;
        }
        failed += 1;
        assert!(
            stderr.contains("No space left on device"),
            "{size}: the error does not say the disk is full: {stderr}"
        );
        assert!(
            stderr.contains(&models.display().to_string()),
            "{size}: the error does not name the folder: {stderr}"
        );
        if found.is_empty() {
            continue;
        }
        // Full only once the versions were in place: they are whole, and the error says
        // they were published and that the report is what is missing.
        assert_eq!(found.len(), 3, "{size}: {found:?}");
        assert!(
            stderr.contains(
                "published convert v1, revenue v1, segment v1, but the report could not be written"
            ),
            "{size}: {stderr}"
        );
    }
    assert!(failed > 0, "no disk was small enough to fill");
}

#[test]
fn train_into_a_read_only_folder_fails_naming_it_and_writes_nothing() {
    let Some(mount) = Mount::tmpfs("4m") else {
        return;
    };
    let models = mount.point.join("models");
    std::fs::create_dir(&models).expect("models folder");
    mount.read_only();
    let work = tempfile::tempdir().expect("temp dir");
    let out = run_on("train", &data(work.path()), &models, &THIN);
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success(),
        "train succeeded on a read-only folder"
    );
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert!(stderr.contains(&models.display().to_string()), "{stderr}");
    assert_eq!(versions(&models), Vec::<String>::new());
}

#[test]
fn a_train_killed_while_publishing_leaves_only_whole_versions() {
    let work = tempfile::tempdir().expect("temp dir");
    let data = data(work.path());
    let models_dir = tempfile::tempdir().expect("models");
    let models = models_dir.path().to_path_buf();
    // Killed at a different moment of the publishing step each time: as soon as the step
    // is announced, then a little later, and so on.
    for delay_ms in [0u64, 2, 5, 10, 20, 40] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_clickstream"))
            .args(["train", "--data"])
            .arg(&data)
            .arg("--models")
            .arg(&models)
            .args(THIN)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("train starts");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
        let start = Instant::now();
        let publishing = lines.any(|l| l.is_ok_and(|l| l.contains("publishing model files")));
        assert!(publishing, "train never reached publishing");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        assert!(start.elapsed() < Duration::from_secs(60));
    }
    // Whatever each kill left, a server finds only whole versions: none refused.
    let found = versions(&models);
    let app = spawn_app_on(models_dir, &[]);
    let listed = app.get("/models").body;
    for model in listed.as_array().expect("a list") {
        assert_eq!(
            model["failed"],
            serde_json::json!([]),
            "a half-written version after a kill (versions on disk {found:?}): {model}"
        );
    }
    // And a train that is left alone still publishes the next version of each model.
    let out = run_on("train", &data, app.models.path(), &THIN);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(versions(app.models.path()).len(), found.len() + 3);
}
