//! Algorithms, metrics and model files. Named `ml` so it is not confused with the
//! top-level `models/` folder that holds the files.

pub mod booster;
pub mod classifier;
pub mod metrics;
pub mod model_file;
pub mod regressor;
pub mod scaler;
pub mod segment;
pub mod smote;
