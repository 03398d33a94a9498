//! The one session hash (docs/sampling.md): a session's key and a seed give a whole number
//! below 2^52, from which come its place in [0, 1) (the session sample) and its fold (the
//! out-of-fold product table). Spark, DuckDB and BigQuery compute the same number with
//! their built-in functions, so a session is in or out of a sample, and in the same fold,
//! whichever engine reads it and wherever its rows are.

use md5::{Digest, Md5};
use std::cmp::Ordering;
use std::fmt;

/// Bits of the hash: 13 hex digits of the MD5. 52 bits fit in BigQuery's signed INT64
/// (which cannot hold 64) and in a double's mantissa, so h / 2^52 is exact in every engine
/// and comparing it with the fraction gives the same answer everywhere.
pub const HASH_BITS: u32 = 52;

/// 2^52, the exclusive bound of the hash.
const HASH_RANGE: f64 = (1u64 << HASH_BITS) as f64;

/// The seed of the session hash unless one is given: the year of the UCI data, as the
/// trainer's other seeds.
pub const DEFAULT_SEED: u64 = 2008;

/// The session hash under one seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionHash {
    seed: u64,
}

impl Default for SessionHash {
    fn default() -> Self {
        SessionHash::new(DEFAULT_SEED)
    }
}

impl SessionHash {
    pub fn new(seed: u64) -> SessionHash {
        SessionHash { seed }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The first 13 hex digits of MD5(`{seed}:{key}`, as UTF-8), read as an unsigned
    /// whole number: in SQL, `CAST('0x' || substr(md5(seed || ':' || key), 1, 13) AS BIGINT)`.
    pub fn value(&self, key: &str) -> u64 {
        let digest = Md5::new()
            .chain_update(self.seed.to_string().as_bytes())
            .chain_update(b":")
            .chain_update(key.as_bytes())
            .finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        // The first 16 hex digits, less the last three (12 bits).
        u64::from_be_bytes(first) >> (64 - HASH_BITS)
    }

    /// The session's place in [0, 1): `value / 2^52`, exact in a double.
    pub fn unit(&self, key: &str) -> f64 {
        self.value(key) as f64 / HASH_RANGE
    }

    /// The session's fold of `folds` (at least 1): `value mod folds`.
    pub fn fold(&self, key: &str, folds: usize) -> usize {
        // The remainder is below `folds`, so it fits back in a usize.
        (self.value(key) % folds.max(1) as u64) as usize
    }
}

/// The share of sessions `train --sample-fraction` keeps: above 0, at most 1.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, serde::Serialize)]
#[serde(transparent)]
pub struct Fraction(f64);

impl Fraction {
    /// Every session.
    pub const ALL: Fraction = Fraction(1.0);

    pub fn parse(text: &str) -> Result<Fraction, String> {
        match text.trim().parse::<f64>() {
            Ok(f) => Fraction::new(f),
            Err(_) => Err(format!(
                "{text:?} is not a number above 0 and at most 1 (the share of sessions kept)"
            )),
        }
    }

    pub fn new(fraction: f64) -> Result<Fraction, String> {
        if fraction > 0.0 && fraction <= 1.0 {
            Ok(Fraction(fraction))
        } else {
            Err(format!(
                "{fraction} is not above 0 and at most 1 (the share of sessions kept)"
            ))
        }
    }

    pub fn get(self) -> f64 {
        self.0
    }

    pub fn is_all(self) -> bool {
        self.0 >= 1.0
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A session sample: the sessions whose hash lies below the fraction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub hash: SessionHash,
    pub fraction: Fraction,
}

impl Sample {
    /// Every session (the hash's seed is then of no consequence).
    pub const ALL: Sample = Sample {
        hash: SessionHash { seed: DEFAULT_SEED },
        fraction: Fraction::ALL,
    };

    /// Whether the session of this key is in the sample: `value / 2^52 < fraction`; at
    /// fraction 1 every session is.
    pub fn keeps(&self, key: &str) -> bool {
        self.fraction.is_all() || self.hash.unit(key) < self.fraction.get()
    }
}

/// What training may hold of a sampled stream (`train --max-sessions`, `--max-clicks`):
/// memory grows with the clicks kept (each valid prefix is a row of the training
/// matrices), and sessions of a shop can be far longer than the UCI file's 7 clicks, so a
/// budget of sessions alone does not bound it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub sessions: usize,
    pub clicks: u64,
}

impl Budget {
    /// No budget: every session below the fraction is kept, with no counting pass.
    pub const NONE: Budget = Budget {
        sessions: usize::MAX,
        clicks: u64::MAX,
    };

    pub fn is_none(&self) -> bool {
        *self == Budget::NONE
    }
}

/// One session of the data as a budget counts it: its hash value and its clicks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub value: u64,
    pub clicks: u32,
}

