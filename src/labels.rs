//! The outcome of a session and the prefixes a model may score, exactly as
//! `docs/label-contract.md` defines them. Nothing else in the crate decides what converted.

use crate::domain::catalogue::{Catalogue, CodedSession, Unseen};
use crate::domain::sample::{Budget, Candidate, Sample};
use crate::domain::shop::{ShopSchema, ShopSession};
use crate::domain::{AnyClick, AnySession, Session, SessionId};
use crate::reader::shop::GroupedShopSessions;
use crate::reader::spill::{GroupedSessions, SpillOptions};
use crate::reader::{Meter, Say};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a session led to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub converted: bool,
    /// Session revenue in US dollars; 0 when it did not convert.
    pub revenue: f64,
}

/// Where the outcomes came from; recorded in every model's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LabelSource {
    /// The basket proxy of the contract: a click on the same product as the click before.
    BasketProxy,
    /// An outcomes file (`session_id,converted,revenue`) from the shop's order system.
    OutcomesFile { file_name: String, sha256: String },
}

/// Indices (0-based) of the basket events: clicks on the same product as the click
/// immediately before them.
pub fn basket_events<C: AnyClick>(clicks: &[C]) -> impl Iterator<Item = usize> + '_ {
    clicks
        .windows(2)
        .enumerate()
        .filter(|(_, pair)| pair[0].product() == pair[1].product())
        .map(|(i, _)| i + 1)
}

/// Index (0-based) of the first basket event, if any.
pub fn first_basket<C: AnyClick>(clicks: &[C]) -> Option<usize> {
    basket_events(clicks).next()
}

/// The proxy outcome: converted iff there is a basket event; revenue is the sum of the
/// prices of the distinct products that had one (each counted once, at the price of its
/// first basket event).
pub fn proxy_outcome<C: AnyClick>(clicks: &[C]) -> Outcome {
    let mut seen = HashSet::new();
    let revenue = basket_events(clicks)
        .filter(|&i| seen.insert(clicks[i].product()))
        .map(|i| clicks[i].price())
        .sum();
    Outcome {
        converted: !seen.is_empty(),
        revenue,
    }
}

/// A session of any shop with its outcome and the number of its valid prefixes.
#[derive(Debug, Clone)]
pub struct LabelledSession<S = Session> {
    pub session: S,
    pub outcome: Outcome,
    /// Prefixes 1..=k are valid examples; each weighs 1/k.
    pub valid_prefixes: usize,
}

impl<S> LabelledSession<S> {
    /// Prefix lengths of the valid examples, each with its weight.
    pub fn prefixes(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        let weight = 1.0 / self.valid_prefixes as f64;
        (1..=self.valid_prefixes).map(move |t| (t, weight))
    }
}

/// Number of valid prefixes: clicks before the first basket event under the proxy (the
/// prediction point comes before the shopper acts), every prefix with an outcomes file.
pub fn valid_prefix_count<C: AnyClick>(clicks: &[C], source: &LabelSource) -> usize {
    match source {
        LabelSource::BasketProxy => first_basket(clicks).unwrap_or(clicks.len()),
        LabelSource::OutcomesFile { .. } => clicks.len(),
    }
}

/// Outcomes given by the user, by session.
#[derive(Debug, Clone)]
pub struct Outcomes {
    pub file_name: String,
    pub sha256: String,
    pub by_session: HashMap<SessionId, Outcome>,
}

#[derive(Debug, thiserror::Error)]
pub enum OutcomesError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    #[error("{path}: the header must be session_id,converted,revenue; found {found}")]
    Header { path: PathBuf, found: String },
    #[error(
        "{path}: line {line}: column {column:?}: value {value:?} is invalid; allowed: {allowed}"
    )]
    Invalid {
        path: PathBuf,
        line: u64,
        column: &'static str,
        value: String,
        allowed: String,
    },
    #[error("{path}: line {line}: session {session:?} appears twice")]
    Duplicate {
        path: PathBuf,
        line: u64,
        session: String,
    },
    #[error("{missing} session(s) of the clickstream have no outcome, e.g. {examples}")]
    Missing { missing: usize, examples: String },
}

