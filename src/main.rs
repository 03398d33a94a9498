use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use clickstream::domain::sample::Fraction;
use clickstream::domain::MAX_CLICKS_PER_SESSION;
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

/// Where and within how much memory rows whose sessions lie apart are grouped on disk
/// (`score`'s rows apart, `train`'s census of a sample).
#[derive(clap::Args, Debug)]
struct Spill {
    /// The folder the rows are grouped in on disk (a temporary folder is made in it and
    /// removed at the end): room for a copy of the data as CSV text. In Kubernetes, an
    /// emptyDir volume (deploy/kubernetes).
    #[arg(long, value_name = "DIR", default_value_os_t = std::env::temp_dir())]
    spill_dir: PathBuf,
    /// The memory, in MiB, the grouping of one partition of rows on disk may take; the
    /// partitions are as many as the file needs to fit it. Fractions are allowed.
    #[arg(long, value_name = "MIB", default_value_t = clickstream::reader::spill::DEFAULT_BUDGET_MIB, value_parser = positive_mib)]
    memory_budget: f64,
}

impl Spill {
    fn options(self) -> clickstream::reader::spill::SpillOptions {
        clickstream::reader::spill::SpillOptions {
            dir: self.spill_dir,
            // Within the range `positive_mib` allows, so the product is a whole number of
            // bytes that fits.
            budget: (self.memory_budget * 1024.0 * 1024.0) as u64,
        }
    }
}

/// Where the data and the models are, shared by both commands.
#[derive(clap::Args)]
struct Files {
    /// Clickstream: CSV (UCI original, a comma/snake_case copy, or headerless), or Parquet
    /// with the same columns (a file, or a folder of part files), told by content. A shop's
    /// file (train --schema, or evaluate of a shop's models) is read by that schema's
    /// headers, rows of a session anywhere in it.
    #[arg(long)]
    data: PathBuf,
    /// Outcomes CSV `session_id,converted,revenue` replacing the basket proxy (required
    /// where the schema says orders do not show in the clicks).
    #[arg(long)]
    outcomes: Option<PathBuf>,
    /// Folder of versioned model files (read by evaluate, published into by train).
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// Skip (and count) invalid rows instead of stopping at the first.
    #[arg(long)]
    skip_invalid: bool,
    /// Skip (and count, with examples) sessions of more clicks than this, as the service
    /// refuses them (MAX_CLICKS_PER_SESSION).
    #[arg(long, value_name = "N", default_value_t = MAX_CLICKS_PER_SESSION, value_parser = at_least_one)]
    max_clicks_per_session: usize,
}

