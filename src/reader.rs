//! Reads clickstream files as people have them: the UCI original (`;`, original header),
//! the common copies (`,`, snake_case header), headerless files in the original column
//! order, and Parquet (a file, or a folder of them as a warehouse export writes it; see
//! [`parquet`](self::parquet)), told apart by content, not by name. Rows become typed clicks
//! as they stream past; only sessions are kept.

use crate::domain::schema::{Example, Kind};
use crate::domain::UCI;
use crate::domain::{
    Click, Field, FieldError, RawClick, Session, SessionId, MAX_CLICKS_PER_SESSION,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

#[cfg(feature = "parquet")]
pub mod parquet;
pub mod shop;
pub mod spill;

#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Skip rows with invalid values (and count them) instead of stopping.
    pub skip_invalid: bool,
    /// Sessions of more rows are skipped and counted (never the whole file refused); their
    /// rows past the cap are not kept, so one endless session costs no more memory than a
    /// capped one. Default: the service's cap, [`MAX_CLICKS_PER_SESSION`].
    pub max_clicks_per_session: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            skip_invalid: false,
            max_clicks_per_session: MAX_CLICKS_PER_SESSION,
        }
    }
}

/// A session skipped for having more clicks than the cap.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LongSession {
    pub session: String,
    pub clicks: u64,
}

/// How many examples of skipped rows the report keeps.
const MAX_EXAMPLES: usize = 5;

/// What a data file is, told by its content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    #[default]
    Csv,
    /// A Parquet file or a folder of them; its `separator` in [`ReadStats`] means nothing.
    Parquet,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReadStats {
    pub format: DataFormat,
    pub rows: u64,
    pub clicks: u64,
    pub sessions: u64,
    pub invalid_rows_skipped: u64,
    pub duplicate_clicks_dropped: u64,
    pub separator: char,
    pub header: bool,
    pub ignored_columns: Vec<String>,
    /// The first few skipped rows, described as errors would have been.
    pub skipped_examples: Vec<String>,
    /// The cap on clicks per session the file was read with.
    pub max_clicks_per_session: usize,
    /// Sessions skipped for having more clicks than the cap.
    pub long_sessions_skipped: u64,
    /// The first few of them, with their click counts.
    pub long_session_examples: Vec<LongSession>,
}

impl ReadStats {
    /// What `--skip-invalid` left out, for the text outputs: `None` when nothing was.
    pub fn skipped_text(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.invalid_rows_skipped > 0 {
            let mut text = format!(
                "skipped {} invalid row(s) of {} (--skip-invalid)",
                self.invalid_rows_skipped, self.rows
            );
            if !self.skipped_examples.is_empty() {
                text.push_str(", for example:");
                for example in &self.skipped_examples {
                    text.push_str("\n  ");
                    text.push_str(example);
                }
            }
            parts.push(text);
        }
        if let Some(text) = self.long_sessions_text() {
            parts.push(text);
        }
        (!parts.is_empty()).then(|| parts.join("\n"))
    }

    /// The sessions skipped for their length, for the text outputs: `None` when none was.
    pub fn long_sessions_text(&self) -> Option<String> {
        if self.long_sessions_skipped == 0 {
            return None;
        }
        let examples: Vec<String> = self
            .long_session_examples
            .iter()
            .map(|l| format!("session {:?} ({} clicks)", l.session, l.clicks))
            .collect();
        Some(format!(
            "skipped {} session(s) with more than {} clicks (--max-clicks-per-session), for example: {}",
            self.long_sessions_skipped,
            self.max_clicks_per_session,
            examples.join(", ")
        ))
    }

    /// Counts a session skipped for having `clicks` clicks, over the cap.
    fn skip_long(&mut self, id: &str, clicks: u64) {
        self.long_sessions_skipped += 1;
        if self.long_session_examples.len() < MAX_EXAMPLES {
            self.long_session_examples.push(LongSession {
                session: id.to_owned(),
                clicks,
            });
        }
    }

    /// Applies `--skip-invalid` to a refused row of `path`: counted with an example, or
    /// the error.
    fn refuse(
        &mut self,
        err: ReadError,
        options: ReadOptions,
        path: &Path,
    ) -> Result<(), ReadError> {
        if !options.skip_invalid {
            return Err(err);
        }
        self.invalid_rows_skipped += 1;
        if self.skipped_examples.len() < MAX_EXAMPLES {
            // The example without the file name, which the report already gives.
            let text = err.to_string();
            let prefix = format!("{}: ", path.display());
            self.skipped_examples
                .push(text.strip_prefix(&prefix).unwrap_or(&text).to_owned());
        }
        Ok(())
    }
}

/// A whole clickstream file, grouped into sessions in order of first appearance.
#[derive(Debug)]
pub struct Clickstream {
    pub file_name: String,
    pub sha256: String,
    pub sessions: Vec<Session>,
    pub stats: ReadStats,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// The file is not one the readers read (neither CSV text nor Parquet), or a Parquet
    /// file or data set cannot be read; `path` names the file concerned.
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    #[error("{path}: the file is empty")]
    Empty { path: PathBuf },
    #[error("{path}: cannot tell the separator: the first line has no ';', ',' or tab")]
    Separator { path: PathBuf },
    #[error("{path}: line 1: missing column(s) {missing}; found {found}")]
    MissingColumns {
        path: PathBuf,
        missing: String,
        found: String,
    },
    #[error("{path}: line {line}: {}", BadValue::list(values))]
    Invalid {
        path: PathBuf,
        line: u64,
        /// Every bad value of the row, in column order; never empty.
        values: Vec<BadValue>,
        /// The row's session id, when its column could be read.
        session: Option<String>,
    },
    #[error("{path}: line {line}: column {column:?}: value {value:?} is not valid UTF-8 text")]
    NotUtf8 {
        path: PathBuf,
        line: u64,
        column: String,
        /// The value as read, undecodable bytes shown as U+FFFD.
        value: String,
        session: Option<String>,
    },
    #[error("{path}: line {line}: {found} fields, but the header has {expected}")]
    FieldCount {
        path: PathBuf,
        line: u64,
        found: usize,
        expected: usize,
        session: Option<String>,
    },
    #[error("{path}: line {line}: {message}")]
    Malformed {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error(
        "{path}: line {line}: session {session:?} already has a different click with order {order}"
    )]
    ConflictingOrder {
        path: PathBuf,
        line: u64,
        session: String,
        order: u32,
    },
}

/// One bad value of a row: its column as the file names it, the value, and what the
/// column allows.
#[derive(Debug, Clone, PartialEq)]
pub struct BadValue {
    pub column: String,
    pub value: String,
    pub allowed: Box<str>,
}

impl BadValue {
    fn list(values: &[BadValue]) -> String {
        values
            .iter()
            .map(|v| {
                format!(
                    "column {:?}: value {:?} is invalid; allowed: {}",
                    v.column, v.value, v.allowed
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl ReadError {
    /// The session id of the row an error concerns, as written, when it could be read.
    pub fn session(&self) -> Option<&str> {
        match self {
            ReadError::Invalid { session, .. }
            | ReadError::NotUtf8 { session, .. }
            | ReadError::FieldCount { session, .. } => session.as_deref().map(str::trim),
            _ => None,
        }
    }

    /// The line an error concerns, when it concerns one.
    pub fn line(&self) -> Option<u64> {
        match self {
            ReadError::Invalid { line, .. }
            | ReadError::NotUtf8 { line, .. }
            | ReadError::FieldCount { line, .. }
            | ReadError::Malformed { line, .. }
            | ReadError::ConflictingOrder { line, .. } => Some(*line),
            ReadError::Io { .. }
            | ReadError::Format { .. }
            | ReadError::Empty { .. }
            | ReadError::Separator { .. }
            | ReadError::MissingColumns { .. } => None,
        }
    }

    /// How many problems the error reports: one per bad value of a row, else one.
    pub fn problems(&self) -> usize {
        match self {
            ReadError::Invalid { values, .. } => values.len(),
            _ => 1,
        }
    }
}

/// The longest line (bytes between two line ends, `\n` or `\r`) any input file may hold: a
/// clickstream row is under 100 bytes, an outcomes row under 100 too. A longer line stops
/// the read with an error naming it, as soon as the bound is passed, so that a file or a
/// stream with no line end is never held whole in memory. `--skip-invalid` does not apply:
/// past an overlong line the reader cannot tell where the next row starts.
pub const MAX_ROW_BYTES: usize = 64 * 1024;

/// What stops a read at an overlong row; it travels inside an `io::Error` through the
/// CSV parser and is turned back into the reader's own errors.
#[derive(Debug)]
pub struct RowTooLong {
    /// The line (from 1) of the row.
    pub line: u64,
    /// Whether the row spans lines (a quoted field holding line ends).
    pub spans_lines: bool,
}

impl std::fmt::Display for RowTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.what())
    }
}

impl std::error::Error for RowTooLong {}

impl RowTooLong {
    /// What is wrong, without the line.
    pub fn what(&self) -> String {
        if self.spans_lines {
            format!(
                "the row runs on across line ends (an unclosed quote?) past {MAX_ROW_BYTES} bytes, the limit of a row"
            )
        } else {
            format!("the row is longer than {MAX_ROW_BYTES} bytes, the limit of a row")
        }
    }

    /// The overlong row an I/O error carries, if it carries one.
    pub fn of(err: &io::Error) -> Option<&RowTooLong> {
        err.get_ref().and_then(|e| e.downcast_ref::<RowTooLong>())
    }
}

/// Fails a read, with [`RowTooLong`], as soon as a line passes [`MAX_ROW_BYTES`]: every
/// input file is read through it, so memory stays bounded whatever the file holds.
pub struct BoundedLines<R> {
    inner: R,
    /// Bytes since the last line end.
    since_line_end: usize,
    /// `\n` bytes read, for the line number.
    newlines: u64,
}

impl<R> BoundedLines<R> {
    pub fn new(inner: R) -> Self {
        BoundedLines {
            inner,
            since_line_end: 0,
            newlines: 0,
        }
    }
}

impl<R: Read> Read for BoundedLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if b == b'\n' || b == b'\r' {
                self.since_line_end = 0;
                self.newlines += u64::from(b == b'\n');
            } else {
                self.since_line_end += 1;
                if self.since_line_end > MAX_ROW_BYTES {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        RowTooLong {
                            line: self.newlines + 1,
                            spans_lines: false,
                        },
                    ));
                }
            }
        }
        Ok(n)
    }
}

/// What the CSV parser and the buffers before it may have read past the start of the
/// record being parsed: a record (whose quoted fields may hold line ends) is refused once
/// the bytes read past its start exceed [`MAX_ROW_BYTES`] and this, so an unclosed quote
/// holds at most about 136 KiB.
const READ_AHEAD: u64 = (1 << 16) + (1 << 13);

