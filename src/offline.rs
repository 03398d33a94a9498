//! `clickstream score`: a clickstream file scored without a server. The answers, CSV
//! columns and JSON shape are the service's own: the same scorers
//! ([`crate::inference::scorer`]) over the same registry, so the file gives byte for byte
//! what `POST /…/batch` gives. Nothing is counted: there are no metrics to keep.
//! The UCI shop's sessions stream through ([`crate::reader::SessionStream`]) a chunk at a
//! time: memory holds one chunk of sessions, whatever the size of the file. A shop's models
//! (`train --schema`) read the file by the schema they record ([`crate::reader::shop`]),
//! which groups rows wherever they are and so reads the file whole before scoring.

use crate::domain::catalogue::{unseen_words, Unseen};
use crate::domain::shop::ShopSession;
use crate::domain::Session;
pub use crate::inference::answer::Format;
use crate::inference::answer::{JsonResults, Passed, Passthrough};
use crate::inference::csv::{self, CsvRecord, FormulaGuard};
use crate::inference::registry::{Policy, Registry, Snapshot, Trigger};
use crate::inference::scorer::{
    self as scorers, Convert, Revenue, Score, Scorer, Segment, Selection,
};
use crate::ml::model_file::{ModelName, Reading};
use crate::reader::shop::GroupedShopSessions;
use crate::reader::spill::{GroupedSessions, SpillOptions};
use crate::reader::{FileSource, ReadError, ReadOptions, ReadStats, SessionStream};
use crate::scoring::{Rows, Visit};
use anyhow::{anyhow, bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::io::{self, BufWriter, IsTerminal, Seek, Write};
use std::path::{Path, PathBuf};

#[cfg(feature = "parquet")]
mod parquet;

/// Sessions scored at once, in parallel, before their answers are written in order.
const CHUNK: usize = 1024;

/// Why `--format parquet` is refused by a build without the `parquet` feature.
#[cfg(not(feature = "parquet"))]
const NO_PARQUET: &str = "--format parquet: this build of clickstream writes CSV and JSON only (built without the `parquet` feature)";

/// Which answers: one model's, or all three (`/score`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    Convert,
    Revenue,
    Segment,
    All,
}

#[derive(Debug, Clone)]
pub struct ScoreConfig {
    pub data: PathBuf,
    pub models_dir: PathBuf,
    pub version: Option<u32>,
    pub model: Which,
    pub format: Format,
    pub out: Option<PathBuf>,
    pub skip_invalid: bool,
    /// Sessions with more clicks are skipped and counted in the summary.
    pub max_clicks_per_session: usize,
    /// Whether CSV text cells are kept from running as spreadsheet formulas, as the batch
    /// routes do by default (`CSV_FORMULA_GUARD`).
    pub formula_guard: FormulaGuard,
    /// Group the rows on disk from the start (`--unsorted`): the file's sessions' rows may
    /// lie anywhere.
    pub unsorted: bool,
    /// Where and within how much memory rows are grouped on disk.
    pub spill: SpillOptions,
}

/// What a run did, for the summary on stderr.
#[derive(Debug, Clone)]
pub struct ScoreSummary {
    pub sessions: u64,
    pub sha256: String,
    pub versions: Vec<(ModelName, u32)>,
    pub skipped: Option<String>,
    /// A shop's values the answering versions did not know, by field (the CLI's stand-in
    /// for the service's `unseen_values_total`); `None` for the UCI shop.
    pub unseen: Option<Vec<(String, u64)>>,
    /// The partition files the rows were grouped in on disk, when they were.
    pub partitions: Option<usize>,
    /// Why the rows were grouped on disk after streaming began: the session found apart.
    pub restarted: Option<String>,
}

/// A session's rows found apart while streaming: the file can be read again with its rows
/// grouped on disk.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct FoundApart(ReadError);

/// What to do about a file whose rows lie apart, when `score` cannot start again by itself.
const UNSORTED_HINT: &str = "or pass --unsorted: score then groups the rows on disk first (in --spill-dir, within --memory-budget), and answers come out partition by partition";

