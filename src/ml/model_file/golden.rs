//! Golden self-test: a version whose outputs differ from what training recorded is refused
//! (a different build, a different platform's floats, a tampered file).

use super::error::LoadError;
use super::kind::ModelKind;
use super::manifest::Manifest;
use super::reading::Reading;
use crate::domain::catalogue::CodedClick;
use crate::domain::{Click, Session, SessionId};
use std::path::Path;

/// Relative tolerance: the same code on the same input must give the same floats, up to
/// summation order in parallel prediction.
const TOLERANCE: f64 = 1e-9;

/// Runs every golden case of `manifest` on `model`.
pub(super) fn check<M: ModelKind>(
    manifest: &Manifest,
    model: &M,
    reading: &Reading,
    path: &Path,
) -> Result<(), LoadError> {
    for case in &manifest.golden {
        let bad_input = |problem: String| LoadError::GoldenInput {
            path: path.to_owned(),
            session: case.session_id.clone(),
            problem,
        };
        let actual = match reading {
            Reading::Uci => {
                let clicks: Vec<Click> = case
                    .clicks
                    .iter()
                    .map(|raw| Click::parse(raw).map_err(|e| bad_input(format!("{e:?}"))))
                    .collect::<Result<_, _>>()?;
                let id =
                    SessionId::parse(&case.session_id).map_err(|e| bad_input(e.to_string()))?;
                let (session, _) =
                    Session::new(id, clicks).map_err(|e| bad_input(e.to_string()))?;
                model.session_outputs(reading.plan(), session.clicks())
            }
            Reading::Shop(shop) => {
                let clicks: Vec<CodedClick> = case.coded.iter().map(CodedClick::from).collect();
                if clicks.is_empty() {
                    return Err(bad_input(
                        "a shop's golden case stores no coded click".into(),
                    ));
                }
                if let Some(c) = clicks
                    .iter()
                    .find(|c| c.values.len() != 1 + shop.schema.attributes().count())
                {
                    return Err(bad_input(format!(
                        "a coded click holds {} values where the schema has {}",
                        c.values.len(),
                        1 + shop.schema.attributes().count()
                    )));
                }
                model.session_outputs(reading.plan(), &clicks)
            }
        };
        let same = actual.len() == case.expected.len()
            && actual
                .iter()
                .zip(&case.expected)
                .all(|(a, e)| (a - e).abs() <= TOLERANCE * e.abs().max(1.0));
        if !same {
            return Err(LoadError::Golden {
                path: path.to_owned(),
                session: case.session_id.clone(),
                expected: case.expected.clone(),
                actual,
            });
        }
    }
    Ok(())
}
