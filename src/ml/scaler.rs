use crate::dataset::Element;
use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// Per-column standardisation, stored inside the models that need it (linear models,
/// SMOTE's distances, k-means) so the service applies exactly the training transform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl Scaler {
    /// Means and deviations in `f64` whatever the rows are stored in: one column is
    /// widened at a time.
    pub fn fit<F: Element>(x: ArrayView2<F>) -> Scaler {
        let (mean, std) = x
            .columns()
            .into_iter()
            .map(|column| {
                let column = column.mapv(|v| -> f64 { v.into() });
                let std = column.std(0.0);
                // A constant column would divide by zero; leaving it unscaled is harmless.
                let std = if std > 1e-12 { std } else { 1.0 };
                (column.mean().unwrap_or_default(), std)
            })
            .unzip();
        Scaler { mean, std }
    }

    /// Standardised `f64` rows from rows stored in either type.
    pub fn transform<F: Element>(&self, x: ArrayView2<F>) -> Array2<f64> {
        let mut out = x.mapv(|v| -> f64 { v.into() });
        for mut row in out.axis_iter_mut(Axis(0)) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
        out
    }

    pub fn transform_row(&self, row: ArrayView1<f64>) -> Vec<f64> {
        row.iter()
            .zip(&self.mean)
            .zip(&self.std)
            .map(|((v, m), s)| (v - m) / s)
            .collect()
    }
}

/// `intercept + coefficients . standardised(x)`: what the linear models compute, with the
/// scaling they were fitted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearForm {
    pub scaler: Scaler,
    pub coefficients: Vec<f64>,
    pub intercept: f64,
}

impl LinearForm {
    pub fn predict(&self, x: ArrayView2<f64>) -> Vec<f64> {
        x.axis_iter(Axis(0))
            .map(|row| {
                let z = self.scaler.transform_row(row);
                self.intercept
                    + z.iter()
                        .zip(&self.coefficients)
                        .map(|(a, b)| a * b)
                        .sum::<f64>()
            })
            .collect()
    }
}
