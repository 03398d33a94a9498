//! Reads clickstream files as people have them: the UCI original (`;`, original header),
//! the common copies (`,`, snake_case header) and headerless files in the original column
//! order. Rows become typed clicks as they stream past; only sessions are kept.

use crate::domain::{Click, Field, FieldError, RawClick, Session, SessionId};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// Skip rows with invalid values (and count them) instead of stopping.
    pub skip_invalid: bool,
}

/// How many examples of skipped rows the report keeps.
const MAX_EXAMPLES: usize = 5;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReadStats {
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
    #[error(
        "{path}: line {line}: column {column:?}: value {value:?} is invalid; allowed: {allowed}"
    )]
    Invalid {
        path: PathBuf,
        line: u64,
        column: String,
        value: String,
        allowed: &'static str,
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

/// Hashes everything read through it, so the checksum costs no second pass.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Reduces a header to letters and digits so `session ID` and `session_id`, or
/// `page 1 (main category)` and `page1_main_category`, meet.
fn header_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn column_of(name: &str) -> Option<Field> {
    let key = header_key(name);
    Field::ALL
        .iter()
        .copied()
        .find(|f| header_key(f.name()) == key || header_key(f.original_name()) == key)
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

/// Reads a clickstream file: detects the separator and whether there is a header, checks
/// every field, drops exact duplicate clicks, and groups clicks into sessions.
pub fn read_clickstream(path: &Path, options: ReadOptions) -> Result<Clickstream, ReadError> {
    let file = File::open(path).map_err(|source| ReadError::Io {
        path: path.to_owned(),
        source,
    })?;
    read_clickstream_from(file, path, options)
}

/// Like [`read_clickstream`], from any source (an uploaded body, say); `path` names it in
/// errors.
pub fn read_clickstream_from<R: Read>(
    source: R,
    path: &Path,
    options: ReadOptions,
) -> Result<Clickstream, ReadError> {
    let io_err = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let mut buffered = BufReader::with_capacity(
        1 << 16,
        HashingReader {
            inner: source,
            hasher: Sha256::new(),
        },
    );
    // The buffer holds the first line of any sane file, so peeking does not consume it.
    let first_line = {
        let buf = buffered.fill_buf().map_err(io_err)?;
        if buf.is_empty() {
            return Err(ReadError::Empty {
                path: path.to_owned(),
            });
        }
        let end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    };
    let separator = detect_separator(&first_line).ok_or_else(|| ReadError::Separator {
        path: path.to_owned(),
    })?;
    let first_fields: Vec<&str> = first_line
        .trim_end_matches('\r')
        .split(separator as char)
        .collect();
    // A headerless file starts with a year.
    let has_header = first_fields
        .first()
        .is_some_and(|f| f.trim().trim_matches('"').parse::<f64>().is_err());

    let mut stats = ReadStats {
        separator: separator as char,
        header: has_header,
        ..ReadStats::default()
    };
    let layout = if has_header {
        let names: Vec<String> = first_fields
            .iter()
            .map(|s| s.trim().trim_matches('"').to_owned())
            .collect();
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

    let mut csv = csv::ReaderBuilder::new()
        .delimiter(separator)
        .has_headers(has_header)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(buffered);

    let mut order_of_sessions: Vec<SessionId> = Vec::new();
    let mut by_session: HashMap<SessionId, Vec<(u64, Click)>> = HashMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        let more = csv
            .read_record(&mut record)
            .map_err(|e| ReadError::Malformed {
                path: path.to_owned(),
                line: e.position().map_or(0, |p| p.line()),
                message: e.to_string(),
            })?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|f| f.is_empty()) {
            continue;
        }
        stats.rows += 1;
        match parse_row(&record, &layout) {
            Ok((id, click)) => {
                let clicks = by_session.entry(id).or_insert_with_key(|id| {
                    order_of_sessions.push(id.clone());
                    Vec::new()
                });
                clicks.push((line, click));
            }
            Err(err) => {
                let column = layout.column_name(err.field);
                if !options.skip_invalid {
                    return Err(ReadError::Invalid {
                        path: path.to_owned(),
                        line,
                        column,
                        value: err.value,
                        allowed: err.field.allowed(),
                    });
                }
                stats.invalid_rows_skipped += 1;
                if stats.skipped_examples.len() < MAX_EXAMPLES {
                    stats.skipped_examples.push(format!(
                        "line {line}: column {column:?}: value {:?}; allowed: {}",
                        err.value,
                        err.field.allowed()
                    ));
                }
            }
        }
    }
    let mut sessions = Vec::with_capacity(order_of_sessions.len());
    for id in order_of_sessions {
        let Some(lines_and_clicks) = by_session.remove(&id) else {
            continue;
        };
        let line_orders: Vec<(u64, u32)> = lines_and_clicks
            .iter()
            .map(|(line, click)| (*line, click.order.get()))
            .collect();
        let clicks: Vec<Click> = lines_and_clicks.into_iter().map(|(_, c)| c).collect();
        let session_name = id.to_string();
        // `new_lenient` never fails on a non-empty list, and every list here has a click.
        let Ok((session, dropped)) = Session::new_lenient(id, clicks) else {
            continue;
        };
        stats.duplicate_clicks_dropped += dropped.exact_repeats as u64;
        if let Some(&order) = dropped.conflicting.first() {
            if !options.skip_invalid {
                // Report the second line holding that order: the first one read is kept.
                let line = line_orders
                    .iter()
                    .filter(|(_, o)| *o == order)
                    .nth(1)
                    .map_or(0, |(line, _)| *line);
                return Err(ReadError::ConflictingOrder {
                    path: path.to_owned(),
                    line,
                    session: session_name,
                    order,
                });
            }
            stats.invalid_rows_skipped += dropped.conflicting.len() as u64;
            for order in dropped.conflicting.iter().take(MAX_EXAMPLES) {
                if stats.skipped_examples.len() < MAX_EXAMPLES {
                    stats.skipped_examples.push(format!(
                        "session {session_name:?}: a second, different click with order {order}"
                    ));
                }
            }
        }
        stats.clicks += session.clicks().len() as u64;
        sessions.push(session);
    }
    stats.sessions = sessions.len() as u64;

    // Drain whatever the CSV reader left so the checksum covers the whole file.
    let mut rest = csv.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(io_err)?;
    let sha256 = hex::encode(rest.into_inner().hasher.finalize());
    Ok(Clickstream {
        file_name: path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        sha256,
        sessions,
        stats,
    })
}

fn parse_row(
    record: &csv::StringRecord,
    layout: &Layout,
) -> Result<(SessionId, Click), FieldError> {
    let text = |field: Field| record.get(layout.of(field)).unwrap_or("");
    let int = |field: Field| -> Result<i64, FieldError> {
        let t = text(field);
        t.parse::<i64>()
            .ok()
            .or_else(|| {
                // Some exports write integer codes as `4.0`.
                t.parse::<f64>()
                    .ok()
                    .filter(|v| v.fract() == 0.0 && v.abs() < 1e15)
                    .map(|v| v as i64)
            })
            .ok_or_else(|| FieldError::new(field, t))
    };
    let id = SessionId::parse(text(Field::SessionId))?;
    let price_text = text(Field::Price);
    let raw = RawClick {
        year: int(Field::Year)?,
        month: int(Field::Month)?,
        day: int(Field::Day)?,
        order: int(Field::Order)?,
        country: int(Field::Country)?,
        page1_main_category: int(Field::Category)?,
        page2_clothing_model: text(Field::Product).to_owned(),
        colour: int(Field::Colour)?,
        location: int(Field::Location)?,
        model_photography: int(Field::Photography)?,
        price: price_text
            .parse::<f64>()
            .map_err(|_| FieldError::new(Field::Price, price_text))?,
        price_2: int(Field::Price2)?,
        page: int(Field::Page)?,
    };
    let click = Click::parse(&raw).map_err(|errors| {
        errors
            .into_iter()
            .next()
            .unwrap_or_else(|| FieldError::new(Field::Order, "?"))
    })?;
    Ok((id, click))
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
        read_clickstream(f.path(), ReadOptions { skip_invalid })
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
        let ReadError::Invalid {
            line,
            column,
            value,
            allowed,
            ..
        } = &err
        else {
            panic!("expected an invalid-value error, got {err}");
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
            matches!(err, ReadError::Invalid { ref column, .. } if column == "price"),
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
            matches!(err, ReadError::Malformed { .. } | ReadError::Invalid { .. }),
            "{err}"
        );
    }

    #[test]
    fn short_rows_are_invalid_not_a_panic() {
        let text = format!("{SNAKE}\n2008,4,1\n");
        let err = read(&text, false).expect_err("row too short");
        assert!(matches!(err, ReadError::Invalid { line: 2, .. }), "{err}");
    }

    #[test]
    fn a_missing_file_is_an_io_error() {
        let err = read_clickstream(Path::new("/nonexistent/x.csv"), ReadOptions::default());
        assert!(matches!(err, Err(ReadError::Io { .. })));
    }
}