/// Hashes everything read through it, so the checksum costs no second pass, and notes
/// where its line ends are, for line numbers.
struct HashingReader<R> {
    inner: BoundedLines<R>,
    hasher: Sha256,
    lines: LineCounter,
    read: u64,
    /// Where the record being parsed starts, set before each record.
    record_start: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' || b == b'\r' {
                self.lines
                    .ends
                    .push_back((self.read + i as u64, b == b'\n'));
            }
        }
        self.read += n as u64;
        if self.read > self.record_start + MAX_ROW_BYTES as u64 + READ_AHEAD {
            let line = self.lines.line_of_record_at(self.record_start);
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                RowTooLong {
                    line,
                    spans_lines: true,
                },
            ));
        }
        Ok(n)
    }
}

/// The reader's error for a failed read: an overlong row is named by its line.
fn read_failure(path: &Path, source: io::Error) -> ReadError {
    match RowTooLong::of(&source) {
        Some(long) => ReadError::Malformed {
            path: path.to_owned(),
            line: long.line,
            message: long.what(),
        },
        None => ReadError::Io {
            path: path.to_owned(),
            source,
        },
    }
}

/// What the CSV parser reads from: the header line, read whole (within the row bound) to
/// tell the layout, then the rest of the file.
type Source<R> = io::Chain<io::Cursor<Vec<u8>>, BufReader<HashingReader<R>>>;

/// Line numbers from byte offsets. The csv crate's own line count drifts on `\r\n` endings
/// and blank lines, and the offset of a record may point at line ends skipped before it;
/// so lines are counted here from the line ends themselves. Only the ends read ahead of
/// the parser are held, as records come in file order.
#[derive(Default)]
struct LineCounter {
    /// Offsets of `\r` and `\n` bytes not yet passed, and whether each is a `\n`.
    ends: std::collections::VecDeque<(u64, bool)>,
    newlines: u64,
}

impl LineCounter {
    /// The line (from 1) of the record whose parse began at byte `start`.
    fn line_of_record_at(&mut self, start: u64) -> u64 {
        while let Some(&(at, newline)) = self.ends.front() {
            if at >= start {
                break;
            }
            self.newlines += u64::from(newline);
            self.ends.pop_front();
        }
        // Line ends right at the start belong before the record.
        let mut cursor = start;
        while let Some(&(at, newline)) = self.ends.front() {
            if at != cursor {
                break;
            }
            self.newlines += u64::from(newline);
            self.ends.pop_front();
            cursor += 1;
        }
        self.newlines + 1
    }
}

/// The click field a file's column header stands for, from the click table.
fn column_of(name: &str) -> Option<Field> {
    UCI.by_header(name).map(|s| s.field)
}

/// Position of each field in a row, and the column names to use in messages.
struct Layout {
    index: [usize; Field::ALL.len()],
    names: Vec<String>,
}

impl Layout {
    fn of(&self, field: Field) -> usize {
        self.index[field as usize]
    }

    fn column_name(&self, field: Field) -> String {
        self.names
            .get(self.of(field))
            .cloned()
            .unwrap_or_else(|| field.original_name().to_owned())
    }
}

fn detect_separator(first_line: &str) -> Option<u8> {
    [b';', b',', b'\t']
        .into_iter()
        .map(|sep| (first_line.bytes().filter(|&b| b == sep).count(), sep))
        .filter(|&(n, _)| n > 0)
        .max_by_key(|&(n, _)| n)
        .map(|(_, sep)| sep)
}

/// A reading pass's progress: counts the records read and, at most every few seconds, says
/// how many and how fast ("counting sessions: 3,276,800 clicks, 812,345 clicks/s"), then
/// the pass's total when it is [`finish`](Meter::finish)ed. The default says nothing.
#[derive(Clone, Default)]
pub struct Meter(Option<std::sync::Arc<MeterState>>);

struct MeterState {
    pass: String,
    start: std::time::Instant,
    records: std::sync::atomic::AtomicU64,
    /// Seconds after `start` of the last report, in milliseconds.
    last_said: std::sync::atomic::AtomicU64,
    say: Say,
}

pub use crate::progress::Say;

impl Meter {
    /// Records between two looks at the clock: a look costs far more than a record's count.
    const LOOK_EVERY: u64 = 1 << 16;
    /// Least time between two reports.
    const SAY_EVERY_MS: u64 = 5_000;

    /// A meter of the pass named `pass`, starting now, reporting through `say`; none
    /// without it.
    pub fn new(pass: impl Into<String>, say: Option<&Say>) -> Meter {
        Meter(say.map(|say| {
            std::sync::Arc::new(MeterState {
                pass: pass.into(),
                start: std::time::Instant::now(),
                records: std::sync::atomic::AtomicU64::new(0),
                last_said: std::sync::atomic::AtomicU64::new(0),
                say: say.clone(),
            })
        }))
    }

    fn record(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let Some(state) = &self.0 else {
            return;
        };
        let records = state.records.fetch_add(1, Relaxed) + 1;
        if records % Self::LOOK_EVERY != 0 {
            return;
        }
        let now = state.start.elapsed().as_millis() as u64;
        if now - state.last_said.load(Relaxed) >= Self::SAY_EVERY_MS {
            state.last_said.store(now, Relaxed);
            (state.say)(format!(
                "{}: {} clicks read, {}",
                state.pass,
                thousands(records),
                rate(records, now as f64 / 1000.0)
            ));
        }
    }