impl Candidate {
    /// The session of this key and this many clicks, under `hash`.
    pub fn of(hash: SessionHash, key: &str, clicks: usize) -> Candidate {
        Candidate {
            value: hash.value(key),
            // Readers cap a session's clicks far below u32::MAX.
            clicks: u32::try_from(clicks).unwrap_or(u32::MAX),
        }
    }
}

impl Sample {
    /// This sample narrowed to the budget, given every session of the data (`sessions`,
    /// one each, any order): when the sessions below the fraction hold more sessions or
    /// more clicks than the budget, the fraction becomes the place of the first session in
    /// hash order past either, so exactly the lowest sessions that fit are kept, and the
    /// same fraction keeps the same sessions in Spark or SQL (docs/sampling.md).
    pub fn within(self, mut sessions: Vec<Candidate>, budget: Budget) -> Sample {
        let below = |c: &Candidate| {
            self.fraction.is_all() || (c.value as f64 / HASH_RANGE) < self.fraction.get()
        };
        sessions.retain(below);
        let clicks: u64 = sessions.iter().map(|c| u64::from(c.clicks)).sum();
        if sessions.len() <= budget.sessions && clicks <= budget.clicks {
            return self;
        }
        // Only the lowest `sessions` values can be kept: put them first, unordered, before
        // sorting that many (not every session of a large file) by value.
        if sessions.len() > budget.sessions {
            sessions.select_nth_unstable_by_key(budget.sessions, |c| c.value);
        }
        let head = budget.sessions.min(sessions.len());
        sessions[..head].sort_unstable_by_key(|c| c.value);
        let mut held = 0u64;
        let past = sessions.iter().enumerate().find_map(|(i, c)| {
            held += u64::from(c.clicks);
            (i >= budget.sessions || held > budget.clicks).then_some(c.value)
        });
        let Some(past) = past else {
            return self;
        };
        match Fraction::new(past as f64 / HASH_RANGE) {
            Ok(fraction) => Sample {
                hash: self.hash,
                fraction,
            },
            // A budget of nothing: the lowest hash value is 0, its place 0, which no
            // fraction is; the caller refuses a budget of 0 before reading.
            Err(_) => self,
        }
    }
}