#[derive(Subcommand)]
enum Command {
    /// Train the convert, revenue and segment models and publish the next version of each.
    Train {
        #[command(flatten)]
        files: Files,
        /// Minimum converting and non-converting sessions in training and validation.
        #[arg(long, default_value_t = TrainConfig::default().min_sessions_per_class, value_parser = at_least_one)]
        min_sessions_per_class: usize,
        /// Minimum validation ROC-AUC of the conversion model to publish, 0 to 1.
        #[arg(long, default_value_t = TrainConfig::default().min_roc_auc, value_parser = unit_interval)]
        min_roc_auc: f64,
        /// Validate on the sessions starting on or after this day (YYYY-MM-DD), train on
        /// those before. Default: the latest calendar month when both sides meet
        /// --min-sessions-per-class, else the shortest trailing period that does.
        #[arg(long, value_name = "DATE", value_parser = day)]
        validate_from: Option<chrono::NaiveDate>,
        /// The shop's schema file (docs/schema.md): which columns hold the session, the
        /// time, the product, the category, the price and the attributes. Default: the
        /// UCI shop's (schemas/uci.toml).
        #[arg(long, value_name = "FILE")]
        schema: Option<PathBuf>,
        /// Keep this share of the sessions (above 0, at most 1): those whose session hash
        /// (docs/sampling.md) lies below it, wherever their rows are; Spark's and the SQL
        /// sample of deploy/spark keep the same ones.
        #[arg(long, value_name = "F", default_value_t = TrainConfig::default().sample_fraction, value_parser = Fraction::parse)]
        sample_fraction: Fraction,
        /// The session hash's seed: which sessions the sample keeps, and each session's
        /// fold of the out-of-fold product rates.
        #[arg(long, value_name = "N", default_value_t = TrainConfig::default().session_seed)]
        session_seed: u64,
        /// The most sessions training holds: a file of more is sampled down to it by the
        /// session hash (the lowest hashes kept, wherever their rows are), after a first
        /// pass that counts them, so memory follows this budget, not the file. The report
        /// says how many were read and kept.
        #[arg(long, value_name = "N", default_value_t = TrainConfig::default().max_sessions, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
        max_sessions: usize,
        /// The most clicks the sessions training holds may have (about 1 KB of memory a
        /// click): a file of longer sessions is sampled down to the lowest hashes that fit
        /// both this and --max-sessions.
        #[arg(long, value_name = "N", default_value_t = TrainConfig::default().max_clicks, value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(1..))]
        max_clicks: u64,
        /// For a sample of a file whose sessions' rows lie apart, the census of every
        /// session (the validation period, class counts and product rates) groups them on
        /// disk here, within this budget (docs/sampling.md).
        #[command(flatten)]
        spill: Spill,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Compute the contract's metrics of a shipped version on a clickstream file: as text,
    /// as JSON (--json), and as charts in one HTML page (--html FILE). A shop's models read
    /// the file by the schema, catalogue and features they record.
    #[command(
        override_usage = "clickstream evaluate --data <DATA> [--models <MODELS>] [--version <VERSION>] [--json] [--html <FILE>] [OPTIONS]"
    )]
    Evaluate {
        #[command(flatten)]
        files: Files,
        /// Version to evaluate (default: the highest of each model).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        version: Option<u32>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also write the model charts (conversion, revenue, segments) and the data's as
        /// one self-contained HTML page to this file.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Score a clickstream file without a server: the answers, columns and versions of
    /// POST /score/batch (or /convert/batch, ...), streamed. A shop's models (train
    /// --schema) read the file by the schema they record and carry its passthrough columns
    /// back.
    Score {
        /// Clickstream: CSV (UCI original, a comma/snake_case copy, or headerless), or
        /// Parquet with the same columns (a file, or a folder of part files); streamed when
        /// each session's rows are together, as in the UCI file (else see --unsorted). For a shop's models, the
        /// columns its schema names (a header required), rows of a session anywhere: such a
        /// file is read whole before scoring, so memory grows with it.
        #[arg(long)]
        data: PathBuf,
        /// Folder of versioned model files.
        #[arg(long, default_value = "models")]
        models: PathBuf,
        /// Version of each model to answer with (default: the highest valid one of each,
        /// as the server serves by default); with --model all it applies to all three.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        version: Option<u32>,
        /// Which answers: one model's, or all three (as POST /score/batch).
        #[arg(long, value_enum, default_value = "all")]
        model: clickstream::offline::Which,
        /// How to write the answers.
        #[arg(long, value_enum, default_value = "csv")]
        format: clickstream::offline::Format,
        /// Write the answers to this file (whole or not at all) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Skip (and count) invalid rows instead of stopping at the first.
        #[arg(long)]
        skip_invalid: bool,
        /// Skip (and count, with examples) sessions of more clicks than this, as the service
        /// refuses them (MAX_CLICKS_PER_SESSION).
        #[arg(long, value_name = "N", default_value_t = MAX_CLICKS_PER_SESSION, value_parser = at_least_one)]
        max_clicks_per_session: usize,
        /// Keep CSV text cells exactly as they are, for a program reading the answer. By
        /// default a text cell starting with =, +, -, @, a tab or a carriage return gets a
        /// leading ' so a spreadsheet shows it instead of running it (as the batch routes
        /// do unless CSV_FORMULA_GUARD=false).
        #[arg(long)]
        no_formula_guard: bool,
        /// The sessions' rows may lie anywhere in the file (a warehouse export): group them
        /// on disk before scoring, within --memory-budget. Without it, a file is streamed
        /// and, at the first session whose rows come back, read again this way when the
        /// answers go to a regular --out file (else the run stops, saying so). Answers then
        /// come out partition by partition of the session hash, in key order inside each.
        #[arg(long)]
        unsorted: bool,
        #[command(flatten)]
        spill: Spill,
    },
    /// Serve the HTTP API (configuration from the environment: PORT, MODELS_DIR, ...).
    Serve {
        /// Options are not read: a stray `--port 9000` gets a hint to use `PORT=9000`.
        #[arg(hide = true, num_args = 0.., allow_hyphen_values = true, trailing_var_arg = true)]
        stray: Vec<String>,
    },
    /// Probe the server on this host (PORT, HOST from the environment) and exit 0 when it
    /// answers 200: the container's HEALTHCHECK, with no curl in the image.
    Healthcheck {
        /// The route to probe: /readyz (models loaded) or /livez (process up).
        #[arg(long, default_value = "/readyz")]
        path: String,
        /// Give up after this many milliseconds.
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
        timeout_ms: u64,
    },
    /// Print the OpenAPI document of the HTTP API (or write it to a file).
    Openapi {
        /// Write the document to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `--memory-budget`: a number of MiB within what grouping works in.
fn positive_mib(text: &str) -> Result<f64, String> {
    use clickstream::reader::spill::{MAX_BUDGET_MIB, MIN_BUDGET_MIB};
    match text.parse::<f64>() {
        Ok(v) if (MIN_BUDGET_MIB..=MAX_BUDGET_MIB).contains(&v) => Ok(v),
        _ => Err(format!(
            "{text:?} is not a number of MiB from {MIN_BUDGET_MIB} to {MAX_BUDGET_MIB}"
        )),
    }
}

/// `--min-roc-auc`: a ROC-AUC lies between 0 and 1.
fn unit_interval(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        Ok(v) => Err(format!("{v} is not between 0 and 1")),
        Err(_) => Err(format!("{text:?} is not a number between 0 and 1")),
    }
}

/// `--validate-from`: a calendar day written in full, as the reports write it.
fn day(text: &str) -> Result<chrono::NaiveDate, String> {
    match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        // The length check refuses the short forms the parser lets through (2008-7-1).
        Ok(day) if text.len() == "YYYY-MM-DD".len() => Ok(day),
        _ => Err(format!("{text:?} is not a day written YYYY-MM-DD")),
    }
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{text:?} is not a whole number of at least 1")),
    }
}

