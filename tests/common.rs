//! Helpers shared by the integration tests: run the real binary, make clickstreams.

#![allow(dead_code)] // Each test binary uses a different subset of the helpers.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_clickstream"))
        .args(args)
        .output()
        .expect("the clickstream binary runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A deterministic clickstream over April-June in the UCI format, with a planted signal:
/// sessions from the Czech Republic that view sale items convert far more often.
pub fn synthetic_clickstream(path: &Path, sessions: usize, seed: u64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut out = String::from("year;month;day;order;country;session ID;page 1 (main category);page 2 (clothing model);colour;location;model photography;price;price 2;page\n");
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
    std::fs::write(path, out).expect("write the synthetic clickstream");
}

/// Runs `clickstream COMMAND --data DATA --models MODELS EXTRA...`.
pub fn run_on(command: &str, data: &Path, models: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        command,
        "--data",
        data.to_str().expect("a UTF-8 data path"),
        "--models",
        models.to_str().expect("a UTF-8 models path"),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("the file exists")).expect("valid JSON")
}