/// Reads `session_id,converted,revenue` (comma or semicolon separated, header required).
pub fn read_outcomes(path: &Path) -> Result<Outcomes, OutcomesError> {
    use sha2::{Digest, Sha256};
    let io_err = |source| OutcomesError::Io {
        path: path.to_owned(),
        source,
    };
    // Through the row bound, so that a line with no end stops the read instead of filling
    // memory.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            std::io::Read::read_to_end(&mut crate::reader::BoundedLines::new(f), &mut bytes)
        })
        .map_err(io_err)?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let separator = if first_line.contains(&b';') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator)
        .trim(csv::Trim::All)
        .from_reader(bytes.as_slice());
    let csv_err = |source| OutcomesError::Csv {
        path: path.to_owned(),
        source,
    };
    let header: Vec<String> = reader
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    if header != ["session_id", "converted", "revenue"] {
        return Err(OutcomesError::Header {
            path: path.to_owned(),
            found: header.join(","),
        });
    }
    let mut by_session = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(csv_err)?;
        let line = record.position().map_or(0, |p| p.line());
        let invalid = |column, value: &str, allowed: &str| OutcomesError::Invalid {
            path: path.to_owned(),
            line,
            column,
            value: value.to_owned(),
            allowed: allowed.to_owned(),
        };
        let id_text = record.get(0).unwrap_or("");
        let id = SessionId::parse(id_text)
            .map_err(|e| invalid("session_id", id_text, &e.field.allowed()))?;
        let converted_text = record.get(1).unwrap_or("");
        let converted = match converted_text.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" => true,
            "0" | "false" | "no" => false,
            _ => {
                return Err(invalid(
                    "converted",
                    converted_text,
                    "1/0, true/false or yes/no",
                ))
            }
        };
        let revenue_text = record.get(2).unwrap_or("");
        let revenue = revenue_text
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite() && *r >= 0.0 && (converted || *r == 0.0))
            .ok_or_else(|| {
                invalid(
                    "revenue",
                    revenue_text,
                    "a finite amount >= 0, and 0 when the session did not convert",
                )
            })?;
        if by_session
            .insert(id, Outcome { converted, revenue })
            .is_some()
        {
            return Err(OutcomesError::Duplicate {
                path: path.to_owned(),
                line,
                session: id_text.to_owned(),
            });
        }
    }
    Ok(Outcomes {
        file_name: path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        sha256,
        by_session,
    })
}