/// The command line, with `serve --help` listing the environment it reads.
fn command() -> clap::Command {
    Cli::command().mut_subcommand("serve", |serve| {
        serve.after_help(service::settings::variables_help())
    })
}

/// What to say when `serve` is given options: it reads the environment instead.
fn stray_serve_options(stray: &[String]) -> String {
    let variables = service::settings::variables();
    let mut hints = Vec::new();
    let mut args = stray.iter().peekable();
    while let Some(arg) = args.next() {
        let Some(option) = arg.strip_prefix("--") else {
            continue;
        };
        let (name, inline) = match option.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (option, None),
        };
        let variable = name.replace('-', "_").to_ascii_uppercase();
        if variables.iter().any(|v| v.name == variable) {
            let value = inline
                .or_else(|| args.next_if(|next| !next.starts_with("--")).cloned())
                .unwrap_or_else(|| "...".into());
            hints.push(format!("{variable}={value}"));
        }
    }
    let given = stray.join(" ");
    if hints.is_empty() {
        format!(
            "serve takes no options (got `{given}`); it reads environment variables, listed by `clickstream serve --help`"
        )
    } else {
        format!(
            "serve takes no options (got `{given}`); it reads environment variables: run `{} clickstream serve`",
            hints.join(" ")
        )
    }
}

