//! Reads a shop's clickstream file by its schema: the header binds each role to its
//! column, rows become [`ShopClick`]s by the schema's rules as they stream past, and rows
//! are grouped into sessions wherever they are in the file (a warehouse export is rarely
//! grouped). The same records, row bound, checksum and `--skip-invalid` counting as the
//! UCI reader.

use super::spill::{input_bytes, GroupPart, Grouped, Key, Partitions, SpillOptions};
use super::{BadValue, Meter, ReadError, ReadOptions, ReadStats, Records};
use crate::domain::shop::{Binding, ShopClick, ShopRow, ShopSchema, ShopSession, ShopSessionError};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// A shop's file, grouped into sessions in order of first appearance.
#[derive(Debug)]
pub struct ShopClickstream {
    pub file_name: String,
    pub sha256: String,
    pub sessions: Vec<ShopSession>,
    pub stats: ReadStats,
}

/// One session's rows as they are read.
struct Gathering {
    rows: Vec<(u64, ShopClick, Vec<String>)>,
    /// Rows in all, kept or not: past the cap only the count grows.
    count: u64,
}

pub fn read_shop_clickstream(
    path: &Path,
    schema: &ShopSchema,
    options: ReadOptions,
) -> Result<ShopClickstream, ReadError> {
    read_shop_clickstream_kept(path, schema, options, |_| true, Meter::default())
}

/// [`read_shop_clickstream`] keeping only the sessions `keep` says yes to (asked once per
/// run of rows of one session): the others' rows are checked and dropped as they are
/// read, so memory holds the kept sessions only. Every row read is told to `meter`.
pub fn read_shop_clickstream_kept(
    path: &Path,
    schema: &ShopSchema,
    options: ReadOptions,
    keep: impl FnMut(&str) -> bool,
    meter: Meter,
) -> Result<ShopClickstream, ReadError> {
    // A CSV file, a Parquet file or a folder of them, told by content.
    let mut records = Records::open_path(path, |_| true)?;
    records.metered(meter);
    read_shop_records(records, path, schema, options, keep)
}

/// Reads a shop's file from any source: a header is required (it is what binds the
/// schema's columns).
pub fn read_shop_clickstream_from<R: Read>(
    source: R,
    path: &Path,
    schema: &ShopSchema,
    options: ReadOptions,
) -> Result<ShopClickstream, ReadError> {
    read_shop_records(
        Records::open(source, path, |_| true)?,
        path,
        schema,
        options,
        |_| true,
    )
}

/// The schema's columns bound to the file's header, and the stats the reading starts from.
fn bind<R: Read>(
    records: &Records<R>,
    path: &Path,
    schema: &ShopSchema,
    options: ReadOptions,
) -> Result<(Binding, ReadStats), ReadError> {
    let header: Vec<&str> = records.first_fields.iter().map(String::as_str).collect();
    let binding = schema
        .bind(&header)
        .map_err(|message| ReadError::Malformed {
            path: path.to_owned(),
            line: 1,
            message: format!("{message} (schema {:?})", schema.name),
        })?;
    let stats = ReadStats {
        format: records.format,
        separator: records.separator as char,
        header: true,
        max_clicks_per_session: options.max_clicks_per_session,
        ..ReadStats::default()
    };
    Ok((binding, stats))
}

fn read_shop_records<R: Read>(
    mut records: Records<R>,
    path: &Path,
    schema: &ShopSchema,
    options: ReadOptions,
    mut keep: impl FnMut(&str) -> bool,
) -> Result<ShopClickstream, ReadError> {
    let (binding, mut stats) = bind(&records, path, schema, options)?;
    let mut order: Vec<String> = Vec::new();
    let mut gathered: HashMap<String, Gathering> = HashMap::new();
    let mut last: Option<(String, bool)> = None;
    while let Some(line) = records.next_record()? {
        stats.rows += 1;
        let row = decode(&records, &binding, line)
            .and_then(|cells| parse(schema, &binding, &cells, path, line));
        let row = match row {
            Ok(row) => row,
            Err(err) => {
                stats.refuse(err, options, path)?;
                continue;
            }
        };
        let kept = match &last {
            Some((id, kept)) if *id == row.session => *kept,
            _ => {
                let kept = keep(&row.session);
                last = Some((row.session.clone(), kept));
                kept
            }
        };
        if !kept {
            continue;
        }
        let gathering = match gathered.get_mut(&row.session) {
            Some(g) => g,
            None => {
                order.push(row.session.clone());
                gathered.entry(row.session.clone()).or_insert(Gathering {
                    rows: Vec::new(),
                    count: 0,
                })
            }
        };
        gathering.count += 1;
        // Past the cap the session is skipped anyway: its count is all that is needed.
        if gathering.rows.len() < options.max_clicks_per_session {
            gathering.rows.push((line, row.click, row.passthrough));
        }
    }
    let mut sessions = Vec::with_capacity(order.len());
    for id in order {
        let Some(gathering) = gathered.remove(&id) else {
            continue;
        };
        if gathering.count > options.max_clicks_per_session as u64 {
            stats.skip_long(&id, gathering.count);
            continue;
        }
        let line = gathering.rows.first().map_or(0, |r| r.0);
        match ShopSession::build(schema, id, gathering.rows) {
            Ok(session) => {
                stats.duplicate_clicks_dropped += session.repeats as u64;
                stats.clicks += session.clicks.len() as u64;
                stats.sessions += 1;
                sessions.push(session);
            }
            Err(why) => {
                let err = session_error(schema, path, line, *why);
                stats.refuse(err, options, path)?;
            }
        }
    }
    let (sha256, file_name) = records.finish()?;
    Ok(ShopClickstream {
        file_name,
        sha256,
        sessions,
        stats,
    })
}