    /// Counts `records` read elsewhere (a pass through partitions on disk).
    pub fn add(&self, records: u64) {
        if let Some(state) = &self.0 {
            state
                .records
                .fetch_add(records, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Says the pass's total: its records, time and records per second.
    pub fn finish(&self) {
        let Some(state) = &self.0 else {
            return;
        };
        let records = state.records.load(std::sync::atomic::Ordering::Relaxed);
        let seconds = state.start.elapsed().as_secs_f64();
        (state.say)(format!(
            "{}: {} clicks in {seconds:.1} s, {}",
            state.pass,
            thousands(records),
            rate(records, seconds)
        ));
    }
}

fn rate(records: u64, seconds: f64) -> String {
    if seconds > 0.0 {
        format!("{} clicks/s", thousands((records as f64 / seconds) as u64))
    } else {
        "too fast to time".into()
    }
}

/// 9987516 as "9,987,516".
fn thousands(n: u64) -> indicatif::HumanCount {
    indicatif::HumanCount(n)
}

/// Reads a clickstream file: detects the separator and whether there is a header, checks
/// every field, drops exact duplicate clicks, and groups clicks into sessions.
/// `path` is a CSV file, a Parquet file or a folder of Parquet files ([`Records::open_path`]).
pub fn read_clickstream(path: &Path, options: ReadOptions) -> Result<Clickstream, ReadError> {
    read_clickstream_kept(path, options, |_| true, Meter::default())
}

/// [`read_clickstream`] keeping only the sessions `keep` says yes to: the others' rows are
/// checked and dropped as they are read ([`Grouper::whole_kept`]). Every row read is told
/// to `meter`.
pub fn read_clickstream_kept(
    path: &Path,
    options: ReadOptions,
    keep: impl FnMut(&SessionId) -> bool,
    meter: Meter,
) -> Result<Clickstream, ReadError> {
    let mut grouper = Grouper::open(path, Policy::Read(options))?;
    grouper.rows.records.metered(meter);
    read_grouped(grouper, path, keep)
}

/// Like [`read_clickstream`], from any source (an uploaded body, say); `path` names it in
/// errors. Sessions come in order of first appearance, wherever their rows are.
pub fn read_clickstream_from<R: Read>(
    source: R,
    path: &Path,
    options: ReadOptions,
) -> Result<Clickstream, ReadError> {
    read_grouped(
        Grouper::new(source, path, Policy::Read(options))?,
        path,
        |_| true,
    )
}

fn read_grouped<R: Read>(
    mut grouper: Grouper<R>,
    path: &Path,
    keep: impl FnMut(&SessionId) -> bool,
) -> Result<Clickstream, ReadError> {
    let gathered = grouper.whole_kept(keep)?;
    let mut sessions = Vec::with_capacity(gathered.len());
    for (id, gathering) in gathered {
        match grouper.close(id, gathering)? {
            Closed::Session(session) => sessions.push(session),
            Closed::Skipped => {}
            // The read policy stops at the row, or skips it, before any session is refused.
            Closed::Refused(refused) => return Err(refused.into_error(path)),
        }
    }
    grouper.rows.finish(sessions)
}

/// How the one grouping of rows into sessions treats a refused row and a session over the
/// clicks cap: the commands' rules or the batch routes'. Both modes ([`Grouper::whole`],
/// [`SessionStream`]) take either.
#[derive(Debug, Clone, Copy)]
pub enum Policy {
    /// `train`, `evaluate` and `score`: a refused row stops the read or, with
    /// `--skip-invalid`, is counted and skipped; a session over the cap is skipped and
    /// counted, so one long session never refuses a file of many.
    Read(ReadOptions),
    /// The CSV batch routes: a refused row that names a valid session is kept with it and
    /// refuses that session alone, with every problem of its rows; a row that names none
    /// cannot be left out with a session, so it is an orphan (the first `orphans` kept, every
    /// problem counted), which the route refuses the batch for; a session over `max_clicks`
    /// is refused with its count, since its client asked for an answer about it.
    Batch { max_clicks: usize, orphans: usize },
}

impl Policy {
    fn max_clicks(self) -> usize {
        match self {
            Policy::Read(options) => options.max_clicks_per_session,
            Policy::Batch { max_clicks, .. } => max_clicks,
        }
    }
}

/// One session's rows as they are read, in either mode: its place in order of first
/// appearance, its clicks up to the cap, how many rows there were in all, and (under the
/// batch policy) its refused rows.
#[derive(Debug)]
pub struct Gathering {
    index: usize,
    clicks: Vec<(u64, Click)>,
    rows: u64,
    refused: Vec<ReadError>,
}

impl Gathering {
    fn new(index: usize) -> Gathering {
        Gathering {
            index,
            clicks: Vec::new(),
            rows: 0,
            refused: Vec::new(),
        }
    }

    fn add(&mut self, line: u64, click: Click, max_clicks: usize) {
        self.rows += 1;
        // Past the cap the session is skipped or refused anyway: its count is all that is
        // needed, so an endless session costs no more memory than a capped one.
        if self.clicks.len() < max_clicks {
            self.clicks.push((line, click));
        }
    }

    fn take(&mut self, taken: Taken, max_clicks: usize) {
        match taken {
            Taken::Click(line, click) => self.add(line, click, max_clicks),
            Taken::Refused(err) => self.refused.push(err),
        }
    }
}

/// A row as the policy takes it into its session.
enum Taken {
    Click(u64, Click),
    /// A refused row kept with the session it names (batch policy).
    Refused(ReadError),
}

/// A session the batch policy refuses whole.
#[derive(Debug)]
pub struct Refused {
    /// Its place among the file's sessions, in order of first appearance.
    pub index: usize,
    pub id: SessionId,
    pub why: Why,
}

/// Why the batch policy refuses a session.
#[derive(Debug)]
pub enum Why {
    /// Its refused rows, in file order; never empty.
    Rows(Vec<ReadError>),
    /// More rows than the cap.
    Long { clicks: u64, max_clicks: usize },
    /// Its rows do not make a session (two different clicks with one order).
    Session(ReadError),
}

impl Refused {
    /// The refusal as the reader's error, for a caller that stops at the first problem.
    pub fn into_error(self, path: &Path) -> ReadError {
        match self.why {
            Why::Rows(errors) => errors.into_iter().next().unwrap_or(ReadError::Malformed {
                path: path.to_owned(),
                line: 0,
                message: format!("session {:?} was refused", self.id.as_str()),
            }),
            Why::Long { clicks, max_clicks } => ReadError::Malformed {
                path: path.to_owned(),
                line: 0,
                message: format!(
                    "session {:?}: {clicks} clicks is more than the limit of {max_clicks} per session",
                    self.id.as_str()
                ),
            },
            Why::Session(err) => err,
        }
    }
}

/// A gathered session once closed by its policy.
#[derive(Debug)]
pub enum Closed {
    Session(Session),
    /// Skipped and counted (over the cap under the read policy), or nothing left of it.
    Skipped,
    Refused(Refused),
}

/// Rows not kept with any session under the batch policy: the first few, and how many
/// problems they hold in all (one per bad value, as they are listed).
#[derive(Debug, Default)]
pub struct Orphans {
    pub listed: Vec<ReadError>,
    pub problems: usize,
}

/// The one grouping of a file's rows into sessions, under a [`Policy`]: the whole file at
/// once ([`Grouper::whole`], for `train`, `evaluate` and the batch routes) or a session at a
/// time ([`SessionStream`], for `score`); each gathered session is finished by
/// [`Grouper::close`].
pub struct Grouper<R: Read> {
    rows: Rows<R>,
    policy: Policy,
    /// Rows that named no valid session (batch policy).
    pub orphans: Orphans,
}

impl<R: Read> Grouper<R> {
    /// Reads the header; errors here concern the whole file.
    pub fn new(source: R, path: &Path, policy: Policy) -> Result<Self, ReadError> {
        Ok(Grouper::of(Rows::new(source, path)?, policy))
    }

    fn of(mut rows: Rows<R>, policy: Policy) -> Self {
        rows.stats.max_clicks_per_session = policy.max_clicks();
        Grouper {
            rows,
            policy,
            orphans: Orphans::default(),
        }
    }

    /// The next data row as the policy takes it, with its session; `None` for a row it
    /// leaves out (skipped or an orphan). The outer `None` is the end of the file.
    #[allow(clippy::type_complexity)]
    fn next_taken(&mut self) -> Result<Option<Option<(SessionId, u64, Taken)>>, ReadError> {
        let Some(row) = self.rows.next_row()? else {
            return Ok(None);
        };
        let err = match row {
            Ok(Row {
                line,
                session,
                click,
            }) => return Ok(Some(Some((session, line, Taken::Click(line, click))))),
            Err(err) => err,
        };
        match self.policy {
            Policy::Read(options) => {
                self.rows.refuse(err, options)?;
                Ok(Some(None))
            }
            Policy::Batch { orphans, .. } => {
                let line = err.line().unwrap_or(0);
                match err.session().and_then(|raw| SessionId::parse(raw).ok()) {
                    Some(id) => Ok(Some(Some((id, line, Taken::Refused(err))))),
                    None => {
                        self.orphans.problems += err.problems();
                        if self.orphans.listed.len() < orphans {
                            self.orphans.listed.push(err);
                        }
                        Ok(Some(None))
                    }
                }
            }
        }
    }

    /// Every session of the file, in order of first appearance, wherever their rows are.
    pub fn whole(&mut self) -> Result<Vec<(SessionId, Gathering)>, ReadError> {
        self.whole_kept(|_| true)
    }

    /// The sessions `keep` says yes to, in order of first appearance, wherever their rows
    /// are: the others' rows are checked and dropped as they pass, so memory holds the kept
    /// sessions only (training's session sample). `keep` is asked once per run of rows of
    /// one session.
    pub fn whole_kept(
        &mut self,
        mut keep: impl FnMut(&SessionId) -> bool,
    ) -> Result<Vec<(SessionId, Gathering)>, ReadError> {
        let max_clicks = self.policy.max_clicks();
        let mut gathered: Vec<(SessionId, Gathering)> = Vec::new();
        let mut by_id: HashMap<SessionId, usize> = HashMap::new();
        // The last run of rows of one session: its id, and its place when it is kept. Rows
        // of a session usually come together, so the id is hashed once a run, not once a row.
        let mut last: Option<(SessionId, Option<usize>)> = None;
        while let Some(taken) = self.next_taken()? {
            let Some((session, _, taken)) = taken else {
                continue;
            };
            let at = match &last {
                Some((id, at)) if *id == session => *at,
                _ => {
                    let at = keep(&session).then(|| {
                        *by_id.entry(session.clone()).or_insert_with_key(|id| {
                            gathered.push((id.clone(), Gathering::new(gathered.len())));
                            gathered.len() - 1
                        })
                    });
                    last = Some((session, at));
                    at
                }
            };
            if let Some((_, gathering)) = at.and_then(|at| gathered.get_mut(at)) {
                gathering.take(taken, max_clicks);
            }
        }
        Ok(gathered)
    }

    /// A gathered session finished by the policy: exact duplicates dropped and counted; over
    /// the cap skipped and counted (read) or refused (batch); two different clicks with one
    /// order an error or skipped (read) or refused (batch); refused rows refuse it (batch).
    pub fn close(&mut self, id: SessionId, gathering: Gathering) -> Result<Closed, ReadError> {
        let max_clicks = self.policy.max_clicks();
        let options = match self.policy {
            Policy::Read(options) => options,
            Policy::Batch { .. } => {
                let refuse = |id, why| {
                    Ok(Closed::Refused(Refused {
                        index: gathering.index,
                        id,
                        why,
                    }))
                };
                if !gathering.refused.is_empty() {
                    return refuse(id, Why::Rows(gathering.refused));
                }
                if gathering.rows > max_clicks as u64 {
                    let clicks = gathering.rows;
                    return refuse(id, Why::Long { clicks, max_clicks });
                }
                return match self
                    .rows
                    .session(id.clone(), gathering.clicks, ReadOptions::default())
                {
                    Ok(Some(session)) => Ok(Closed::Session(session)),
                    Ok(None) => Ok(Closed::Skipped),
                    Err(err) => refuse(id, Why::Session(err)),
                };
            }
        };
        if gathering.rows > max_clicks as u64 {
            self.rows.stats.skip_long(id.as_str(), gathering.rows);
            return Ok(Closed::Skipped);
        }
        Ok(match self.rows.session(id, gathering.clicks, options)? {
            Some(session) => Closed::Session(session),
            None => Closed::Skipped,
        })
    }
}

impl Grouper<FileSource> {
    /// A CSV file, a Parquet file or a folder of them ([`Records::open_path`]).
    pub fn open(path: &Path, policy: Policy) -> Result<Self, ReadError> {
        Ok(Grouper::of(Rows::open(path)?, policy))
    }
}

/// One data row, parsed.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: u64,
    pub session: SessionId,
    pub click: Click,
}

/// Whether a first line is a header: a headerless file starts with a year.
fn starts_with_a_word(first: &[&str]) -> bool {
    first
        .first()
        .is_some_and(|f| f.trim().trim_matches('"').parse::<f64>().is_err())
}

impl Rows<FileSource> {
    /// A CSV file, a Parquet file or a folder of them ([`Records::open_path`]).
    pub fn open(path: &Path) -> Result<Rows<FileSource>, ReadError> {
        Rows::of(Records::open_path(path, starts_with_a_word)?, path)
    }
}

/// The data rows of a clickstream file or body, one at a time, after its header: the one
/// place rows are decoded and checked. Each row is a click or the error that refuses it
/// (a bad value, bytes that are not UTF-8, a field count unlike the header's); what the
/// [`Grouper`] does with a refused row is its [`Policy`]'s choice.
pub struct Rows<R: Read> {
    records: Records<R>,
    layout: Layout,
    /// Fields a row must have: the header's, or the 14 columns of a headerless file.
    fields: usize,
    pub stats: ReadStats,
}

/// A CSV file's records, one at a time after its first line, each with its line number,
/// every byte through the row bound and the checksum: what every reader of rows shares,
/// whatever its columns mean.
///
/// A Parquet data set ([`Records::open_path`]) gives the same records: its rows' cells as
/// text, its column names as the header, `line` its row + 1 (see [`parquet`](self::parquet)).
/// A reader that takes a row cell by cell ([`Records::next_cells`], [`Records::cell`]: the
/// UCI reader) gets a Parquet row's integers, doubles and strings as [`Value`]s instead,
/// which stand for that text and are read as it would be.
pub struct Records<R: Read> {
    backend: Backend<R>,
    path: PathBuf,
    /// The record last read.
    pub record: csv::ByteRecord,
    /// The CSV separator; `,` for Parquet, where it means nothing.
    pub separator: u8,
    /// The first line's fields, trimmed and unquoted: the header when there is one. A
    /// Parquet data set's column names.
    pub first_fields: Vec<String>,
    /// Whether the first line is a header: `has_header` said so on its fields. Always, for
    /// Parquet.
    pub has_header: bool,
    pub format: DataFormat,
    /// Told of every record read, for a long pass's progress.
    meter: Meter,
}

#[allow(
    clippy::large_enum_variant,
    reason = "one per reader, the CSV variant on the hot path: boxing it buys nothing"
)]
enum Backend<R: Read> {
    Csv(csv::Reader<Source<R>>),
    #[cfg(feature = "parquet")]
    Parquet(self::parquet::ParquetRecords),
    /// A partition of rows grouped on disk ([`spill`]): each record as the file's reader
    /// gave it, its line in a last field.
    Spilled(csv::Reader<BufReader<File>>),
}

/// What [`Records::open_path`] reads a CSV file from: the bytes looked at to tell the
/// format, then the rest of the file (which may be a pipe, so it is not read twice).
pub type FileSource = io::Chain<io::Cursor<Vec<u8>>, File>;

/// The bytes a Parquet file starts with.
const PARQUET_MAGIC: &[u8] = b"PAR1";

/// How much of a file is looked at to tell CSV text from other things.
const SNIFF_BYTES: u64 = 8 * 1024;

