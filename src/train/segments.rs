//! Choosing the number of personas on the training months, by silhouette.

use super::prepare::Prepared;
use super::{Steps, TrainConfig, TrainError};
use crate::dataset;
use crate::ml::segment::{self, KChoice};

/// Progress steps of [`choose`].
pub(super) const STEPS: u64 = 1;

pub(super) struct SegmentChoice {
    pub k_choice: KChoice,
    /// Silhouette of the chosen k on the training months.
    pub silhouette_training: f64,
}

pub(super) fn choose<S: crate::domain::AnySession>(
    prepared: &Prepared<S>,
    config: &TrainConfig,
    steps: &Steps,
) -> Result<SegmentChoice, TrainError>
where
    S::Click: crate::features::ClickValues,
{
    steps.step("choosing k for segments");
    let fit_full = dataset::full_sessions::<f32, _>(prepared.plan, &prepared.split.fit);
    let features = segment::segment_features(prepared.plan);
    let k_choice = segment::choose_k(fit_full.view(), &features, &config.kmeans)?;
    let silhouette_training = k_choice
        .silhouette_by_k
        .iter()
        .find(|(k, _)| *k == k_choice.k)
        .map_or(0.0, |(_, s)| *s);
    Ok(SegmentChoice {
        k_choice,
        silhouette_training,
    })
}