/// A shop's sessions within a memory budget: a file that fits it grouped whole in memory
/// (in order of first appearance, as the batch routes give them); a larger one grouped on
/// disk ([`Partitions`]), partition by partition, in key order inside each, each partition
/// read by the same reading as a whole file.
pub type GroupedShopSessions = Grouped<ShopSession>;

impl Grouped<ShopSession> {
    /// Reads the whole file once, dealing its rows into partitions by their session key.
    pub fn open(
        path: &Path,
        schema: Arc<ShopSchema>,
        options: ReadOptions,
        spill: &SpillOptions,
    ) -> Result<GroupedShopSessions, ReadError> {
        Grouped::open_telling(path, schema, options, spill, |_| {})
    }

    /// [`open`](Self::open), telling `told` the session of every valid row (once per run
    /// of a session's rows, as [`read_shop_clickstream_kept`] asks its `keep`), sessions
    /// then skipped as too long or refused included: a session is told as its rows are
    /// grouped, at the latest before it is given.
    pub fn open_telling(
        path: &Path,
        schema: Arc<ShopSchema>,
        options: ReadOptions,
        spill: &SpillOptions,
        mut told: impl FnMut(&str) + Send + 'static,
    ) -> Result<GroupedShopSessions, ReadError> {
        let mut records = Records::open_path(path, |_| true)?;
        let (binding, stats) = bind(&records, path, &schema, options)?;
        let keys = schema.clone();
        // The row's session as its reader names it; a row it refuses has none here and is
        // refused (or skipped) when its partition is read.
        let key: Key = Box::new(move |record: &csv::ByteRecord| {
            if record.len() != binding.width {
                return None;
            }
            let cells: Option<Vec<&str>> =
                record.iter().map(|b| std::str::from_utf8(b).ok()).collect();
            keys.row(&binding, &cells?).ok().map(|row| row.session)
        });
        let Some(partitions) = Partitions::deal(&mut records, input_bytes(path), spill, key)?
        else {
            // The whole file fits: grouped in memory, in order of first appearance.
            let read = read_shop_records(records, path, &schema, options, |id| {
                told(id);
                true
            })?;
            return Ok(Grouped::in_memory(read.sessions, read.stats, read.sha256));
        };
        let (sha256, _) = records.finish()?;
        let group: GroupPart<ShopSession> = Box::new(move |records, path| {
            let read = read_shop_records(records, path, &schema, options, |id| {
                told(id);
                true
            })?;
            Ok((read.sessions, read.stats))
        });
        Ok(Grouped::on_disk(partitions, stats, sha256, group, |s| {
            s.id.as_str()
        }))
    }
}

/// Why a session's rows do not make a session, as the row that breaks it: a passthrough
/// value differing from the session's first is a bad value of its column, on its line.
fn session_error(schema: &ShopSchema, path: &Path, line: u64, why: ShopSessionError) -> ReadError {
    match why {
        ShopSessionError::Passthrough {
            session,
            name,
            role,
            first,
            a,
            second,
            b,
        } => {
            let header = schema
                .passthrough()
                .find(|c| c.name == name)
                .map_or_else(|| name.clone(), |c| c.header());
            ReadError::Invalid {
                path: path.to_owned(),
                line: second,
                values: vec![BadValue {
                    column: format!("{header} ({role})"),
                    value: b,
                    allowed: format!(
                        "{a:?}, the value of line {first}: a passthrough value is the same on every row of a session"
                    )
                    .into(),
                }],
                session: Some(session),
            }
        }
        other => ReadError::Malformed {
            path: path.to_owned(),
            line,
            message: other.to_string(),
        },
    }
}

/// The record's cells as text, the width checked; a cell that is not UTF-8 is named by
/// its column.
fn decode<'r, R: Read>(
    records: &'r Records<R>,
    binding: &Binding,
    line: u64,
) -> Result<Vec<&'r str>, ReadError> {
    let record = &records.record;
    if record.len() != binding.width {
        return Err(ReadError::FieldCount {
            path: records.path().to_owned(),
            line,
            found: record.len(),
            expected: binding.width,
            session: None,
        });
    }
    let mut cells = Vec::with_capacity(record.len());
    for (i, bytes) in record.iter().enumerate() {
        match std::str::from_utf8(bytes) {
            Ok(text) => cells.push(text),
            Err(_) => {
                let column = records
                    .first_fields
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("#{}", i + 1));
                return Err(ReadError::NotUtf8 {
                    path: records.path().to_owned(),
                    line,
                    column,
                    value: String::from_utf8_lossy(bytes).into_owned(),
                    session: None,
                });
            }
        }
    }
    Ok(cells)
}