/// Why the start of a file is neither CSV text nor Parquet, when it can tell.
fn not_text(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some("the file is gzip-compressed: decompress it first (the readers take CSV text or Parquet)")
    } else if head.starts_with(b"PK\x03\x04") {
        Some("the file is a ZIP archive (an .xlsx workbook?): neither CSV text nor Parquet; export the sheet as CSV")
    } else if head.contains(&0) {
        Some("the file is neither CSV text (it holds NUL bytes: binary data, or UTF-16 text, which must be saved as UTF-8) nor Parquet (which starts with PAR1)")
    } else {
        None
    }
}

impl Records<FileSource> {
    /// Opens what `--data` names, told by content, not by name: a folder is a Parquet data
    /// set, a file starting with `PAR1` a Parquet file, a file whose start holds NUL bytes
    /// (binary, compressed, UTF-16) is refused as neither, and anything else is read as CSV
    /// ([`Records::open`]). `has_header` is not asked for Parquet, which always has one.
    pub fn open_path(
        path: &Path,
        has_header: impl Fn(&[&str]) -> bool,
    ) -> Result<Records<FileSource>, ReadError> {
        let io_error = |source| ReadError::Io {
            path: path.to_owned(),
            source,
        };
        let metadata = std::fs::metadata(path).map_err(io_error)?;
        if metadata.is_dir() {
            return Records::parquet(path, true);
        }
        let file = File::open(path).map_err(io_error)?;
        let mut head = Vec::new();
        let file = {
            let mut start = file.take(SNIFF_BYTES);
            start.read_to_end(&mut head).map_err(io_error)?;
            start.into_inner()
        };
        if head.starts_with(PARQUET_MAGIC) {
            if !metadata.is_file() {
                return Err(ReadError::Format {
                    path: path.to_owned(),
                    message: "a Parquet stream cannot be read from a pipe: Parquet is read from its end, so give a file".into(),
                });
            }
            return Records::parquet(path, false);
        }
        if let Some(why) = not_text(&head) {
            return Err(ReadError::Format {
                path: path.to_owned(),
                message: why.into(),
            });
        }
        // Nothing of the file is read twice: a pipe cannot be rewound.
        Records::open(io::Cursor::new(head).chain(file), path, has_header)
    }

    #[cfg(feature = "parquet")]
    fn parquet(path: &Path, folder: bool) -> Result<Records<FileSource>, ReadError> {
        let set = if folder {
            self::parquet::DataSet::of_folder(path)?
        } else {
            self::parquet::DataSet::of_file(path)
        };
        let records = self::parquet::ParquetRecords::open(set)?;
        Ok(Records {
            first_fields: records.header().to_vec(),
            backend: Backend::Parquet(records),
            path: path.to_owned(),
            record: csv::ByteRecord::new(),
            separator: b',',
            has_header: true,
            format: DataFormat::Parquet,
            meter: Meter::default(),
        })
    }

    #[cfg(not(feature = "parquet"))]
    fn parquet(path: &Path, folder: bool) -> Result<Records<FileSource>, ReadError> {
        let what = if folder {
            "a folder (read as a Parquet data set)"
        } else {
            "a Parquet file"
        };
        Err(ReadError::Format {
            path: path.to_owned(),
            message: format!(
                "{what}, but this build of clickstream reads CSV only (built without the `parquet` feature)"
            ),
        })
    }
}

impl<R: Read> Records<R> {
    /// Reads the first line whole (within the row bound), tells the separator and, by
    /// `has_header` on its fields, whether it is a header; errors here concern the file.
    pub fn open(
        source: R,
        path: &Path,
        has_header: impl Fn(&[&str]) -> bool,
    ) -> Result<Records<R>, ReadError> {
        let mut buffered = BufReader::with_capacity(
            1 << 16,
            HashingReader {
                inner: BoundedLines::new(source),
                hasher: Sha256::new(),
                lines: LineCounter::default(),
                read: 0,
                record_start: 0,
            },
        );
        // The first line, whole: a pipe may give it in pieces, and a line with no end is
        // stopped by the row bound rather than read on.
        let mut head = Vec::new();
        loop {
            let buf = buffered.fill_buf().map_err(|e| read_failure(path, e))?;
            if buf.is_empty() {
                break;
            }
            match buf.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    head.extend_from_slice(&buf[..=end]);
                    buffered.consume(end + 1);
                    break;
                }
                None => {
                    let len = buf.len();
                    head.extend_from_slice(buf);
                    buffered.consume(len);
                }
            }
        }
        if head.is_empty() {
            return Err(ReadError::Empty {
                path: path.to_owned(),
            });
        }
        let first_bytes = head.strip_suffix(b"\n").unwrap_or(&head).to_vec();
        let first_line = String::from_utf8_lossy(&first_bytes).into_owned();
        let separator = detect_separator(&first_line).ok_or_else(|| ReadError::Separator {
            path: path.to_owned(),
        })?;
        let first_fields: Vec<&str> = first_line
            .trim_end_matches('\r')
            .split(separator as char)
            .collect();
        let has_header = has_header(&first_fields);
        if has_header && std::str::from_utf8(&first_bytes).is_err() {
            return Err(ReadError::NotUtf8 {
                path: path.to_owned(),
                line: 1,
                column: "(the header)".into(),
                value: first_line.trim_end_matches('\r').to_owned(),
                session: None,
            });
        }
        let first_fields: Vec<String> = first_fields
            .iter()
            .map(|s| s.trim().trim_matches('"').to_owned())
            .collect();
        let csv = csv::ReaderBuilder::new()
            .delimiter(separator)
            .has_headers(has_header)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(io::Cursor::new(head).chain(buffered));
        Ok(Records {
            backend: Backend::Csv(csv),
            path: path.to_owned(),
            record: csv::ByteRecord::new(),
            separator,
            first_fields,
            has_header,
            format: DataFormat::Csv,
            meter: Meter::default(),
        })
    }

    /// Every record read from now on is told to `meter`.
    pub fn metered(&mut self, meter: Meter) {
        self.meter = meter;
    }

    /// Only these columns (indices into the header) are read: the other cells of each
    /// record may be empty. A Parquet data set then decodes only them; CSV reads every cell
    /// anyway.
    pub fn keep_only(&mut self, columns: &[usize]) {
        match &mut self.backend {
            Backend::Csv(_) | Backend::Spilled(_) => {}
            #[cfg(feature = "parquet")]
            Backend::Parquet(parquet) => parquet.keep_only(columns),
        }
        #[cfg(not(feature = "parquet"))]
        let _ = columns;
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// For a Parquet data set, its rows and the least bytes they take as text
    /// ([`ParquetRecords::least_text`](self::parquet::ParquetRecords::least_text)); `None`
    /// for text, whose size is its length.
    pub fn least_text(&self) -> Result<Option<(u64, u64)>, ReadError> {
        match &self.backend {
            Backend::Csv(_) | Backend::Spilled(_) => Ok(None),
            #[cfg(feature = "parquet")]
            Backend::Parquet(parquet) => parquet.least_text().map(Some),
        }
    }

    /// Reads the next non-blank record into [`Records::record`]: its line, or `None` at the
    /// end. An error ends the file (a row past the bound, a broken quote).
    pub fn next_record(&mut self) -> Result<Option<u64>, ReadError> {
        self.next_metered(false)
    }

    /// Reads the next non-blank record for its [`cells`](Records::cell): a Parquet row's
    /// cells of the types read as values are taken from their columns as they are (its
    /// [`record`](Records::record) is then not written); any other backend's are the
    /// record's.
    pub fn next_cells(&mut self) -> Result<Option<u64>, ReadError> {
        self.next_metered(true)
    }

    fn next_metered(&mut self, cells: bool) -> Result<Option<u64>, ReadError> {
        let line = self.next_unmetered(cells)?;
        if line.is_some() {
            self.meter.record();
        }
        Ok(line)
    }

    /// How many cells the record last read has.
    pub fn cells(&self) -> usize {
        match &self.backend {
            #[cfg(feature = "parquet")]
            Backend::Parquet(parquet) if parquet.has_cells() => parquet.cells(),
            _ => self.record.len(),
        }
    }

    /// Cell `column` of the record last read (empty bytes past its end).
    pub fn cell(&self, column: usize) -> Cell<'_> {
        match &self.backend {
            #[cfg(feature = "parquet")]
            Backend::Parquet(parquet) if parquet.has_cells() => parquet.cell(column),
            _ => Cell::Bytes(self.record.get(column).unwrap_or(b"")),
        }
    }

    fn next_unmetered(&mut self, cells: bool) -> Result<Option<u64>, ReadError> {
        #[cfg(not(feature = "parquet"))]
        let _ = cells;
        let csv = match &mut self.backend {
            Backend::Csv(csv) => csv,
            #[cfg(feature = "parquet")]
            Backend::Parquet(parquet) if cells => return parquet.next_cells(),
            #[cfg(feature = "parquet")]
            Backend::Parquet(parquet) => return parquet.next_record(&mut self.record),
            Backend::Spilled(spilled) => {
                let more = spilled.read_byte_record(&mut self.record).map_err(|e| {
                    ReadError::Malformed {
                        path: self.path.clone(),
                        line: 0,
                        message: format!("reading the rows grouped on disk: {e}"),
                    }
                })?;
                return if more {
                    self.spilled_line().map(Some)
                } else {
                    Ok(None)
                };
            }
        };
        let path = &self.path;
        loop {
            let start = csv.position().byte();
            hashing(csv).record_start = start;
            let more = csv.read_byte_record(&mut self.record).map_err(|e| {
                let long = match e.kind() {
                    csv::ErrorKind::Io(io) => RowTooLong::of(io),
                    _ => None,
                };
                ReadError::Malformed {
                    path: path.clone(),
                    line: long.map_or_else(|| e.position().map_or(0, |p| p.line()), |l| l.line),
                    message: long.map_or_else(|| e.to_string(), RowTooLong::what),
                }
            })?;
            if !more {
                return Ok(None);
            }
            if self.record.iter().all(|f| f.is_empty()) {
                continue;
            }
            let start = self.record.position().map_or(0, |p| p.byte());
            return Ok(Some(hashing(csv).lines.line_of_record_at(start)));
        }
    }

    /// The file read to its end (so the checksum covers all of it): its checksum and name.
    /// A Parquet data set's checksum is described in [`parquet`](self::parquet).
    pub fn finish(self) -> Result<(String, String), ReadError> {
        match self.backend {
            Backend::Csv(csv) => finish_hash(csv, &self.path),
            #[cfg(feature = "parquet")]
            Backend::Parquet(parquet) => parquet.finish(),
            // A partition is part of a file whose checksum its first reading took.
            Backend::Spilled(_) => Ok((String::new(), file_name(&self.path))),
        }
    }
}

