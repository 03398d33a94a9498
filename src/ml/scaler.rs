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
    pub fn fit(x: ArrayView2<f64>) -> Scaler {
        let mean = x.mean_axis(Axis(0)).map(|m| m.to_vec()).unwrap_or_default();
        let std = x
            .std_axis(Axis(0), 0.0)
            .iter()
            // A constant column would divide by zero; leaving it unscaled is harmless.
            .map(|&s| if s > 1e-12 { s } else { 1.0 })
            .collect();
        Scaler { mean, std }
    }

    pub fn transform(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut out = x.to_owned();
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