fn main() -> ExitCode {
    let cli = match Cli::from_arg_matches(&command().get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if !matches!(
        cli.command,
        Command::Serve { .. } | Command::Healthcheck { .. }
    ) {
        end_quietly_on_a_closed_pipe();
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// A command whose output goes to a reader that has gone (`clickstream openapi | head -1`)
/// ends as Unix tools do, killed by SIGPIPE (status 141 in a shell), with no message: Rust
/// ignores SIGPIPE, which turns every later write into an error or a panic of `println!`.
/// The server keeps ignoring it, as a client that hangs up must not stop it.
fn end_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default action of one signal before any thread is started;
    // no handler of ours is involved.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The error and its causes, so a context ("reading FILE") keeps its cause ("No such
/// file"); a cause an error already quotes in its own text is not said twice.
fn chain(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
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
                    max_clicks_per_session,
                },
            min_sessions_per_class,
            min_roc_auc,
            validate_from,
            schema,
            sample_fraction,
            session_seed,
            max_sessions,
            max_clicks,
            spill,
            quiet,
        } => {
            let config = TrainConfig {
                data,
                schema,
                outcomes,
                models_dir: models,
                skip_invalid,
                max_clicks_per_session,
                min_sessions_per_class,
                min_roc_auc,
                validate_from,
                sample_fraction,
                session_seed,
                max_sessions,
                max_clicks,
                spill: spill.options(),
                quiet,
                ..TrainConfig::default()
            };
            let report = train::train(&config)?;
            if let Some(skipped) = report.read.skipped_text() {
                println!("{skipped}");
            }
            for (name, version, dir) in &report.published {
                println!("published {name} version {version} in {dir}");
            }
            println!(
                "report: {}, {} and the charts in {}",
                config.models_dir.join("report.md").display(),
                config.models_dir.join("report.json").display(),
                config.models_dir.join("report.html").display()
            );
            println!("{}", report.headline());
        }
        Command::Evaluate {
            files:
                Files {
                    data,
                    outcomes,
                    models,
                    skip_invalid,
                    max_clicks_per_session,
                },
            version,
            json,
            html,
        } => {
            let report = evaluate::evaluate(&EvaluateConfig {
                data,
                outcomes,
                models_dir: models,
                version,
                skip_invalid,
                max_clicks_per_session,
                html,
            })?;
            // On stderr, so they reach a person even when a script reads the JSON.
            for warning in &report.warnings {
                eprintln!("warning: {warning}");
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.text());
            }
        }
        Command::Score {
            data,
            models,
            version,
            model,
            format,
            out,
            skip_invalid,
            max_clicks_per_session,
            no_formula_guard,
            unsorted,
            spill,
        } => {
            if out
                .as_deref()
                .is_some_and(|o| clickstream::offline::same_file(o, &data))
            {
                anyhow::bail!("--out {} is the --data file", data.display());
            }
            let summary = clickstream::offline::score_file(&clickstream::offline::ScoreConfig {
                data,
                models_dir: models,
                version,
                model,
                format,
                out,
                skip_invalid,
                max_clicks_per_session,
                formula_guard: clickstream::inference::csv::FormulaGuard::from_setting(
                    !no_formula_guard,
                ),
                unsorted,
                spill: spill.options(),
            })?;
            eprintln!("{summary}");
        }
        Command::Serve { stray } => {
            if !stray.is_empty() {
                anyhow::bail!(stray_serve_options(&stray));
            }
            let settings = service::settings::Settings::from_env()?;
            service::init_telemetry(settings.log_format);
            actix_web::rt::System::new().block_on(async move {
                let app = service::Application::build(settings)?;
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
                Some(path) => std::fs::write(&path, text)
                    .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?,
                None => print!("{text}"),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_of_every_command_has_help_text() {
        let mut missing = Vec::new();
        for sub in command().get_subcommands() {
            for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
                let id = arg.get_id().as_str();
                if id != "help" && arg.get_help().is_none() {
                    missing.push(format!("{} --{id}", sub.get_name()));
                }
            }
        }
        assert!(missing.is_empty(), "options without help: {missing:?}");
    }

    #[test]
    fn serve_options_point_to_their_variables() {
        let hint = stray_serve_options(&["--port".into(), "9000".into()]);
        assert!(hint.contains("PORT=9000 clickstream serve"), "{hint}");
        let hint = stray_serve_options(&["--models-dir=/srv/m".into(), "--workers".into()]);
        assert!(hint.contains("MODELS_DIR=/srv/m WORKERS=..."), "{hint}");
        let hint = stray_serve_options(&["--colour".into()]);
        assert!(hint.contains("serve --help"), "{hint}");
    }

    #[test]
    fn out_of_range_options_are_refused_before_any_work() {
        for args in [
            &[
                "clickstream",
                "train",
                "--data",
                "x.csv",
                "--min-roc-auc",
                "2",
            ][..],
            &[
                "clickstream",
                "train",
                "--data",
                "x.csv",
                "--min-sessions-per-class",
                "0",
            ],
            &[
                "clickstream",
                "evaluate",
                "--data",
                "x.csv",
                "--version",
                "0",
            ],
            &["clickstream", "healthcheck", "--timeout-ms", "0"],
            &[
                "clickstream",
                "train",
                "--data",
                "x.csv",
                "--validate-from",
                "2008-7-1",
            ],
            &[
                "clickstream",
                "train",
                "--data",
                "x.csv",
                "--validate-from",
                "2008-02-30",
            ],
        ] {
            let parsed = command().try_get_matches_from(args);
            assert!(parsed.is_err(), "{args:?} was accepted");
        }
    }

    #[test]
    fn validate_from_reads_a_day_written_in_full() {
        assert_eq!(
            day("2008-07-20"),
            Ok(chrono::NaiveDate::from_ymd_opt(2008, 7, 20).expect("a real day"))
        );
        for text in ["2008-7-20", "20/07/2008", "2008-07-32", " 2008-07-20"] {
            let err = day(text).expect_err(text);
            assert!(err.contains("YYYY-MM-DD"), "{err}");
        }
    }
}