fn hashing<R: Read>(csv: &mut csv::Reader<Source<R>>) -> &mut HashingReader<R> {
    csv.get_mut().get_mut().1.get_mut()
}

impl<R: Read> Rows<R> {
    /// Reads the header (or sees there is none); errors here concern the whole file.
    pub fn new(source: R, path: &Path) -> Result<Rows<R>, ReadError> {
        Rows::of(Records::open(source, path, starts_with_a_word)?, path)
    }

    fn of(mut records: Records<R>, path: &Path) -> Result<Rows<R>, ReadError> {
        let has_header = records.has_header;
        let mut stats = ReadStats {
            format: records.format,
            separator: records.separator as char,
            header: has_header,
            ..ReadStats::default()
        };
        let layout = if has_header {
            let names = records.first_fields.clone();
            let mut index = [usize::MAX; Field::ALL.len()];
            for (i, name) in names.iter().enumerate() {
                match column_of(name) {
                    Some(field) if index[field as usize] == usize::MAX => index[field as usize] = i,
                    _ => stats.ignored_columns.push(name.clone()),
                }
            }
            let missing: Vec<&str> = Field::ALL
                .iter()
                .filter(|f| index[**f as usize] == usize::MAX)
                .map(|f| f.name())
                .collect();
            if !missing.is_empty() {
                return Err(ReadError::MissingColumns {
                    path: path.to_owned(),
                    missing: missing.join(", "),
                    found: names.join(", "),
                });
            }
            records.keep_only(&index);
            Layout { index, names }
        } else {
            let mut index = [0; Field::ALL.len()];
            for (i, f) in Field::ALL.iter().enumerate() {
                index[*f as usize] = i;
            }
            Layout {
                index,
                names: Field::ALL
                    .iter()
                    .map(|f| f.original_name().to_owned())
                    .collect(),
            }
        };
        Ok(Rows {
            records,
            fields: layout.names.len(),
            layout,
            stats,
        })
    }

    /// The next data row (blank lines are passed over), or `None` at the end. The outer
    /// error ends the file (it cannot be read on); the inner one refuses this row only.
    #[allow(clippy::type_complexity)]
    pub fn next_row(&mut self) -> Result<Option<Result<Row, ReadError>>, ReadError> {
        let Some(line) = self.records.next_cells()? else {
            return Ok(None);
        };
        self.stats.rows += 1;
        Ok(Some(self.parse(line)))
    }

    fn parse(&self, line: u64) -> Result<Row, ReadError> {
        let records = &self.records;
        let path = || records.path.clone();
        let column = |field| self.layout.of(field);
        // The session the row names, for an error to say: written only for an error.
        let session = || records.cell(column(Field::SessionId)).text();
        let found = records.cells();
        if found != self.fields {
            return Err(ReadError::FieldCount {
                path: path(),
                line,
                found,
                expected: self.fields,
                session: session(),
            });
        }
        // Every field is text or a value before any is read: the first one that is not
        // names its column, whichever it is.
        let mut values = [Value::Text(""); Field::ALL.len()];
        for field in Field::ALL {
            values[field as usize] = match records.cell(column(field)) {
                Cell::Value(value) => value,
                Cell::Bytes(bytes) => {
                    Value::Text(std::str::from_utf8(bytes).map_err(|_| ReadError::NotUtf8 {
                        path: path(),
                        line,
                        column: self.layout.column_name(field),
                        value: String::from_utf8_lossy(bytes).into_owned(),
                        session: session(),
                    })?)
                }
            };
        }
        parse_row(&values)
            .map_err(|errors| ReadError::Invalid {
                path: path(),
                line,
                values: errors
                    .into_iter()
                    .map(|err| BadValue {
                        column: self.layout.column_name(err.field),
                        allowed: err.expected().into(),
                        value: err.value,
                    })
                    .collect(),
                session: session(),
            })
            .map(|(session, click)| Row {
                line,
                session,
                click,
            })
    }

    /// Applies `--skip-invalid` to a refused row: counted with an example, or the error.
    fn refuse(&mut self, err: ReadError, options: ReadOptions) -> Result<(), ReadError> {
        self.stats.refuse(err, options, &self.records.path)
    }

    /// One session from its rows: exact duplicates dropped and counted, two different
    /// clicks with one order an error (or skipped). `None` when nothing is left of it.
    fn session(
        &mut self,
        id: SessionId,
        lines_and_clicks: Vec<(u64, Click)>,
        options: ReadOptions,
    ) -> Result<Option<Session>, ReadError> {
        let line_orders: Vec<(u64, u32)> = lines_and_clicks
            .iter()
            .map(|(line, click)| (*line, click.order.get()))
            .collect();
        let clicks: Vec<Click> = lines_and_clicks.into_iter().map(|(_, c)| c).collect();
        let session_name = id.to_string();
        // `new_lenient` never fails on a non-empty list.
        let Ok((session, dropped)) = Session::new_lenient(id, clicks) else {
            return Ok(None);
        };
        self.stats.duplicate_clicks_dropped += dropped.exact_repeats as u64;
        if let Some(&order) = dropped.conflicting.first() {
            if !options.skip_invalid {
                // Report the second line holding that order: the first one read is kept.
                let line = line_orders
                    .iter()
                    .filter(|(_, o)| *o == order)
                    .nth(1)
                    .map_or(0, |(line, _)| *line);
                return Err(ReadError::ConflictingOrder {
                    path: self.records.path.clone(),
                    line,
                    session: session_name,
                    order,
                });
            }
            self.stats.invalid_rows_skipped += dropped.conflicting.len() as u64;
            for order in dropped.conflicting.iter().take(MAX_EXAMPLES) {
                if self.stats.skipped_examples.len() < MAX_EXAMPLES {
                    self.stats.skipped_examples.push(format!(
                        "session {session_name:?}: a second, different click with order {order}"
                    ));
                }
            }
        }
        self.stats.clicks += session.clicks().len() as u64;
        self.stats.sessions += 1;
        Ok(Some(session))
    }

    /// The file read to its end (so the checksum covers all of it), with its sessions.
    fn finish(self, sessions: Vec<Session>) -> Result<Clickstream, ReadError> {
        let Rows { records, stats, .. } = self;
        let (sha256, file_name) = records.finish()?;
        Ok(Clickstream {
            file_name,
            sha256,
            sessions,
            stats,
        })
    }

    /// The file read to its end: its checksum and name, for a reader that kept no sessions.
    fn finish_stream(self) -> Result<(String, String, ReadStats), ReadError> {
        let Rows { records, stats, .. } = self;
        let (sha256, file_name) = records.finish()?;
        Ok((sha256, file_name, stats))
    }
}

fn finish_hash<R: Read>(
    csv: csv::Reader<Source<R>>,
    path: &Path,
) -> Result<(String, String), ReadError> {
    // Drain whatever the CSV reader left so the checksum covers the whole file.
    let mut rest = csv.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| read_failure(path, e))?;
    let sha256 = hex::encode(rest.into_inner().1.into_inner().hasher.finalize());
    Ok((sha256, file_name(path)))
}

pub(crate) fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Sessions one at a time, for files where each session's rows are together (the UCI file
/// is): memory holds one session's clicks, not the file. A session whose rows come back
/// after another session's is an error naming its line ([`SessionStream::found_apart`]),
/// as scoring its two parts apart would give answers the whole-file readers do not; such a
/// file is read by [`spill::GroupedSessions`] instead.
///
/// How a session that comes back is seen, in bounded memory: while the sessions given so
/// far are fewer than [`FINISHED_SET`], by an exact set of their hashes (8 bytes each);
/// past that, if they all came in key order (the UCI file, an export sorted by session),
/// the set is dropped and each session must come after the one before in key order, which
/// a session coming back cannot. A file of more sessions, together but in no key order, is
/// then treated as one whose rows lie apart.
pub struct SessionStream<R: Read> {
    grouper: Grouper<R>,
    current: Option<(SessionId, Gathering)>,
    /// Sessions begun so far, for each one's place.
    begun: usize,
    /// Hashes of the sessions already given, while they are fewer than [`FINISHED_SET`].
    done: Option<std::collections::HashSet<u64>>,
    /// Whether every session so far came after the one before in key order.
    ordered: bool,
    /// Whether the read stopped at a session found apart.
    apart: bool,
    /// [`FINISHED_SET`], but for tests.
    finished_set: usize,
    ended: bool,
}

/// Sessions whose hashes a [`SessionStream`] keeps to see one come back: about 40 MB at
/// most (the set's table doubles as it grows).
pub const FINISHED_SET: usize = 1 << 21;

impl<R: Read> SessionStream<R> {
    pub fn new(source: R, path: &Path, options: ReadOptions) -> Result<Self, ReadError> {
        Ok(SessionStream::of(Grouper::new(
            source,
            path,
            Policy::Read(options),
        )?))
    }

    fn of(grouper: Grouper<R>) -> Self {
        SessionStream {
            grouper,
            current: None,
            begun: 0,
            done: Some(std::collections::HashSet::new()),
            ordered: true,
            apart: false,
            finished_set: FINISHED_SET,
            ended: false,
        }
    }

    /// Whether the read stopped because a session's rows lie apart (or, past
    /// [`FINISHED_SET`] sessions, out of key order): the file can be read by
    /// [`spill::GroupedSessions`].
    pub fn found_apart(&self) -> bool {
        self.apart
    }

    /// The next whole session, or `None` at the end of the file.
    pub fn next_session(&mut self) -> Result<Option<Session>, ReadError> {
        while let Some(closed) = self.next_closed()? {
            match closed {
                Closed::Session(session) => return Ok(Some(session)),
                Closed::Skipped => {}
                Closed::Refused(refused) => {
                    return Err(refused.into_error(&self.grouper.rows.records.path));
                }
            }
        }
        Ok(None)
    }

    /// The next gathered session, closed by the policy, or `None` at the end of the file.
    fn next_closed(&mut self) -> Result<Option<Closed>, ReadError> {
        let max_clicks = self.grouper.policy.max_clicks();
        while !self.ended {
            let Some(taken) = self.grouper.next_taken()? else {
                self.ended = true;
                break;
            };
            let Some((session, line, taken)) = taken else {
                continue;
            };
            match &mut self.current {
                Some((id, gathering)) if *id == session => gathering.take(taken, max_clicks),
                _ => {
                    let after = self.current.as_ref().is_none_or(|(previous, _)| {
                        crate::domain::sample::key_order(previous.as_str(), session.as_str())
                            .is_lt()
                    });
                    if let Some(why) = self.comes_back(&session, after) {
                        self.apart = true;
                        return Err(ReadError::Malformed {
                            path: self.grouper.rows.records.path.clone(),
                            line,
                            message: format!(
                                "session {:?} {why}; streaming needs each session's rows together (sort the file by session)",
                                session.as_str()
                            ),
                        });
                    }
                    let mut gathering = Gathering::new(self.begun);
                    self.begun += 1;
                    gathering.take(taken, max_clicks);
                    if let Some((id, finished)) = self.current.replace((session, gathering)) {
                        if let Some(done) = &mut self.done {
                            done.insert(id_hash(&id));
                        }
                        return self.grouper.close(id, finished).map(Some);
                    }
                }
            }
        }
        match self.current.take() {
            Some((id, gathering)) => self.grouper.close(id, gathering).map(Some),
            None => Ok(None),
        }
    }