/// Attaches outcomes to sessions: the proxy, or the user's outcomes (every session must
/// have one; outcomes for sessions not in the clickstream are ignored).
pub fn label_sessions<S: AnySession>(
    sessions: Vec<S>,
    outcomes: Option<&Outcomes>,
) -> Result<(Vec<LabelledSession<S>>, LabelSource), OutcomesError> {
    let source = match outcomes {
        None => LabelSource::BasketProxy,
        Some(o) => LabelSource::OutcomesFile {
            file_name: o.file_name.clone(),
            sha256: o.sha256.clone(),
        },
    };
    if let Some(o) = outcomes {
        let missing: Vec<&str> = sessions
            .iter()
            .filter(|s| !o.by_session.contains_key(s.name()))
            .map(|s| s.name())
            .collect();
        if !missing.is_empty() {
            return Err(OutcomesError::Missing {
                missing: missing.len(),
                examples: missing
                    .iter()
                    .take(5)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let labelled = sessions
        .into_iter()
        .map(|session| match outcomes {
            None => by_proxy(session),
            Some(o) => {
                let valid_prefixes = valid_prefix_count(session.clicks(), &source);
                LabelledSession {
                    outcome: o.by_session[session.name()],
                    session,
                    valid_prefixes,
                }
            }
        })
        .collect();
    Ok((labelled, source))
}

/// A session labelled by the basket proxy.
pub fn by_proxy<S: AnySession>(session: S) -> LabelledSession<S> {
    LabelledSession {
        outcome: proxy_outcome(session.clicks()),
        valid_prefixes: valid_prefix_count(session.clicks(), &LabelSource::BasketProxy),
        session,
    }
}

/// A clickstream file read and labelled: where `train` and `evaluate` both start.
#[derive(Debug)]
pub struct LabelledData<S = Session> {
    pub file_name: String,
    pub sha256: String,
    pub stats: crate::reader::ReadStats,
    /// Sessions read, before the session sample kept `sessions` of them.
    pub sessions_read: usize,
    /// The sample kept: the one asked for, narrowed to the budget of sessions.
    pub sample: Sample,
    pub sessions: Vec<LabelledSession<S>>,
    pub source: LabelSource,
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Read(#[from] crate::reader::ReadError),
    #[error(transparent)]
    Outcomes(#[from] OutcomesError),
    #[error("the schema {schema:?} says an order does not show in its clicks ([outcome] basket = \"none\"): give the shop's orders with --outcomes FILE (session_id,converted,revenue)")]
    NoOutcomes { schema: String },
}

/// A shop's file read by its schema, its values coded by the catalogue learned from it
/// (label-free: the top categories, their mean prices, the attributes' top values), and
/// labelled: by the outcomes file when given, else by the basket proxy where the schema
/// declares that a basket shows in the clicks, else refused.
pub fn read_labelled_shop(
    data: &Path,
    outcomes: Option<&Path>,
    schema: &ShopSchema,
    options: crate::reader::ReadOptions,
) -> Result<(LabelledData<CodedSession>, Catalogue), DataError> {
    // No sample and no budget: no first pass, so nothing is grouped or spilled.
    let spill = SpillOptions::default();
    let counted = count_shop_sessions(
        data,
        schema,
        (options, &spill),
        Sample::ALL,
        Budget::NONE,
        None,
        None,
    )?;
    read_counted_shop(
        data,
        outcomes,
        schema,
        (options, &spill),
        &counted,
        None,
        None,
    )
}

/// What the first pass over a shop's file found.
#[derive(Debug, Clone)]
pub struct ShopCounted {
    /// The sample, the sessions read, and whether a census was taken.
    pub counted: Counted,
    /// The catalogue learned over every click of every session of the file, kept or not;
    /// `None` when there was no first pass (no budget and no sample: every session is kept).
    pub catalogue: Option<Catalogue>,
}

/// A shop's first pass, when a budget or a sample asks for one: every session whole,
/// grouped in memory or on disk within the spill options' budget whatever the order of
/// the rows ([`GroupedShopSessions`], so the pass never stops at rows apart), counted for
/// the budget by its hash value and clicks as [`count_sessions`] counts a UCI session, its
/// clicks learned by the catalogue in the order the sessions come (a file within the
/// budget: the order of first appearance, as a reading without a sample learns them), and,
/// with a `census`, handed to it labelled by the basket proxy on its uncoded clicks (the
/// proxy reads a click's product, price and day, which coding does not change). No session
/// is held past its turn, beyond those of a file or partition within the budget.
pub fn count_shop_sessions(
    data: &Path,
    schema: &ShopSchema,
    (options, spill): (crate::reader::ReadOptions, &SpillOptions),
    sample: Sample,
    budget: Budget,
    say: Option<&Say>,
    mut census: Option<Census<'_, ShopSession>>,
) -> Result<ShopCounted, DataError> {
    use crate::domain::catalogue::{Learner, TOP_CATEGORIES, TOP_VALUES};
    if budget.is_none() && sample.fraction.is_all() {
        return Ok(ShopCounted {
            counted: Counted {
                sample,
                sessions_read: None,
                whole: false,
                apart: None,
            },
            catalogue: None,
        });
    }
    let mut learner = Learner::new(schema);
    let meter = Meter::new(first_pass(census.is_some()), say);
    let mut grouped = GroupedShopSessions::open(data, Arc::new(schema.clone()), options, spill)?;
    let mut candidates = Vec::new();
    while let Some(session) = grouped.next_session()? {
        candidates.push(Candidate::of(
            sample.hash,
            &session.id,
            session.clicks.len(),
        ));
        for click in &session.clicks {
            learner.add(click);
        }
        if let Some(census) = census.as_mut() {
            census(Seen::Session(&by_proxy(session)));
        }
    }
    let (_, stats) = grouped.finish();
    meter.add(stats.rows);
    meter.finish();
    Ok(ShopCounted {
        counted: Counted {
            sessions_read: Some(sessions_read(&candidates, &stats)),
            sample: sample.within(candidates, budget),
            whole: census.is_some(),
            apart: None,
        },
        catalogue: Some(learner.finish(TOP_CATEGORIES, TOP_VALUES)),
    })
}

/// The name of the first pass: with a census it counts classes too.
fn first_pass(census: bool) -> &'static str {
    if census {
        "pass 1 of 2, counting sessions and their classes"
    } else {
        "pass 1 of 2, counting sessions"
    }
}

/// The sessions a first pass read: those it counted, and those skipped as too long, which
/// hold no click of training and so take no room in the budget.
fn sessions_read(candidates: &[Candidate], stats: &crate::reader::ReadStats) -> usize {
    let long = usize::try_from(stats.long_sessions_skipped).unwrap_or(usize::MAX);
    candidates.len().saturating_add(long)
}

/// A shop's second (or only) pass: the sessions `counted`'s sample keeps, coded and
/// labelled. When the sample left sessions out, they are coded by the catalogue the first
/// pass learned over every session; else by the one learned from the sessions read, as
/// without a sample. With a `census` taken in the first pass and no outcomes file, every
/// session is read whole again (grouped as in the first pass), coded, labelled by the proxy
/// and handed to it, kept or not.
pub fn read_counted_shop(
    data: &Path,
    outcomes: Option<&Path>,
    schema: &ShopSchema,
    (options, spill): (crate::reader::ReadOptions, &SpillOptions),
    counted: &ShopCounted,
    say: Option<&Say>,
    census: Option<Census<'_, CodedSession>>,
) -> Result<(LabelledData<CodedSession>, Catalogue), DataError> {
    use crate::domain::catalogue::{TOP_CATEGORIES, TOP_VALUES};
    use crate::reader::shop::read_shop_clickstream_kept;
    refuse_without_outcomes(outcomes, schema)?;
    let Counted {
        sample,
        sessions_read,
        whole,
        ..
    } = counted.counted;
    let meter = Meter::new(reading_pass(sessions_read), say);
    // Every value was seen in learning; only those ranked out of the vocabularies count,
    // and training reports none of them (the service counts what its requests bring).
    let mut ranked_out = Unseen::default();
    let whole_stream = counted
        .catalogue
        .as_ref()
        .filter(|_| !sample.fraction.is_all());
    if let (Some(catalogue), Some(census), true, None) = (whole_stream, census, whole, outcomes) {
        let mut grouped =
            GroupedShopSessions::open(data, Arc::new(schema.clone()), options, spill)?;
        let mut sessions = Vec::new();
        while let Some(session) = grouped.next_session()? {
            let labelled = by_proxy(catalogue.code_session(schema, &session, &mut ranked_out));
            census(Seen::Session(&labelled));
            if sample.keeps(&labelled.session.id) {
                sessions.push(labelled);
            }
        }
        let (sha256, stats) = grouped.finish();
        meter.add(stats.rows);
        meter.finish();
        let data = LabelledData {
            file_name: crate::reader::file_name(data),
            sha256,
            stats,
            sessions_read: sessions_read.unwrap_or(sessions.len()),
            sample,
            sessions,
            source: LabelSource::BasketProxy,
        };
        return Ok((data, catalogue.clone()));
    }
    let stream =
        read_shop_clickstream_kept(data, schema, options, |id| sample.keeps(id), meter.clone())?;
    meter.finish();
    let catalogue = match whole_stream {
        Some(catalogue) => catalogue.clone(),
        None => Catalogue::learn(
            schema,
            stream.sessions.iter().flat_map(|s| &s.clicks),
            TOP_CATEGORIES,
            TOP_VALUES,
        ),
    };
    let mut data = code_and_label(stream, outcomes, schema, &catalogue, &mut ranked_out)?;
    data.sample = sample;
    if let Some(read) = sessions_read {
        data.sessions_read = read;
    }
    Ok((data, catalogue))
}

/// A shop's file read by its schema and coded by a catalogue a version recorded (what
/// `evaluate` reads a shop's models' data with), labelled as [`read_labelled_shop`] labels;
/// with the values that catalogue did not know, counted by field.
pub fn read_labelled_shop_as(
    data: &Path,
    outcomes: Option<&Path>,
    schema: &crate::domain::shop::ShopSchema,
    catalogue: &Catalogue,
    options: crate::reader::ReadOptions,
) -> Result<(LabelledData<CodedSession>, Unseen), DataError> {
    refuse_without_outcomes(outcomes, schema)?;
    let stream = crate::reader::shop::read_shop_clickstream(data, schema, options)?;
    let mut unseen = Unseen::default();
    let data = code_and_label(stream, outcomes, schema, catalogue, &mut unseen)?;
    Ok((data, unseen))
}

/// A schema whose orders do not show in its clicks has no label without an orders file:
/// refused before the clicks are read.
pub fn refuse_without_outcomes(
    outcomes: Option<&Path>,
    schema: &ShopSchema,
) -> Result<(), DataError> {
    if outcomes.is_none() && schema.basket == crate::domain::schema_file::Basket::None {
        return Err(DataError::NoOutcomes {
            schema: schema.name.clone(),
        });
    }
    Ok(())
}

fn code_and_label(
    stream: crate::reader::shop::ShopClickstream,
    outcomes: Option<&Path>,
    schema: &crate::domain::shop::ShopSchema,
    catalogue: &Catalogue,
    unseen: &mut Unseen,
) -> Result<LabelledData<CodedSession>, DataError> {
    let coded: Vec<CodedSession> = stream
        .sessions
        .iter()
        .map(|s| catalogue.code_session(schema, s, unseen))
        .collect();
    let outcomes = outcomes.map(read_outcomes).transpose()?;
    let (sessions, source) = label_sessions(coded, outcomes.as_ref())?;
    let sessions_read = stream.sessions.len();
    Ok(LabelledData {
        file_name: stream.file_name,
        sha256: stream.sha256,
        stats: stream.stats,
        sessions_read,
        sample: Sample::ALL,
        sessions,
        source,
    })
}

/// Reads a clickstream, and an outcomes file when given, and labels every session; sessions
/// over `options`' cap of clicks are skipped and counted in the read statistics.
pub fn read_labelled(
    data: &Path,
    outcomes: Option<&Path>,
    options: crate::reader::ReadOptions,
) -> Result<LabelledData, DataError> {
    let spill = SpillOptions::default();
    let counted = count_sessions(data, options, Sample::ALL, Budget::NONE, None, None, &spill)?;
    read_counted(data, outcomes, options, &counted, None, None, &spill)
}

/// Every session of the stream labelled by the basket proxy as it passes, whether the
/// sample keeps it or not: how `train` accumulates what needs every session.
pub type Census<'a, S = Session> = &'a mut dyn FnMut(Seen<'_, S>);

/// What a census is told.
pub enum Seen<'s, S = Session> {
    Session(&'s LabelledSession<S>),
    /// Forget what was counted: the file's rows turned out apart, and every session comes
    /// again, grouped on disk.
    Restart,
}

/// What the counting pass found.
#[derive(Debug, Clone)]
pub struct Counted {
    /// The sample asked for, narrowed to the budget.
    pub sample: Sample,
    /// The sessions the file holds; `None` when there was no counting pass (no budget and
    /// no sample: every session is kept).
    pub sessions_read: Option<usize>,
    /// Whether a census was taken: every session was handed to it whole.
    pub whole: bool,
    /// Why the file's sessions were grouped on disk (their rows apart), if they were: the
    /// second pass groups them so too.
    pub apart: Option<String>,
}

/// The first pass, when a budget or a sample asks for one: reads every session whole and
/// keeps only its hash value and its clicks, so it costs a reading of the file and 16 bytes
/// a session, not the sessions; the sample is then the one asked for, narrowed to the
/// lowest hash values that fit the budget ([`Sample::within`]). Sessions skipped for their
/// length hold no click of training: they are counted among the sessions read, not in the
/// budget. With a `census`, each session is handed to it labelled. When a session's rows
/// turn out apart, the census is told to start over and every session comes again grouped
/// on disk within the spill options' budget ([`GroupedSessions`]), so neither what it
/// counts nor the sample depends on the rows' order.
pub fn count_sessions(
    data: &Path,
    options: crate::reader::ReadOptions,
    sample: Sample,
    budget: Budget,
    say: Option<&Say>,
    mut census: Option<Census<'_>>,
    spill: &SpillOptions,
) -> Result<Counted, DataError> {
    // Without a budget or a sample, every session read is kept: the count comes free.
    if budget.is_none() && sample.fraction.is_all() {
        return Ok(Counted {
            sample,
            sessions_read: None,
            whole: false,
            apart: None,
        });
    }
    let mut candidates: Vec<Candidate> = Vec::new();
    let take = |session: Session, candidates: &mut Vec<Candidate>, census: &mut Option<Census>| {
        let key = session.id().as_str();
        candidates.push(Candidate::of(sample.hash, key, session.clicks().len()));
        if let Some(census) = census.as_mut() {
            census(Seen::Session(&by_proxy(session)));
        }
    };
    let pass = first_pass(census.is_some());
    let meter = Meter::new(pass, say);
    let mut stream = crate::reader::SessionStream::open(data, options)?;
    stream.metered(meter.clone());
    let ended = loop {
        match stream.next_session() {
            Ok(Some(session)) => take(session, &mut candidates, &mut census),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    meter.finish();
    let (stats, apart) = match ended {
        Ok(()) => (stream.finish()?.1, None),
        Err(e) if stream.found_apart() => {
            // Every session again, each whole, from partitions on disk: neither the census
            // nor the sample then depends on the rows' order.
            candidates.clear();
            if let Some(census) = census.as_mut() {
                census(Seen::Restart);
            }
            let meter = Meter::new(
                format!("{pass} again, rows apart: sessions grouped on disk"),
                say,
            );
            let mut grouped = GroupedSessions::open(data, options, spill)?;
            while let Some(session) = grouped.next_session()? {
                take(session, &mut candidates, &mut census);
            }
            let (_, stats) = grouped.finish();
            meter.add(stats.rows);
            meter.finish();
            (stats, Some(e.to_string()))
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Counted {
        sessions_read: Some(sessions_read(&candidates, &stats)),
        sample: sample.within(candidates, budget),
        whole: census.is_some(),
        apart,
    })
}

/// The second (or only) pass: the sessions `counted`'s sample keeps, labelled. With a
/// `census` and a file the counting pass found grouped by session, every session is read
/// whole and handed to it, kept or not.
pub fn read_counted(
    data: &Path,
    outcomes: Option<&Path>,
    options: crate::reader::ReadOptions,
    counted: &Counted,
    say: Option<&Say>,
    census: Option<Census<'_>>,
    spill: &SpillOptions,
) -> Result<LabelledData, DataError> {
    let sample = counted.sample;
    let meter = Meter::new(reading_pass(counted.sessions_read), say);
    if let (Some(census), true, None) = (census, counted.whole, outcomes) {
        let mut sessions = Vec::new();
        let mut take = |session: Session| {
            let labelled = by_proxy(session);
            census(Seen::Session(&labelled));
            if sample.keeps(labelled.session.id().as_str()) {
                sessions.push(labelled);
            }
        };
        let (sha256, file_name, stats) = if counted.apart.is_some() {
            let mut grouped = GroupedSessions::open(data, options, spill)?;
            while let Some(session) = grouped.next_session()? {
                take(session);
            }
            let (sha256, stats) = grouped.finish();
            meter.add(stats.rows);
            (sha256, crate::reader::file_name(data), stats)
        } else {
            let mut stream = crate::reader::SessionStream::open(data, options)?;
            stream.metered(meter.clone());
            while let Some(session) = stream.next_session()? {
                take(session);
            }
            stream.finish_named()?
        };
        meter.finish();
        return Ok(LabelledData {
            file_name,
            sha256,
            stats,
            sessions_read: counted.sessions_read.unwrap_or(sessions.len()),
            sample,
            sessions,
            source: LabelSource::BasketProxy,
        });
    }
    let stream = crate::reader::read_clickstream_kept(
        data,
        options,
        |id| sample.keeps(id.as_str()),
        meter.clone(),
    )?;
    meter.finish();
    let sessions_read = counted.sessions_read.unwrap_or(stream.sessions.len());
    let outcomes = outcomes.map(read_outcomes).transpose()?;
    let (sessions, source) = label_sessions(stream.sessions, outcomes.as_ref())?;
    Ok(LabelledData {
        file_name: stream.file_name,
        sha256: stream.sha256,
        stats: stream.stats,
        sessions_read,
        sample,
        sessions,
        source,
    })
}

/// The name of the pass that reads the sessions kept: the second when a counting pass
/// came first.
fn reading_pass(counted: Option<usize>) -> &'static str {
    match counted {
        Some(_) => "pass 2 of 2, reading the sessions kept",
        None => "reading the sessions",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::session::tests::click;
    use crate::domain::Click;

    #[test]
    fn the_ga4_examples_outcomes_file_is_read_as_the_schema_keys_its_sessions() {
        // examples/ga4/outcomes.sql's output on its fixture (tests/ga4/run.sh holds the two
        // equal): the composite key user_pseudo_id/ga_session_id, 1/0, revenue.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ga4/expected-outcomes.csv");
        let outcomes = read_outcomes(&path).expect("the GA4 outcomes file reads");
        assert_eq!(outcomes.by_session.len(), 3);
        let bought = SessionId::parse("1234567890.1712048400/1712134800").expect("an id");
        let outcome = outcomes.by_session[&bought];
        assert!(outcome.converted);
        assert!((outcome.revenue - 189.99).abs() < 1e-9);
    }

    fn session(clicks: Vec<Click>) -> Session {
        let id = SessionId::parse("s").expect("valid id");
        Session::new(id, clicks).expect("valid session").0
    }

    #[test]
    fn a_basket_event_is_a_click_on_the_product_just_viewed() {
        let clicks = vec![
            click(1, "A1", 10.0),
            click(2, "B2", 20.0),
            click(3, "B2", 20.0),
            click(4, "A1", 10.0),
        ];
        assert_eq!(basket_events(&clicks).collect::<Vec<_>>(), vec![2]);
        assert_eq!(first_basket(&clicks), Some(2));
    }

    #[test]
    fn a_product_seen_again_later_is_not_a_basket_event() {
        let clicks = vec![
            click(1, "A1", 10.0),
            click(2, "B2", 20.0),
            click(3, "A1", 10.0),
        ];
        let outcome = proxy_outcome(&clicks);
        assert!(!outcome.converted);
        assert_eq!(outcome.revenue, 0.0);
    }

    #[test]
    fn revenue_counts_each_basketed_product_once() {
        let clicks = vec![
            click(1, "A1", 10.0),
            click(2, "A1", 10.0),
            click(3, "A1", 10.0),
            click(4, "C3", 30.0),
            click(5, "C3", 30.0),
            click(6, "A1", 10.0),
            click(7, "A1", 10.0),
        ];
        let outcome = proxy_outcome(&clicks);
        assert!(outcome.converted);
        assert_eq!(outcome.revenue, 40.0);
    }

    #[test]
    fn valid_prefixes_stop_before_the_first_basket_event() {
        let converting = vec![
            click(1, "A1", 10.0),
            click(2, "B2", 20.0),
            click(3, "C3", 30.0),
            click(4, "C3", 30.0),
            click(5, "P4", 5.0),
        ];
        assert_eq!(
            valid_prefix_count(&converting, &LabelSource::BasketProxy),
            3
        );
        let never = vec![click(1, "A1", 10.0), click(2, "B2", 20.0)];
        assert_eq!(valid_prefix_count(&never, &LabelSource::BasketProxy), 2);
        let file = LabelSource::OutcomesFile {
            file_name: "o.csv".into(),
            sha256: String::new(),
        };
        assert_eq!(valid_prefix_count(&converting, &file), 5);
    }

    #[test]
    fn each_session_weighs_one_across_its_prefixes() {
        let (labelled, _) = label_sessions(
            vec![session(vec![
                click(1, "A1", 10.0),
                click(2, "B2", 20.0),
                click(3, "C3", 30.0),
                click(4, "C3", 30.0),
            ])],
            None,
        )
        .expect("proxy labels never fail");
        let prefixes: Vec<(usize, f64)> = labelled[0].prefixes().collect();
        assert_eq!(prefixes.len(), 3);
        assert_eq!(
            prefixes.iter().map(|p| p.0).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        let total: f64 = prefixes.iter().map(|p| p.1).sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert_eq!(labelled[0].outcome.revenue, 30.0);
    }

    fn write(text: &str) -> tempfile::NamedTempFile {
        use std::io::Write;
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(text.as_bytes()).expect("write temp file");
        f
    }

    #[test]
    fn an_outcomes_file_replaces_the_proxy() {
        let f = write("session_id,converted,revenue\ns,1,99.5\n");
        let outcomes = read_outcomes(f.path()).expect("valid outcomes");
        let (labelled, source) =
            label_sessions(vec![session(vec![click(1, "A1", 10.0)])], Some(&outcomes))
                .expect("every session has an outcome");
        assert!(matches!(source, LabelSource::OutcomesFile { .. }));
        assert_eq!(
            labelled[0].outcome,
            Outcome {
                converted: true,
                revenue: 99.5
            }
        );
    }

    #[test]
    fn outcomes_file_errors_name_line_and_column() {
        let cases = [
            ("session_id,converted\ns,1\n", "header"),
            ("session_id,converted,revenue\ns,maybe,1\n", "converted"),
            ("session_id,converted,revenue\ns,0,5\n", "revenue"),
            ("session_id,converted,revenue\ns,1,-5\n", "revenue"),
            ("session_id,converted,revenue\ns,1,5\ns,1,5\n", "twice"),
        ];
        for (text, expected) in cases {
            let f = write(text);
            let err = read_outcomes(f.path())
                .expect_err("invalid outcomes")
                .to_string();
            assert!(err.contains(expected), "{err} should mention {expected}");
        }
        let f = write("session_id,converted,revenue\nother,1,5\n");
        let outcomes = read_outcomes(f.path()).expect("valid outcomes");
        let err = label_sessions(vec![session(vec![click(1, "A1", 10.0)])], Some(&outcomes))
            .expect_err("session s has no outcome");
        assert!(err.to_string().contains("1 session(s)"), "{err}");
    }

    #[test]
    fn an_outcomes_line_past_the_row_bound_is_named_not_read_whole() {
        let long = "x".repeat(crate::reader::MAX_ROW_BYTES + 1);
        let f = write(&format!("session_id,converted,revenue\ns,1,5\n{long}"));
        let err = read_outcomes(f.path())
            .expect_err("overlong line")
            .to_string();
        assert!(
            err.contains("line 3: the row is longer than 65536 bytes"),
            "{err}"
        );
    }
}