fn parse(
    schema: &ShopSchema,
    binding: &Binding,
    cells: &[&str],
    path: &Path,
    line: u64,
) -> Result<ShopRow, ReadError> {
    schema
        .row(binding, cells)
        .map_err(|errors| ReadError::Invalid {
            path: path.to_owned(),
            line,
            values: errors
                .into_iter()
                .map(|e| BadValue {
                    column: format!("{} ({})", e.header, e.role),
                    value: e.value,
                    allowed: e.expected.into(),
                })
                .collect(),
            session: None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = include_str!("../../examples/second-shop/schema.toml");

    fn read(text: &str, options: ReadOptions) -> Result<ShopClickstream, ReadError> {
        let schema = ShopSchema::parse(SCHEMA).expect("compiles");
        read_shop_clickstream_from(text.as_bytes(), Path::new("shop.csv"), &schema, options)
    }

    const HEADER: &str = "session_id,event_time,sku,category,price,device,customer_id\n";

    #[test]
    fn rows_of_a_session_anywhere_in_the_file_make_one_session_in_time_order() {
        let text = format!(
            "{HEADER}\
             s-2,2026-04-01T10:00:00Z,SKU-9,a/b,5,mobile,c-2\n\
             s-1,2026-04-01T09:00:05Z,SKU-2,a/b/c,10,desktop,c-1\n\
             s-2,2026-04-01T09:59:00Z,SKU-8,a/b,5,mobile,c-2\n\
             s-1,2026-04-01T09:00:00Z,SKU-1,a,12.5,desktop,c-1\n"
        );
        let read = read(&text, ReadOptions::default()).expect("reads");
        let ids: Vec<&str> = read.sessions.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["s-2", "s-1"]);
        let first: Vec<&str> = read.sessions[1]
            .clicks
            .iter()
            .map(|c| c.product.as_str())
            .collect();
        assert_eq!(first, ["SKU-1", "SKU-2"]);
        assert_eq!(read.stats.rows, 4);
        assert_eq!(read.stats.clicks, 4);
        assert_eq!(read.sessions[0].passthrough, ["c-2"]);
    }

    #[test]
    fn a_bad_row_names_its_line_column_and_role_or_is_skipped_and_counted() {
        let text = format!(
            "{HEADER}s-1,2026-04-01T09:00:00Z,SKU-1,a,free,desktop,c-1\n\
             s-1,2026-04-01T09:00:01Z,SKU-1,a,3,desktop,c-1\n"
        );
        let err = read(&text, ReadOptions::default()).expect_err("a bad price");
        assert_eq!(
            err.to_string(),
            "shop.csv: line 2: column \"price (price)\": value \"free\" is invalid; allowed: a price in euros greater than 0 and at most 10000"
        );
        let options = ReadOptions {
            skip_invalid: true,
            ..ReadOptions::default()
        };
        let read = read(&text, options).expect("skips");
        assert_eq!(read.stats.invalid_rows_skipped, 1);
        assert_eq!(read.sessions.len(), 1);
    }

    #[test]
    fn a_passthrough_conflict_refuses_its_session_naming_both_lines() {
        let text = format!(
            "{HEADER}s-1,2026-04-01T09:00:00Z,SKU-1,a,3,desktop,c-1\n\
             s-1,2026-04-01T09:00:01Z,SKU-2,a,3,desktop,c-9\n"
        );
        let err = read(&text, ReadOptions::default()).expect_err("conflict");
        assert_eq!(
            err.to_string(),
            "shop.csv: line 3: column \"customer_id (passthrough)\": value \"c-9\" is invalid; allowed: \"c-1\", the value of line 2: a passthrough value is the same on every row of a session"
        );
    }

    #[test]
    fn a_session_over_the_cap_is_skipped_and_counted() {
        let mut text = HEADER.to_owned();
        for i in 0..5 {
            text.push_str(&format!(
                "long,2026-04-01T09:00:0{i}Z,SKU-{i},a,3,desktop,c\n"
            ));
        }
        text.push_str("short,2026-04-01T09:00:00Z,SKU-1,a,3,desktop,c\n");
        let options = ReadOptions {
            max_clicks_per_session: 3,
            ..ReadOptions::default()
        };
        let read = read(&text, options).expect("reads");
        assert_eq!(read.sessions.len(), 1);
        assert_eq!(read.stats.long_sessions_skipped, 1);
        assert_eq!(read.stats.long_session_examples[0].clicks, 5);
    }

    #[test]
    fn a_file_without_a_role_s_column_is_refused_by_name() {
        let err = read(
            "session_id,sku,category,price\ns,a,b,1\n",
            ReadOptions::default(),
        )
        .expect_err("no timestamp");
        assert!(
            err.to_string()
                .contains("line 1: the header has no column \"event_time\" for the timestamp"),
            "{err}"
        );
    }
}