pub fn score_file(config: &ScoreConfig) -> anyhow::Result<ScoreSummary> {
    // Said before any model is loaded or row read.
    #[cfg(not(feature = "parquet"))]
    if config.format == Format::Parquet {
        bail!("{NO_PARQUET}");
    }
    let snapshot = load(config)?;
    let selection = Selection {
        convert_version: config.version,
        revenue_version: config.version,
        segment_version: config.version,
        explain: false,
    };
    let options = ReadOptions {
        skip_invalid: config.skip_invalid,
        max_clicks_per_session: config.max_clicks_per_session,
    };
    let reading = reading(config, &snapshot, &selection)?;
    // A CSV file, a Parquet file or a folder of them, told by content.
    let open = |spilled: bool| -> anyhow::Result<Sessions> {
        Ok(match &reading {
            Reading::Uci if spilled => {
                Sessions::Spilled(GroupedSessions::open(&config.data, options, &config.spill)?)
            }
            Reading::Uci => Sessions::Uci(SessionStream::open(&config.data, options)?),
            // Grouped wherever its rows are, in memory or, past the budget, on disk.
            Reading::Shop(shop) => Sessions::Shop(ShopSessions {
                sessions: GroupedShopSessions::open(
                    &config.data,
                    shop.schema.clone(),
                    options,
                    &config.spill,
                )?,
                passthrough: shop.schema.passthrough().map(|c| c.name.clone()).collect(),
                schema: shop.schema.clone(),
            }),
        })
    };
    // Written as they come, the answers cannot be taken back: a session found apart stops
    // the run with what to do.
    let cannot_restart = |e: anyhow::Error| match e.downcast_ref::<FoundApart>() {
        Some(apart) => anyhow!("{apart} {UNSORTED_HINT}"),
        None => e,
    };
    let write = |sessions: Sessions, out: std::fs::File| {
        write_all(config, &snapshot, &selection, sessions, out)
    };
    match &config.out {
        None => {
            // Not locked: the Parquet writer needs a writer it may send between threads.
            write_all(
                config,
                &snapshot,
                &selection,
                open(config.unsorted)?,
                io::stdout(),
            )
            .map_err(cannot_restart)
        }
        Some(out) => {
            // A FIFO, a terminal, /dev/stdout or /dev/null is written to as it is: renaming a
            // file over it would replace the special file the user named.
            let existing = std::fs::metadata(out).ok();
            if existing.as_ref().is_some_and(|m| !m.is_file()) {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(out)
                    .with_context(|| format!("writing {}", out.display()))?;
                return write(open(config.unsorted)?, file).map_err(cannot_restart);
            }
            // A regular file is written beside its target and renamed at the end: a failed
            // run leaves no half file where the answers were expected. Through a symbolic
            // link, the file it points to is replaced and the link stays.
            let target = match &existing {
                Some(_) => std::fs::canonicalize(out)
                    .with_context(|| format!("writing {}", out.display()))?,
                None => out.clone(),
            };
            let dir = match target.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
                _ => PathBuf::from("."),
            };
            if !dir.is_dir() {
                bail!(
                    "writing {}: the folder {} does not exist",
                    out.display(),
                    dir.display()
                );
            }
            let temp = temp_file_like(&dir, existing.as_ref())
                .with_context(|| format!("writing {}", out.display()))?;
            let summary = match write(open(config.unsorted)?, temp.as_file().try_clone()?) {
                // Nothing written is kept yet: the file is read again with its rows grouped
                // on disk, unless it cannot be read twice (a pipe).
                Err(e) if e.is::<FoundApart>() && readable_again(&config.data) => {
                    let why = e.to_string();
                    let file = temp.as_file();
                    file.set_len(0)
                        .and_then(|()| (&*file).seek(io::SeekFrom::Start(0)).map(|_| ()))
                        .with_context(|| format!("writing {}", out.display()))?;
                    let mut summary = write(open(true)?, file.try_clone()?)?;
                    summary.restarted = Some(why);
                    summary
                }
                other => other.map_err(cannot_restart)?,
            };
            temp.persist(&target)
                .map_err(|e| anyhow!("writing {}: {}", out.display(), e.error))?;
            Ok(summary)
        }
    }
}

