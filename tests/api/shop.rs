//! A shop other than the UCI one, trained once for the whole test binary: the second
//! shop's generator (`examples/second_shop.rs`) at a small size and a fixed seed, trained
//! by the real `train --schema`. The commands' tests read its models and never write
//! into its folder.

use crate::helpers::{run, text};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Sessions generated: enough for both classes in June at the floor below.
pub const SESSIONS: usize = 4000;
pub const SEED: u64 = 18;
/// The floor of converting and other sessions on each side of the split, small for a
/// small shop.
pub const MIN_PER_CLASS: &str = "20";

/// The shop's files and its trained models.
pub struct Shop {
    pub clicks: PathBuf,
    pub orders: PathBuf,
    pub schema: PathBuf,
    pub models: PathBuf,
}

/// The shop, generated and trained by the first test that asks for it.
pub fn trained() -> &'static Shop {
    static SHOP: OnceLock<Shop> = OnceLock::new();
    SHOP.get_or_init(|| {
        // Under cargo's folder for integration tests' files, made afresh by each run so
        // no model of an older build is read.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("api-second-shop");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("The last run's shop folder can be removed.");
        }
        crate::second_shop::generate(SESSIONS, SEED)
            .write(&dir, SEED)
            .expect("The generated shop's files are written.");
        let shop = Shop {
            clicks: dir.join("clicks.csv"),
            orders: dir.join("orders.csv"),
            schema: dir.join("schema.toml"),
            models: dir.join("models"),
        };
        let out = run(&[
            "train",
            "--quiet",
            "--schema",
            path(&shop.schema),
            "--data",
            path(&shop.clicks),
            "--outcomes",
            path(&shop.orders),
            "--models",
            path(&shop.models),
            "--min-sessions-per-class",
            MIN_PER_CLASS,
        ]);
        assert!(
            out.status.success(),
            "train --schema failed: {}",
            text(&out.stderr)
        );
        shop
    })
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("The test's paths are UTF-8.")
}

/// The shop's clicks with `edit` applied to each data row (the header kept), written to
/// `to`.
pub fn clicks_edited(to: &Path, mut edit: impl FnMut(&str) -> Option<String>) {
    let text = std::fs::read_to_string(&trained().clicks).expect("The clicks file reads.");
    let mut lines = text.lines();
    let mut out = String::new();
    if let Some(header) = lines.next() {
        out.push_str(header);
        out.push('\n');
    }
    for line in lines {
        if let Some(line) = edit(line) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    std::fs::write(to, out).expect("The edited clicks are written.");
}
