use clap::{Parser, Subcommand};
use clickstream::evaluate::{self, EvaluateConfig};
use clickstream::service;
use clickstream::train::{self, TrainConfig};
use std::path::PathBuf;
use std::process::ExitCode;

/// Scores online-shop sessions: conversion, revenue and persona.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the data and the models are, shared by both commands.
#[derive(clap::Args)]
struct Files {
    /// Clickstream CSV (UCI original, a comma/snake_case copy, or headerless).
    #[arg(long)]
    data: PathBuf,
    /// Outcomes CSV `session_id,converted,revenue` replacing the basket proxy.
    #[arg(long)]
    outcomes: Option<PathBuf>,
    /// Folder of versioned model files.
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// Skip (and count) invalid rows instead of stopping at the first.
    #[arg(long)]
    skip_invalid: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Train the convert, revenue and segment models and publish the next version of each.
    Train {
        #[command(flatten)]
        files: Files,
        /// Minimum converting and non-converting sessions in training and validation.
        #[arg(long, default_value_t = TrainConfig::default().min_sessions_per_class)]
        min_sessions_per_class: usize,
        /// Minimum validation ROC-AUC of the conversion model to publish.
        #[arg(long, default_value_t = TrainConfig::default().min_roc_auc)]
        min_roc_auc: f64,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Compute the contract's metrics of a shipped version on a clickstream file.
    Evaluate {
        #[command(flatten)]
        files: Files,
        /// Version to evaluate (default: the highest of each model).
        #[arg(long)]
        version: Option<u32>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Serve the HTTP API (configuration from the environment: PORT, MODELS_DIR, ...).
    Serve,
    /// Probe the server on this host (PORT, HOST from the environment) and exit 0 when it
    /// answers 200: the container's HEALTHCHECK, with no curl in the image.
    Healthcheck {
        /// The route to probe: /readyz (models loaded) or /livez (process up).
        #[arg(long, default_value = "/readyz")]
        path: String,
        /// Give up after this many milliseconds.
        #[arg(long, default_value_t = 2000)]
        timeout_ms: u64,
    },
    /// Print the OpenAPI document of the HTTP API (or write it to a file).
    Openapi {
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train {
            files:
                Files {
                    data,
                    outcomes,
                    models,
                    skip_invalid,
                },
            min_sessions_per_class,
            min_roc_auc,
            quiet,
        } => {
            let config = TrainConfig {
                data,
                outcomes,
                models_dir: models,
                skip_invalid,
                min_sessions_per_class,
                min_roc_auc,
                quiet,
                ..TrainConfig::default()
            };
            let report = train::train(&config)?;
            for (name, version, dir) in &report.published {
                println!("published {name} version {version} in {dir}");
            }
            println!(
                "report: {} and {}",
                config.models_dir.join("report.md").display(),
                config.models_dir.join("report.json").display()
            );
        }
        Command::Evaluate {
            files:
                Files {
                    data,
                    outcomes,
                    models,
                    skip_invalid,
                },
            version,
            json,
        } => {
            let report = evaluate::evaluate(&EvaluateConfig {
                data,
                outcomes,
                models_dir: models,
                version,
                skip_invalid,
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.text());
            }
        }
        Command::Serve => {
            let settings = service::settings::Settings::from_env()?;
            service::init_telemetry(settings.log_format);
            actix_web::rt::System::new().block_on(async move {
                let app = service::Application::build(settings)?;
                tracing::info!(port = app.port(), "serving");
                app.run_until_stopped().await
            })?;
        }
        Command::Healthcheck { path, timeout_ms } => {
            let settings = service::settings::Settings::from_env()?;
            let timeout = std::time::Duration::from_millis(timeout_ms);
            service::probe::probe(&settings, &path, timeout)?;
        }
        Command::Openapi { out } => {
            let text = service::openapi().to_pretty_json()? + "\n";
            match out {
                Some(path) => std::fs::write(path, text)?,
                None => print!("{text}"),
            }
        }
    }
    Ok(())
}