/// The order training puts sessions in, whatever order they arrived in: shorter keys first,
/// then by their UTF-8 bytes. For decimal ids without leading zeros (the UCI file's) it is
/// their numeric order, which is the order that file is published in.
pub fn key_order(a: &str, b: &str) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_keeps_exactly_the_lowest_values_under_the_fraction() {
        let hash = SessionHash::default();
        let keys: Vec<String> = (0..1000).map(|i| format!("s{i}")).collect();
        let counted: Vec<Candidate> = keys
            .iter()
            .map(|k| Candidate {
                value: hash.value(k),
                clicks: 1,
            })
            .collect();
        let half = Sample {
            hash,
            fraction: Fraction::new(0.5).expect("a fraction"),
        };
        let sessions = |n| Budget {
            sessions: n,
            clicks: u64::MAX,
        };
        let under_half = keys.iter().filter(|k| half.keeps(k)).count();
        // A budget above what the fraction keeps changes nothing.
        assert_eq!(half.within(counted.clone(), sessions(under_half)), half);
        let narrowed = half.within(counted.clone(), sessions(100));
        assert!(narrowed.fraction.get() < 0.5);
        let kept: Vec<&String> = keys.iter().filter(|k| narrowed.keeps(k)).collect();
        assert_eq!(kept.len(), 100);
        let mut lowest: Vec<u64> = counted.iter().map(|c| c.value).collect();
        lowest.sort_unstable();
        let highest_kept = kept.iter().map(|k| hash.value(k)).max().expect("kept some");
        assert_eq!(highest_kept, lowest[99]);
    }

    #[test]
    fn a_budget_of_clicks_keeps_the_lowest_sessions_whose_clicks_fit() {
        let hash = SessionHash::default();
        // Session i has i % 7 + 1 clicks.
        let keys: Vec<String> = (0..2000).map(|i| i.to_string()).collect();
        let clicks = |k: &str| k.parse::<u32>().map_or(0, |i| i % 7 + 1);
        let counted: Vec<Candidate> = keys
            .iter()
            .map(|k| Candidate {
                value: hash.value(k),
                clicks: clicks(k),
            })
            .collect();
        let all = Sample::ALL;
        let total: u64 = counted.iter().map(|c| u64::from(c.clicks)).sum();
        let budget = |clicks| Budget {
            sessions: usize::MAX,
            clicks,
        };
        assert_eq!(all.within(counted.clone(), budget(total)), all);
        let narrowed = all.within(counted.clone(), budget(1000));
        let kept: Vec<&String> = keys.iter().filter(|k| narrowed.keeps(k)).collect();
        let held: u64 = kept.iter().map(|k| u64::from(clicks(k))).sum();
        assert!(held <= 1000, "{held}");
        // The next session in hash order would not have fitted.
        let mut order = counted.clone();
        order.sort_unstable_by_key(|c| c.value);
        let next = order[kept.len()];
        assert!(held + u64::from(next.clicks) > 1000);
        assert!(kept.iter().all(|k| hash.value(k) < next.value));
        // Both budgets: the tighter one binds, whichever it is.
        let both = Budget {
            sessions: 50,
            clicks: 1000,
        };
        let by_sessions = all.within(counted.clone(), both);
        assert_eq!(keys.iter().filter(|k| by_sessions.keeps(k)).count(), 50);
        let both = Budget {
            sessions: 1000,
            clicks: 100,
        };
        let by_clicks = all.within(counted, both);
        let held: u64 = keys
            .iter()
            .filter(|k| by_clicks.keeps(k))
            .map(|k| u64::from(clicks(k)))
            .sum();
        assert!((90..=100).contains(&held), "{held}");
    }

    #[test]
    fn the_hash_is_the_first_13_hex_digits_of_the_md5_of_seed_colon_key() {
        // `printf '2008:1' | md5sum` is 1acfc972384e8a3c3839b2a65a143881; its first 13 hex
        // digits, 1acfc972384e8, are 471675844134120.
        let hash = SessionHash::new(2008);
        assert_eq!(hash.value("1"), 0x1acfc972384e8);
        assert_eq!(hash.value("1"), 471_675_844_134_120);
        assert_eq!(hash.unit("1"), 471_675_844_134_120.0 / 2f64.powi(52));
    }

    /// deploy/spark/hash-fixture.jsonl: keys (composite, unicode, empty parts, leading
    /// zeros) with their hash from Python's hashlib; deploy/spark/test.sh holds Spark's and
    /// DuckDB's to the same numbers.
    #[test]
    fn the_hash_agrees_with_the_fixture_spark_and_duckdb_are_held_to() {
        #[derive(serde::Deserialize)]
        struct Case {
            seed: u64,
            parts: Vec<String>,
            key: String,
            hash: u64,
        }
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy/spark/hash-fixture.jsonl");
        let text = std::fs::read_to_string(&path).expect("the fixture reads");
        let mut cases = 0;
        for line in text.lines() {
            let case: Case = serde_json::from_str(line).expect("a fixture line");
            // A composite key is its parts joined with "/", as a shop's reader names it.
            assert_eq!(case.parts.join("/"), case.key);
            assert_eq!(
                SessionHash::new(case.seed).value(&case.key),
                case.hash,
                "{line}"
            );
            cases += 1;
        }
        assert!(cases >= 15, "{cases} cases");
    }

    #[test]
    fn the_seed_changes_the_hash() {
        assert_ne!(
            SessionHash::new(1).value("42"),
            SessionHash::new(2).value("42")
        );
    }

    #[test]
    fn folds_and_sample_come_from_the_one_value() {
        let hash = SessionHash::default();
        for key in ["1", "u1/42", "é", ""] {
            assert_eq!(hash.fold(key, 5) as u64, hash.value(key) % 5);
            let half = Sample {
                hash,
                fraction: Fraction::new(0.5).expect("a fraction"),
            };
            assert_eq!(half.keeps(key), hash.value(key) < 1 << (HASH_BITS - 1));
        }
    }

    #[test]
    fn a_sample_keeps_about_its_fraction_and_all_at_one() {
        let hash = SessionHash::default();
        let keys: Vec<String> = (1..=20_000).map(|i| i.to_string()).collect();
        let kept = |f: f64| {
            let sample = Sample {
                hash,
                fraction: Fraction::new(f).expect("a fraction"),
            };
            keys.iter().filter(|k| sample.keeps(k)).count()
        };
        assert_eq!(kept(1.0), keys.len());
        let tenth = kept(0.1);
        assert!((1_800..=2_200).contains(&tenth), "{tenth}");
        // A smaller fraction keeps a subset of a larger one's sessions.
        assert!(kept(0.05) < tenth);
    }

    #[test]
    fn a_fraction_is_above_0_and_at_most_1() {
        for bad in ["0", "-0.1", "1.5", "NaN", "inf", "half", ""] {
            assert!(Fraction::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Fraction::parse("1").map(Fraction::get), Ok(1.0));
        assert_eq!(Fraction::parse("0.25").map(Fraction::get), Ok(0.25));
    }

    #[test]
    fn the_key_order_is_numeric_for_decimal_ids() {
        let mut keys = vec!["10", "9", "100", "2", "1"];
        keys.sort_by(|a, b| key_order(a, b));
        assert_eq!(keys, ["1", "2", "9", "10", "100"]);
        let mut keys = vec!["u2/1", "u10/1", "u1/10"];
        keys.sort_by(|a, b| key_order(a, b));
        assert_eq!(keys, ["u2/1", "u1/10", "u10/1"]);
    }
}