    /// Why `session`, beginning after the one before (`after` it in key order or not),
    /// cannot be streamed, if it cannot.
    fn comes_back(&mut self, session: &SessionId, after: bool) -> Option<String> {
        self.ordered &= after;
        match &mut self.done {
            Some(done) if done.contains(&id_hash(session)) => {
                Some("comes back after other sessions' rows".into())
            }
            Some(done) if done.len() >= self.finished_set => {
                if self.ordered {
                    // In key order so far: order alone sees a session come back from here.
                    self.done = None;
                    None
                } else {
                    Some(format!(
                        "begins after more than {} sessions that are not in key order, so whether its rows lie apart cannot be told in bounded memory",
                        self.finished_set
                    ))
                }
            }
            Some(_) => None,
            None if after => None,
            None => Some(format!(
                "comes before the session ahead of it in key order, after {} sessions that were in it, so it may come back",
                self.finished_set
            )),
        }
    }

    /// Reads to the end of the file: its checksum and what was read.
    pub fn finish(self) -> Result<(String, ReadStats), ReadError> {
        let (sha256, _, stats) = self.grouper.rows.finish_stream()?;
        Ok((sha256, stats))
    }

    /// [`finish`](Self::finish), with the name the file's readers give it.
    pub fn finish_named(self) -> Result<(String, String, ReadStats), ReadError> {
        self.grouper.rows.finish_stream()
    }

    /// Every row read from now on is told to `meter`.
    pub fn metered(&mut self, meter: Meter) {
        self.grouper.rows.records.metered(meter);
    }
}

impl SessionStream<FileSource> {
    /// A CSV file, a Parquet file or a folder of them ([`Records::open_path`]).
    pub fn open(path: &Path, options: ReadOptions) -> Result<Self, ReadError> {
        Ok(SessionStream::of(Grouper::open(
            path,
            Policy::Read(options),
        )?))
    }
}

fn id_hash(id: &SessionId) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(id)
}

/// A cell of a row as a record holds it, for [`Rows`]: bytes still to be checked as UTF-8
/// text (CSV, rows grouped on disk, and Parquet cells written as text), or a value read
/// straight from a typed Parquet column ([`parquet`](self::parquet)'s typed path).
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Bytes(&'a [u8]),
    Value(Value<'a>),
}

impl Cell<'_> {
    /// The cell as text, for an error to name; `None` for bytes that are not UTF-8.
    fn text(self) -> Option<String> {
        match self {
            Cell::Bytes(bytes) => std::str::from_utf8(bytes).ok().map(str::to_owned),
            Cell::Value(value) => Some(value.text(&mut itoa::Buffer::new()).into_owned()),
        }
    }
}

/// A cell's value as [`parse_row`] reads it. A number stands for the text a typed column's
/// cell is written as (the Parquet module's documentation): `Whole` for its decimal digits,
/// `Number` for Rust's shortest round-trip form of a double; each is read exactly as that
/// text would be, without writing it unless the text itself is needed.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Text(&'a str),
    Whole(i64),
    Number(f64),
}

impl<'a> Value<'a> {
    /// The text the value stands for; a whole number is written into `digits`.
    fn text<'b>(&'b self, digits: &'b mut itoa::Buffer) -> std::borrow::Cow<'b, str> {
        match *self {
            Value::Text(text) => text.into(),
            Value::Whole(n) => digits.format(n).into(),
            Value::Number(x) => x.to_string().into(),
        }
    }

    /// As [`whole_number`] reads the value's text.
    fn whole(&self) -> Option<i64> {
        match *self {
            Value::Text(text) => whole_number(text),
            Value::Whole(n) => Some(n),
            // Not on the typed path (a double in a whole-number column is written as text);
            // read through its text so that the rule stays whole_number's.
            Value::Number(x) => whole_number(&x.to_string()),
        }
    }

    /// As `parse::<f64>` reads the value's text: a whole number's digits parse to the
    /// nearest double, which is what `as` rounds to; a double's shortest form parses back
    /// to the same bits (NaN to a NaN, which no price admits).
    fn number(&self) -> Option<f64> {
        match *self {
            Value::Text(text) => text.parse::<f64>().ok(),
            Value::Whole(n) => Some(n as f64),
            Value::Number(x) => Some(x),
        }
    }
}