/// Whether `--data` can be read a second time: a file or a folder, not a pipe.
fn readable_again(data: &Path) -> bool {
    std::fs::metadata(data).is_ok_and(|m| m.is_file() || m.is_dir())
}

/// The temporary file that becomes the answers: with the mode of the file it replaces, or,
/// for a new file, the mode any program's new file gets (0666 less the umask, which the
/// system applies at creation), not the temporary file's private 0600.
fn temp_file_like(
    dir: &Path,
    existing: Option<&std::fs::Metadata>,
) -> io::Result<tempfile::NamedTempFile> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let temp = tempfile::Builder::new()
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(dir)?;
        if let Some(m) = existing {
            // Set explicitly: the umask only narrows modes at creation.
            temp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(
                    m.permissions().mode() & 0o7777,
                ))?;
        }
        Ok(temp)
    }
    #[cfg(not(unix))]
    {
        let _ = existing;
        tempfile::NamedTempFile::new_in(dir)
    }
}

/// The models, loaded and checked as the server loads them: `--version N` pinned, so that
/// it answers, else the newest valid version; one version of each, as only one answers.
fn load(config: &ScoreConfig) -> anyhow::Result<std::sync::Arc<Snapshot>> {
    if let Some(absent) = crate::ml::model_file::absent_models_folder(&config.models_dir) {
        bail!("{absent} (the shipped versions are in the repository's models/)");
    }
    let needed: &[ModelName] = match config.model {
        Which::Convert => &[ModelName::Convert],
        Which::Revenue => &[ModelName::Revenue],
        Which::Segment => &[ModelName::Segment],
        Which::All => &ModelName::ALL,
    };
    // A version that is not in the folder at all: the ones that are, as `evaluate` says.
    if let Some(v) = config.version {
        let absent: Vec<String> = needed
            .iter()
            .filter(|&&name| {
                !crate::ml::model_file::versions(&config.models_dir, name).contains(&v)
            })
            .map(|&name| crate::evaluate::no_such_version(&config.models_dir, name, v))
            .collect();
        if !absent.is_empty() {
            bail!("no model to score with: {}", absent.join("; "));
        }
    }
    let policy = Policy {
        pins: config
            .version
            .map(|v| needed.iter().map(|&name| (name, v)).collect())
            .unwrap_or_default(),
        canary: None,
        max_loaded: 1,
    };
    let registry = Registry::new(&config.models_dir, policy);
    registry.reload(Trigger::Start);
    let snapshot = registry.snapshot();
    let missing: Vec<String> = needed
        .iter()
        .filter_map(|&name| snapshot.why_no_version(name))
        .collect();
    if !missing.is_empty() {
        bail!("no model to score with: {}", missing.join("; "));
    }
    Ok(snapshot)
}

/// The clicks the file is read as: those of the versions that answer (the same rule as
/// the routes, [`Scorer::reading`]); all three must read one schema for `--model all`.
fn reading(
    config: &ScoreConfig,
    snapshot: &Snapshot,
    selection: &Selection,
) -> anyhow::Result<Reading> {
    let read = match config.model {
        Which::Convert => Convert.reading(snapshot, selection),
        Which::Revenue => Revenue.reading(snapshot, selection),
        Which::Segment => Segment.reading(snapshot, selection),
        Which::All => Score.reading(snapshot, selection),
    };
    match read {
        Ok(reading) => Ok(reading),
        Err(scorers::Error::Disagree(_)) => {
            // Said again in the command's words: each version with its schema, and what
            // to run instead.
            let each = [
                answering_schema(Convert, ModelName::Convert, snapshot, selection),
                answering_schema(Revenue, ModelName::Revenue, snapshot, selection),
                answering_schema(Segment, ModelName::Segment, snapshot, selection),
            ];
            bail!(
                "the versions answering read clicks of different schemas ({}): one file is read by one schema; score each model apart (--model convert, revenue or segment) or choose versions trained together with --version N",
                each.join(", ")
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// "revenue v2 reads \"trailhead-outdoor\"".
fn answering_schema<S: Scorer>(
    scorer: S,
    name: ModelName,
    snapshot: &Snapshot,
    selection: &Selection,
) -> String {
    // The version asked for (`--version`) when there is one, else the default.
    let asked = match name {
        ModelName::Convert => selection.convert_version,
        ModelName::Revenue => selection.revenue_version,
        ModelName::Segment => selection.segment_version,
    };
    let version = asked.or(snapshot.info(name).default);
    let schema = scorer.reading(snapshot, selection).map_or_else(
        |_| "no schema".to_owned(),
        |r| format!("{:?}", r.schema_name()),
    );
    match version {
        Some(v) => format!("{name} v{v} reads {schema}"),
        None => format!("{name} reads {schema}"),
    }
}

/// The sessions of the file, read as the answering versions read clicks.
#[allow(clippy::large_enum_variant)] // One per run; boxing buys nothing.
enum Sessions {
    /// The UCI shop's, streamed.
    Uci(SessionStream<FileSource>),
    /// The UCI shop's, grouped on disk (rows apart).
    Spilled(GroupedSessions),
    /// A shop's, read whole by its schema.
    Shop(ShopSessions),
}

struct ShopSessions {
    sessions: GroupedShopSessions,
    /// The passthrough columns' names, which the answers carry back.
    passthrough: Vec<String>,
    schema: std::sync::Arc<crate::domain::shop::ShopSchema>,
}

/// Where a chunk of sessions comes from: one scoring loop for either shop, monomorphised so
/// the UCI stream pays nothing for the other.
trait Source {
    type Session: Send + Sync;
    fn next(&mut self) -> anyhow::Result<Option<Self::Session>>;
    fn visit(session: &Self::Session) -> Visit<'_>;
    /// The names of the passthrough columns, after the answer's.
    fn passthrough(&self) -> &[String];
    /// The file's checksum, what was skipped, and the unseen values by field.
    #[allow(clippy::type_complexity)] // Read once, where the summary is made.
    fn finish(
        self,
        unseen: &Unseen,
    ) -> Result<(String, ReadStats, Option<Vec<(String, u64)>>), ReadError>;
    /// The partition files its rows were grouped in on disk, if they were.
    fn partitions(&self) -> Option<usize> {
        None
    }
}

impl Source for SessionStream<FileSource> {
    type Session = Session;

    fn next(&mut self) -> anyhow::Result<Option<Session>> {
        match self.next_session() {
            Err(e) if self.found_apart() => Err(FoundApart(e).into()),
            other => Ok(other?),
        }
    }

    fn visit(session: &Session) -> Visit<'_> {
        Visit::Uci(session)
    }

    fn passthrough(&self) -> &[String] {
        &[]
    }

    fn finish(
        self,
        _: &Unseen,
    ) -> Result<(String, ReadStats, Option<Vec<(String, u64)>>), ReadError> {
        let (sha256, stats) = SessionStream::finish(self)?;
        Ok((sha256, stats, None))
    }
}

impl Source for GroupedSessions {
    type Session = Session;

    fn next(&mut self) -> anyhow::Result<Option<Session>> {
        Ok(self.next_session()?)
    }

    fn visit(session: &Session) -> Visit<'_> {
        Visit::Uci(session)
    }

    fn passthrough(&self) -> &[String] {
        &[]
    }

    fn finish(
        self,
        _: &Unseen,
    ) -> Result<(String, ReadStats, Option<Vec<(String, u64)>>), ReadError> {
        let (sha256, stats) = GroupedSessions::finish(self);
        Ok((sha256, stats, None))
    }

    fn partitions(&self) -> Option<usize> {
        GroupedSessions::partitions(self)
    }
}

impl Source for ShopSessions {
    type Session = ShopSession;

    fn next(&mut self) -> anyhow::Result<Option<ShopSession>> {
        Ok(self.sessions.next_session()?)
    }

    fn visit(session: &ShopSession) -> Visit<'_> {
        Visit::Shop(session)
    }

    fn passthrough(&self) -> &[String] {
        &self.passthrough
    }

    fn finish(
        self,
        unseen: &Unseen,
    ) -> Result<(String, ReadStats, Option<Vec<(String, u64)>>), ReadError> {
        let (sha256, stats) = self.sessions.finish();
        Ok((sha256, stats, Some(unseen.by_field(&self.schema))))
    }

    fn partitions(&self) -> Option<usize> {
        self.sessions.partitions()
    }
}

fn write_all<W: Write + Send>(
    config: &ScoreConfig,
    snapshot: &Snapshot,
    selection: &Selection,
    sessions: Sessions,
    out: W,
) -> anyhow::Result<ScoreSummary> {
    match sessions {
        Sessions::Uci(stream) => write_from(config, snapshot, selection, stream, out),
        Sessions::Spilled(spilled) => write_from(config, snapshot, selection, spilled, out),
        Sessions::Shop(shop) => write_from(config, snapshot, selection, shop, out),
    }
}

fn write_from<F: Source, W: Write + Send>(
    config: &ScoreConfig,
    snapshot: &Snapshot,
    selection: &Selection,
    source: F,
    out: W,
) -> anyhow::Result<ScoreSummary> {
    let out = BufWriter::new(out);
    match config.model {
        Which::Convert => write_answers(Convert, config, snapshot, selection, source, out),
        Which::Revenue => write_answers(Revenue, config, snapshot, selection, source, out),
        Which::Segment => write_answers(Segment, config, snapshot, selection, source, out),
        Which::All => write_answers(Score, config, snapshot, selection, source, out),
    }
}

fn write_answers<S: Scorer, F: Source, W: Write + Send>(
    scorer: S,
    config: &ScoreConfig,
    snapshot: &Snapshot,
    selection: &Selection,
    mut source: F,
    out: BufWriter<W>,
) -> anyhow::Result<ScoreSummary> {
    let write_error = |e: io::Error| match &config.out {
        Some(path) => anyhow!("writing {}: {e}", path.display()),
        None => anyhow!("writing the answers: {e}"),
    };
    let progress = io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{elapsed:>4} {spinner} {pos} sessions scored {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar
    });
    let names = source.passthrough().to_vec();
    let mut sink = match config.format {
        Format::Csv => {
            let mut w = ::csv::Writer::from_writer(out);
            let mut header = csv::columns::<S::Output>()?;
            header.extend(names.iter().cloned());
            w.write_record(header)?;
            Sink::Csv(w)
        }
        Format::Json => Sink::Json(JsonResults::start(out).map_err(write_error)?),
        Format::Jsonl => Sink::Jsonl(out),
        #[cfg(feature = "parquet")]
        Format::Parquet => Sink::Parquet(parquet::ParquetAnswers::start::<S::Output>(out, &names)?),
        #[cfg(not(feature = "parquet"))]
        Format::Parquet => bail!("{NO_PARQUET}"),
    };
    let mut versions: Vec<(ModelName, u32)> = Vec::new();
    let mut unseen = Unseen::default();
    let mut count: u64 = 0;
    let mut chunk = Vec::with_capacity(CHUNK);
    loop {
        chunk.clear();
        while chunk.len() < CHUNK {
            match source.next()? {
                Some(session) => chunk.push(session),
                None => break,
            }
        }
        if chunk.is_empty() {
            break;
        }
        let answers: Vec<(S::Output, Unseen)> = chunk
            .par_iter()
            .map(|s| {
                let visit = F::visit(s);
                let mut rows = Rows::default();
                scorer
                    .score(snapshot, visit, selection, &mut rows)
                    .map(|answer| (answer, rows.unseen))
                    .map_err(|e| anyhow!("session {:?}: {e}", visit.id()))
            })
            .collect::<anyhow::Result<_>>()?;
        for (session, (answer, new)) in chunk.iter().zip(&answers) {
            unseen.add(new);
            for v in S::versions(answer) {
                if !versions.contains(&v) {
                    versions.push(v);
                }
            }
            // As the batch routes write them: passthrough values after the answer's
            // columns (through the same guard), or under `passthrough` in JSON; without
            // any, the answer as it is.
            let passed = || Passed {
                answer,
                passthrough: Passthrough::of(&names, F::visit(session).passthrough()),
            };
            match &mut sink {
                Sink::Csv(w) => {
                    let mut record = CsvRecord::new(config.formula_guard);
                    csv::row(answer, &mut record)?;
                    for value in F::visit(session).passthrough() {
                        record.text(value);
                    }
                    w.write_record(&record.into_inner())?
                }
                Sink::Json(out) if names.is_empty() => out.push(answer).map_err(write_error)?,
                Sink::Json(out) => out.push(&passed()).map_err(write_error)?,
                Sink::Jsonl(out) => {
                    if names.is_empty() {
                        serde_json::to_writer(&mut *out, answer)?;
                    } else {
                        serde_json::to_writer(&mut *out, &passed())?;
                    }
                    out.write_all(b"\n").map_err(write_error)?;
                }
                #[cfg(feature = "parquet")]
                Sink::Parquet(out) => out.push(answer, F::visit(session).passthrough())?,
            }
            count += 1;
        }
        if let Some(bar) = &progress {
            bar.set_position(count);
        }
    }
    match sink {
        Sink::Csv(mut w) => w.flush().map_err(write_error)?,
        Sink::Json(out) => out
            .finish()
            .and_then(|mut out| out.flush())
            .map_err(write_error)?,
        Sink::Jsonl(mut out) => out.flush().map_err(write_error)?,
        #[cfg(feature = "parquet")]
        Sink::Parquet(out) => out.finish()?.flush().map_err(write_error)?,
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let partitions = source.partitions();
    let (sha256, stats, unseen) = source.finish(&unseen)?;
    versions.sort_unstable();
    Ok(ScoreSummary {
        sessions: count,
        sha256,
        versions,
        skipped: stats.skipped_text(),
        unseen,
        partitions,
        restarted: None,
    })
}

/// Where answers go, in their format.
#[allow(clippy::large_enum_variant)] // One per run; boxing buys nothing.
enum Sink<W: Write + Send> {
    Csv(::csv::Writer<BufWriter<W>>),
    Json(JsonResults<BufWriter<W>>),
    Jsonl(BufWriter<W>),
    #[cfg(feature = "parquet")]
    Parquet(parquet::ParquetAnswers<BufWriter<W>>),
}

/// The summary line on stderr.
impl std::fmt::Display for ScoreSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let versions: Vec<String> = self
            .versions
            .iter()
            .map(|(n, v)| format!("{n} v{v}"))
            .collect();
        write!(
            f,
            "scored {} session{} (file sha256 {}) with {}",
            self.sessions,
            if self.sessions == 1 { "" } else { "s" },
            self.sha256,
            if versions.is_empty() {
                "no model".to_owned()
            } else {
                versions.join(", ")
            }
        )?;
        if let Some(skipped) = &self.skipped {
            write!(f, "\n{skipped}")?;
        }
        if let Some(unseen) = &self.unseen {
            write!(f, "\n{}", unseen_words(unseen))?;
        }
        let again = match &self.restarted {
            Some(why) => format!(", the file read again after streaming stopped: {why}"),
            None => String::new(),
        };
        match self.partitions {
            Some(partitions) => write!(
                f,
                "\nrows grouped on disk in {partitions} partition(s){again}; answers come partition by partition, in key order within each"
            )?,
            None if self.restarted.is_some() => write!(f, "\nrows grouped in memory{again}")?,
            None => {}
        }
        Ok(())
    }
}

/// Whether two paths name one file: answers written over the data would destroy it while
/// it is read.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