/// A row's cells as a session id and a click, or every bad value of it in column order:
/// values of the wrong type by the click table's kinds, then the domain checks of the rest.
fn parse_row(cells: &[Value<'_>; Field::ALL.len()]) -> Result<(SessionId, Click), Vec<FieldError>> {
    let cell = |field: Field| cells[field as usize];
    let mut digits = itoa::Buffer::new();
    let mut errors = Vec::new();
    let id = SessionId::parse(&cell(Field::SessionId).text(&mut digits))
        .map_err(|e| errors.push(e))
        .ok();
    // A value of the wrong type stands in as the table's example, so the other fields
    // are still checked; the click is not kept.
    let mut wrong_type: Vec<Field> = Vec::new();
    let price = cell(Field::Price).number().unwrap_or_else(|| {
        wrong_type.push(Field::Price);
        match UCI.spec(Field::Price).map(|s| &s.example) {
            Some(Example::Number(v)) => *v,
            _ => 1.0,
        }
    });
    let mut whole = |field: Field| -> i64 {
        cell(field).whole().unwrap_or_else(|| {
            wrong_type.push(field);
            example_whole(field)
        })
    };
    let product = cell(Field::Product);
    let raw = RawClick {
        year: whole(Field::Year),
        month: whole(Field::Month),
        day: whole(Field::Day),
        order: whole(Field::Order),
        country: whole(Field::Country),
        page1_main_category: whole(Field::Category),
        page2_clothing_model: product.text(&mut digits),
        colour: whole(Field::Colour),
        location: whole(Field::Location),
        model_photography: whole(Field::Photography),
        price,
        price_2: whole(Field::Price2),
        page: whole(Field::Page),
    };
    let date_stood_in = wrong_type
        .iter()
        .any(|f| matches!(f, Field::Year | Field::Month | Field::Day));
    // The refused values' text is written only now, for the error.
    errors.extend(
        wrong_type
            .iter()
            .map(|&f| FieldError::new(f, cell(f).text(&mut itoa::Buffer::new()))),
    );
    let click = Click::parse(&raw)
        .map_err(|more| {
            // A month's length is only known from real parts of the date.
            errors.extend(
                more.into_iter()
                    .filter(|e| !(date_stood_in && e.note.is_some())),
            )
        })
        .ok();
    match (id, click) {
        (Some(id), Some(click)) if errors.is_empty() => Ok((id, click)),
        _ => {
            errors.sort_by_key(|e| e.field as usize);
            Err(errors)
        }
    }
}

/// A whole number as files write it; some exports write integer codes as `4.0`.
fn whole_number(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().or_else(|| {
        text.parse::<f64>()
            .ok()
            .filter(|v| v.fract() == 0.0 && v.abs() < 1e15)
            .map(|v| v as i64)
    })
}

/// The table's example of a whole-number field, to stand in for a value of the wrong type.
fn example_whole(field: Field) -> i64 {
    match UCI.spec(field).map(|s| (s.kind(), &s.example)) {
        Some((Kind::Whole, Example::Whole(v))) => *v,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const ORIGINAL: &str = "year;month;day;order;country;session ID;page 1 (main category);page 2 (clothing model);colour;location;model photography;price;price 2;page";
    const SNAKE: &str = "year,month,day,order,country,session_id,page1_main_category,page2_clothing_model,colour,location,model_photography,price,price_2,page";

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(text.as_bytes()).expect("write temp file");
        f
    }

    fn read(text: &str, skip_invalid: bool) -> Result<Clickstream, ReadError> {
        let f = file(text);
        read_clickstream(
            f.path(),
            ReadOptions {
                skip_invalid,
                ..ReadOptions::default()
            },
        )
    }

    #[test]
    fn reads_the_uci_original() {
        let text = format!("{ORIGINAL}\n2008;4;1;1;29;1;1;A13;1;5;1;28;2;1\n2008;4;1;2;29;1;1;A16;1;6;1;33;2;1\n2008;4;1;1;9;2;4;P1;3;1;2;20;1;5\n");
        let cs = read(&text, false).expect("valid file");
        assert_eq!(cs.sessions.len(), 2);
        assert_eq!(cs.sessions[0].clicks().len(), 2);
        assert_eq!((cs.stats.separator, cs.stats.header), (';', true));
        assert_eq!(cs.stats.clicks, 3);
        assert_eq!(cs.sha256.len(), 64);
    }

    #[test]
    fn reads_comma_snake_case_copies_with_extra_columns_in_any_order() {
        let text = "index,session_id,year,month,day,order,country,page1_main_category,page2_clothing_model,colour,location,model_photography,price,price_2,page\n0,abc,2008,4,1,1,29,1,A13,1,5,1,28,2,1\n";
        let cs = read(text, false).expect("valid file");
        assert_eq!(cs.sessions[0].id().as_str(), "abc");
        assert_eq!(cs.stats.separator, ',');
        assert_eq!(cs.stats.ignored_columns, vec!["index".to_string()]);
    }

    #[test]
    fn reads_headerless_files_in_the_original_order() {
        let cs = read("2008,4,1,1,29,7,1,A13,1,5,1,28,2,1\n", false).expect("valid file");
        assert!(!cs.stats.header);
        assert_eq!(cs.sessions[0].id().as_str(), "7");
    }

    #[test]
    fn exact_duplicates_are_dropped_and_counted() {
        let text = format!(
            "{SNAKE}\n2008,4,1,1,29,1,1,A13,1,5,1,28,2,1\n2008,4,1,1,29,1,1,A13,1,5,1,28,2,1\n"
        );
        let cs = read(&text, false).expect("valid file");
        assert_eq!(cs.stats.duplicate_clicks_dropped, 1);
        assert_eq!(cs.stats.clicks, 1);
    }

    #[test]
    fn an_invalid_value_names_file_line_column_value_and_what_is_allowed() {
        let text = format!(
            "{ORIGINAL}\n2008;4;1;1;29;1;1;A13;1;5;1;28;2;1\n2008;4;1;2;29;1;1;A16;1;9;1;33;2;1\n"
        );
        let err = read(&text, false).expect_err("location 9 is invalid");
        let ReadError::Invalid { line, values, .. } = &err else {
            panic!("expected an invalid-value error, got {err}");
        };
        let [BadValue {
            column,
            value,
            allowed,
        }] = values.as_slice()
        else {
            panic!("expected one bad value, got {values:?}");
        };
        assert_eq!(
            (*line, column.as_str(), value.as_str()),
            (3, "location", "9")
        );
        assert!(allowed.contains("1 to 6"));
        assert!(
            err.to_string().contains("line 3: column \"location\""),
            "{err}"
        );
    }

    #[test]
    fn non_numbers_are_invalid_values_too() {
        let text = format!("{SNAKE}\n2008,4,1,1,29,1,1,A13,1,5,1,cheap,2,1\n");
        let err = read(&text, false).expect_err("price is not a number");
        assert!(
            matches!(err, ReadError::Invalid { ref values, .. } if values[0].column == "price"),
            "{err}"
        );
    }

    #[test]
    fn every_bad_value_of_a_row_is_named_in_column_order() {
        // A wrong type (page), an impossible day of a real month, a code out of range.
        let text = format!("{SNAKE}\n2008,6,31,1,29,s,1,A13,1,9,1,28,2,x\n");
        let err = read(&text, false).expect_err("three bad values");
        let ReadError::Invalid { values, .. } = &err else {
            panic!("expected invalid values, got {err}");
        };
        let columns: Vec<&str> = values.iter().map(|v| v.column.as_str()).collect();
        assert_eq!(columns, ["day", "location", "page"], "{err}");
        assert!(values[0].allowed.contains("June has 30 days"), "{err}");
        // A month of the wrong type says nothing of the day's length.
        let text = format!("{SNAKE}\n2008,x,31,1,29,s,1,A13,1,5,1,28,2,1\n");
        let err = read(&text, false).expect_err("bad month");
        assert!(
            matches!(&err, ReadError::Invalid { values, .. } if values.len() == 1 && values[0].column == "month"),
            "{err}"
        );
    }

    #[test]
    fn skip_invalid_counts_and_describes_skipped_rows() {
        let text = format!("{SNAKE}\n2008,4,1,1,29,1,1,A13,1,5,1,28,2,1\n2008,4,1,2,29,1,1,A13,1,5,1,28,2,7\n2008,13,1,3,29,1,1,A13,1,5,1,28,2,1\n");
        let cs = read(&text, true).expect("invalid rows are skipped");
        assert_eq!(cs.stats.invalid_rows_skipped, 2);
        assert_eq!(cs.stats.clicks, 1);
        assert!(
            cs.stats.skipped_examples[0].contains("line 3"),
            "{:?}",
            cs.stats.skipped_examples
        );
    }

    #[test]
    fn two_different_clicks_with_one_order_stop_the_run_or_are_skipped() {
        let text = format!(
            "{SNAKE}\n2008,4,1,1,29,1,1,A13,1,5,1,28,2,1\n2008,4,1,1,29,1,1,B4,1,5,1,28,2,1\n"
        );
        let err = read(&text, false).expect_err("conflicting clicks");
        assert!(
            matches!(
                err,
                ReadError::ConflictingOrder {
                    line: 3,
                    order: 1,
                    ..
                }
            ),
            "{err}"
        );
        let cs = read(&text, true).expect("the second click is skipped");
        assert_eq!((cs.stats.clicks, cs.stats.invalid_rows_skipped), (1, 1));
    }

    #[test]
    fn missing_columns_are_listed() {
        let err = read("year,month,day\n2008,4,1\n", false).expect_err("columns missing");
        let text = err.to_string();
        assert!(
            text.contains("session_id") && text.contains("price_2"),
            "{text}"
        );
    }

    #[test]
    fn empty_files_and_files_without_a_separator_are_refused() {
        assert!(matches!(read("", false), Err(ReadError::Empty { .. })));
        assert!(matches!(
            read("hello\n", false),
            Err(ReadError::Separator { .. })
        ));
    }

    #[test]
    fn malformed_csv_is_reported_with_its_line() {
        let text = format!("{SNAKE}\n2008,4,1,1,29,\"unclosed,1,A13,1,5,1,28,2,1\n");
        let err = read(&text, false).expect_err("bad quoting");
        // An unclosed quote swallows the rest of the file into one field.
        assert!(
            matches!(
                err,
                ReadError::Malformed { .. }
                    | ReadError::Invalid { .. }
                    | ReadError::FieldCount { line: 2, .. }
            ),
            "{err}"
        );
    }

    #[test]
    fn rows_with_fewer_or_more_fields_than_the_header_are_refused() {
        let short = format!("{SNAKE}\n2008,4,1\n");
        let err = read(&short, false).expect_err("row too short");
        assert!(
            matches!(
                err,
                ReadError::FieldCount {
                    line: 2,
                    found: 3,
                    expected: 14,
                    ..
                }
            ),
            "{err}"
        );
        let long = format!("{SNAKE}\n2008,4,1,1,29,1,1,A13,1,5,1,28,2,1\n2008,4,1,2,29,1,1,A13,1,5,1,28,2,1,extra\n");
        let err = read(&long, false).expect_err("row too long");
        assert!(
            matches!(
                err,
                ReadError::FieldCount {
                    line: 3,
                    found: 15,
                    expected: 14,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("line 3: 15 fields, but the header has 14"),
            "{err}"
        );
        // Headerless files hold the 14 columns of the original order.
        let err = read("2008,4,1,1,29,7,1,A13,1,5,1,28,2,1,0\n", false).expect_err("15 fields");
        assert!(
            matches!(
                err,
                ReadError::FieldCount {
                    line: 1,
                    expected: 14,
                    ..
                }
            ),
            "{err}"
        );
        let cs = read(&long, true).expect("skipped");
        assert_eq!((cs.stats.clicks, cs.stats.invalid_rows_skipped), (1, 1));
        assert!(
            cs.stats.skipped_examples[0].starts_with("line 3: 15 fields"),
            "{:?}",
            cs.stats.skipped_examples
        );
    }

    fn read_bytes(bytes: &[u8], skip_invalid: bool) -> Result<Clickstream, ReadError> {
        read_clickstream_from(
            bytes,
            Path::new("b.csv"),
            ReadOptions {
                skip_invalid,
                ..ReadOptions::default()
            },
        )
    }

    #[test]
    fn bytes_that_are_not_utf8_are_named_by_line_and_column_or_skipped() {
        for (column, row) in [
            (
                "page2_clothing_model",
                b"2008,4,1,2,29,s1,1,A\xff3,1,5,1,28,2,1\n".as_slice(),
            ),
            (
                "session_id",
                b"2008,4,1,2,29,s\xe9,1,A13,1,5,1,28,2,1\n".as_slice(),
            ),
            (
                "price",
                b"2008,4,1,2,29,s1,1,A13,1,5,1,2\x808,2,1\n".as_slice(),
            ),
        ] {
            // The bad row first and later: the line is its own, never the header's.
            for (first, line) in [(true, 2), (false, 3)] {
                let good = b"2008,4,1,1,29,s1,1,A13,1,5,1,28,2,1\n".as_slice();
                let mut body = format!("{SNAKE}\n").into_bytes();
                if first {
                    body.extend_from_slice(row);
                    body.extend_from_slice(good);
                } else {
                    body.extend_from_slice(good);
                    body.extend_from_slice(row);
                }
                let err = read_bytes(&body, false).expect_err("not UTF-8");
                match &err {
                    ReadError::NotUtf8 {
                        line: l, column: c, ..
                    } => {
                        assert_eq!((*l, c.as_str()), (line, column), "{err}")
                    }
                    other => panic!("expected a UTF-8 error, got {other}"),
                }
                assert!(
                    err.to_string()
                        .contains(&format!("line {line}: column {column:?}")),
                    "{err}"
                );
                let cs = read_bytes(&body, true).expect("the row is skipped");
                assert_eq!((cs.stats.clicks, cs.stats.invalid_rows_skipped), (1, 1));
                assert!(cs.stats.skipped_examples[0].contains("not valid UTF-8"));
            }
        }
        // In a headerless file the first row is data: its line is 1 and the column named.
        let err =
            read_bytes(b"2008,4,1,1,29,s\xff,1,A13,1,5,1,28,2,1\n", false).expect_err("not UTF-8");
        assert!(
            matches!(err, ReadError::NotUtf8 { line: 1, ref column, .. } if column == "session ID"),
            "{err}"
        );
        // A header that is not UTF-8 says so, rather than missing columns.
        let err = read_bytes(b"year,mon\xffth\n2008,4\n", false).expect_err("bad header");
        assert!(matches!(err, ReadError::NotUtf8 { line: 1, .. }), "{err}");
    }

    #[test]
    fn lines_are_counted_through_blank_lines_and_windows_endings() {
        for (text, line) in [
            (format!("{SNAKE}\r\n2008,4,1,1,29,a,1,A13,1,5,1,28,2,1\r\n\r\n2008,4,1,2,29,a,1,A13,1,9,1,28,2,1\r\n"), 4),
            (format!("{SNAKE}\n2008,4,1,1,29,a,1,A13,1,5,1,28,2,1\n\n\n2008,4,1,2,29,a,1,A13,1,9,1,28,2,1\n"), 5),
            (format!("{SNAKE}\n\n2008,4,1,1,29,a,1,A13,1,9,1,28,2,1"), 3),
        ] {
            let err = read(&text, false).expect_err("location 9");
            assert!(matches!(err, ReadError::Invalid { line: l, .. } if l == line), "{err} (expected line {line})");
        }
    }

    #[test]
    fn windows_line_endings_read_like_unix_ones() {
        let text = format!("{ORIGINAL}\r\n2008;4;1;1;29;1;1;A13;1;5;1;28;2;1\r\n2008;4;1;2;29;1;1;A16;1;6;1;33;2;1\r\n");
        let cs = read(&text, false).expect("valid file");
        assert_eq!(cs.stats.clicks, 2);
    }

    #[test]
    fn the_stream_gives_sessions_one_by_one_and_refuses_one_that_comes_back() {
        let text = format!("{SNAKE}\n2008,4,1,1,29,a,1,A13,1,5,1,28,2,1\n2008,4,1,2,29,a,1,A13,1,5,1,28,2,1\n2008,4,1,1,29,b,1,A13,1,5,1,28,2,1\n");
        let mut stream =
            SessionStream::new(text.as_bytes(), Path::new("s.csv"), ReadOptions::default())
                .expect("header");
        let a = stream.next_session().expect("read").expect("a");
        assert_eq!((a.id().as_str(), a.clicks().len()), ("a", 2));
        let b = stream.next_session().expect("read").expect("b");
        assert_eq!(b.id().as_str(), "b");
        assert!(stream.next_session().expect("read").is_none());
        let (sha, stats) = stream.finish().expect("end");
        assert_eq!((sha.len(), stats.sessions, stats.clicks), (64, 2, 3));

        let back = format!("{text}2008,4,1,3,29,a,1,A13,1,5,1,28,2,1\n");
        let mut stream =
            SessionStream::new(back.as_bytes(), Path::new("s.csv"), ReadOptions::default())
                .expect("header");
        let mut outcome = Ok(None);
        for _ in 0..4 {
            outcome = stream.next_session();
            if outcome.is_err() {
                break;
            }
        }
        let err = outcome.expect_err("a comes back");
        assert!(
            err.to_string().contains("line 5") && err.to_string().contains("sort the file"),
            "{err}"
        );
    }

    /// Sessions of `ids` in turn, two rows each, under a finished set of two.
    fn stream_of(ids: &[&str]) -> Result<Vec<String>, (ReadError, bool)> {
        let mut text = format!("{SNAKE}\n");
        for id in ids {
            for order in 1..=2 {
                text.push_str(&format!("2008,4,1,{order},29,{id},1,A13,1,5,1,28,2,1\n"));
            }
        }
        let mut stream =
            SessionStream::new(text.as_bytes(), Path::new("s.csv"), ReadOptions::default())
                .expect("header");
        stream.finished_set = 2;
        let mut given = Vec::new();
        loop {
            match stream.next_session() {
                Ok(Some(s)) => given.push(s.id().to_string()),
                Ok(None) => return Ok(given),
                Err(e) => return Err((e, stream.found_apart())),
            }
        }
    }

    #[test]
    fn the_finished_set_is_bounded_and_then_key_order_sees_a_session_come_back() {
        // In key order: past the set's bound it is dropped and the file streams on.
        assert_eq!(
            stream_of(&["1", "2", "3", "4", "10"]).expect("in key order"),
            ["1", "2", "3", "4", "10"]
        );
        // Under the bound, together but in no order: the set tells.
        assert_eq!(
            stream_of(&["2", "1", "3"]).expect("together"),
            ["2", "1", "3"]
        );
        for (ids, why) in [
            // Come back under the bound: the set sees it.
            (
                &["1", "2", "1"][..],
                "comes back after other sessions' rows",
            ),
            // Past the bound in key order, then one out of it: it may come back.
            (
                &["1", "2", "3", "5", "4"][..],
                "comes before the session ahead of it",
            ),
            // Past the bound, never in key order: cannot be told.
            (&["2", "1", "3", "4"][..], "not in key order"),
        ] {
            let (err, apart) = stream_of(ids).expect_err("found apart");
            assert!(apart, "{err}");
            assert!(err.to_string().contains(why), "{ids:?}: {err}");
        }
        // Any other error is not a session found apart.
        let text = format!("{SNAKE}\n2008,4,1,1,29,a,1,A13,1,9,1,28,2,1\n");
        let mut stream =
            SessionStream::new(text.as_bytes(), Path::new("s.csv"), ReadOptions::default())
                .expect("header");
        assert!(stream.next_session().is_err());
        assert!(!stream.found_apart());
    }

    #[test]
    fn rows_grouped_on_disk_are_the_whole_files_sessions_in_key_order_by_partition() {
        // Rows of 40 sessions dealt round-robin (each session's rows apart), one of them
        // invalid (location 9), and a quoted cell.
        let mut text = format!("{SNAKE}\n");
        for order in 1..=3 {
            for s in 0..40 {
                let location = if (s, order) == (17, 2) { 9 } else { 5 };
                text.push_str(&format!(
                    "2008,4,1,{order},29,\"s{s}\",1,A13,1,{location},1,28,2,1\n"
                ));
            }
        }
        let f = file(&text);
        let spill_dir = tempfile::tempdir().expect("spill dir");
        let options = ReadOptions {
            skip_invalid: true,
            ..ReadOptions::default()
        };
        let whole = read_clickstream(f.path(), options).expect("whole");
        let spill = spill::SpillOptions {
            dir: spill_dir.path().to_owned(),
            budget: 600,
        };
        let mut grouped = spill::GroupedSessions::open(f.path(), options, &spill).expect("dealt");
        let partitions = grouped.partitions().expect("on disk");
        assert!(partitions > 4, "{partitions}");
        let mut given = Vec::new();
        while let Some(session) = grouped.next_session().expect("grouped") {
            given.push(session);
        }
        let (sha256, stats) = grouped.finish();
        assert_eq!(sha256, whole.sha256);
        assert_eq!(
            (
                stats.rows,
                stats.clicks,
                stats.sessions,
                stats.invalid_rows_skipped
            ),
            (120, 119, 40, 1)
        );
        assert!(
            stats.skipped_examples[0].contains("line 59"),
            "{:?}",
            stats.skipped_examples
        );
        let key = |s: &Session| s.id().to_string();
        let mut expected: Vec<Session> = whole.sessions;
        expected.sort_by_key(key);
        let mut sorted = given.clone();
        sorted.sort_by_key(key);
        assert_eq!(sorted, expected);
        assert_eq!(std::fs::read_dir(spill_dir.path()).expect("dir").count(), 0);
    }

    #[test]
    fn the_batch_policy_keeps_bad_rows_with_their_session_and_refuses_long_ones() {
        // Session a: a bad row (location 9); b: over the cap of 2; c: whole; then a row
        // whose session id is empty, which names no session.
        let text = format!(
            "{SNAKE}\n2008,4,1,1,29,a,1,A13,1,5,1,28,2,1\n2008,4,1,2,29,a,1,A13,1,9,1,28,2,1\n\
             2008,4,1,1,29,b,1,A13,1,5,1,28,2,1\n2008,4,1,2,29,b,1,A13,1,5,1,28,2,1\n\
             2008,4,1,3,29,b,1,A13,1,5,1,28,2,1\n2008,4,1,1,29,c,1,A13,1,5,1,28,2,1\n\
             2008,4,1,1,29,,1,A13,1,9,1,28,2,1\n"
        );
        let policy = Policy::Batch {
            max_clicks: 2,
            orphans: 10,
        };
        let mut grouper =
            Grouper::new(text.as_bytes(), Path::new("b.csv"), policy).expect("header");
        let gathered = grouper.whole().expect("rows");
        // The orphan: an empty session id and the bad location, two problems.
        assert_eq!(
            (grouper.orphans.listed.len(), grouper.orphans.problems),
            (1, 2)
        );
        let closed: Vec<Closed> = gathered
            .into_iter()
            .map(|(id, g)| {
                grouper
                    .close(id, g)
                    .expect("the batch policy refuses, never stops")
            })
            .collect();
        match closed.as_slice() {
            [Closed::Refused(Refused {
                index: 0,
                why: Why::Rows(rows),
                ..
            }), Closed::Refused(Refused {
                index: 1,
                why:
                    Why::Long {
                        clicks: 3,
                        max_clicks: 2,
                    },
                ..
            }), Closed::Session(c)] => {
                assert!(matches!(
                    rows.as_slice(),
                    [ReadError::Invalid { line: 3, .. }]
                ));
                assert_eq!(c.id().as_str(), "c");
            }
            other => panic!("unexpected sessions: {other:?}"),
        }
    }

    #[test]
    fn a_missing_file_is_an_io_error() {
        let err = read_clickstream(Path::new("/nonexistent/x.csv"), ReadOptions::default());
        assert!(matches!(err, Err(ReadError::Io { .. })));
    }

    #[test]
    fn sessions_over_the_cap_are_skipped_and_counted_by_both_readers() {
        let capped = |max_clicks_per_session| ReadOptions {
            max_clicks_per_session,
            ..ReadOptions::default()
        };
        let mut text = format!("{ORIGINAL}\n");
        for order in 1..=4 {
            text.push_str(&format!(
                "2008;4;1;{order};29;long;1;A{order};1;5;1;28;2;1\n"
            ));
        }
        text.push_str("2008;4;1;1;29;short;1;A13;1;5;1;28;2;1\n");
        let read = read_clickstream_from(text.as_bytes(), Path::new("f.csv"), capped(3))
            .expect("a long session does not refuse the file");
        assert_eq!(read.sessions.len(), 1);
        assert_eq!(read.stats.long_sessions_skipped, 1);
        assert_eq!(
            read.stats.long_session_examples,
            vec![LongSession {
                session: "long".into(),
                clicks: 4
            }]
        );
        let mut stream =
            SessionStream::new(text.as_bytes(), Path::new("f.csv"), capped(3)).expect("header");
        let mut ids = Vec::new();
        while let Some(s) = stream.next_session().expect("rows") {
            ids.push(s.id().to_string());
        }
        assert_eq!(ids, vec!["short"]);
        let (_, stats) = stream.finish().expect("end");
        assert_eq!(stats.long_sessions_skipped, 1);
        assert!(stats
            .skipped_text()
            .is_some_and(|t| t.contains("session \"long\" (4 clicks)")));
        let read = read_clickstream_from(text.as_bytes(), Path::new("f.csv"), capped(4))
            .expect("within the cap");
        assert_eq!(read.sessions.len(), 2);
    }

    #[test]
    fn a_row_past_the_bound_stops_the_read_naming_its_line() {
        let long = "a".repeat(MAX_ROW_BYTES + 1);
        let row = "2008;4;1;1;29;s;1;A13;1;5;1;28;2;1";
        let cases = [
            (long.clone(), 1, false),
            (format!("{ORIGINAL}\n{row}\n{long}\n{row}\n"), 3, false),
            (format!("{ORIGINAL}\r\n{row}\r\n\r\n{long}"), 4, false),
            // An unclosed quote: short lines, one endless record.
            (
                format!(
                    "{ORIGINAL}\n{row}\n2008;4;1;2;29;\"s{}",
                    "x;\n".repeat(100_000)
                ),
                3,
                true,
            ),
        ];
        for (text, line, spans) in cases {
            for skip_invalid in [false, true] {
                let err = read_bytes(text.as_bytes(), skip_invalid).expect_err("overlong row");
                let message = err.to_string();
                assert!(
                    matches!(err, ReadError::Malformed { line: l, .. } if l == line),
                    "{message} (expected line {line})"
                );
                let expected = if spans {
                    "runs on across line ends"
                } else {
                    "the row is longer than 65536 bytes"
                };
                assert!(message.contains(expected), "{message}");
            }
        }
        // A row right at the bound is read.
        let at_bound = format!(
            "{ORIGINAL}\n{row}{}\n",
            " ".repeat(MAX_ROW_BYTES - row.len())
        );
        assert!(read_bytes(at_bound.as_bytes(), false).is_ok());
    }
}
