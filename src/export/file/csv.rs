//! CSV records with the `csv` crate: a header row of source field names, optional `ref` and
//! `on_duplicate` columns, blank rows skipped, every error naming the line it is on.

use std::collections::BTreeMap;
use std::io::{BufReader, Read};

use super::{on_duplicate_of, Error, Input};

pub struct Records<R> {
    reader: ::csv::Reader<QuoteWatch<BufReader<R>>>,
    /// Lines consumed before the reader started (blank lines above the header).
    skipped_lines: u64,
    header: Option<Vec<String>>,
    row: ::csv::StringRecord,
    done: bool,
}

impl<R: std::io::Read> Records<R> {
    pub(super) fn new(reader: BufReader<R>, skipped_lines: u64) -> Self {
        let reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(QuoteWatch::new(reader));
        Records {
            reader,
            skipped_lines,
            header: None,
            row: ::csv::StringRecord::new(),
            done: false,
        }
    }

    /// The next row and the line it starts on; `None` at the end.
    fn next_row(&mut self) -> Result<Option<u64>, Error> {
        let more = self.reader.read_record(&mut self.row).map_err(|error| {
            let line = error.position().map_or(0, |p| p.line()) + self.skipped_lines;
            match error.into_kind() {
                ::csv::ErrorKind::Io(error) => Error::Io(error),
                ::csv::ErrorKind::Utf8 { .. } => Error::at(line, "not valid UTF-8"),
                other => Error::at(line, format!("{other:?}")),
            }
        })?;
        let line = self.row.position().map_or(0, |p| p.line()) + self.skipped_lines;
        if self.reader.get_ref().ended_quoted() {
            // Only the last row can hold the end of the input.
            return Err(Error::at(line, "unterminated quoted cell"));
        }
        Ok(more.then_some(line))
    }

    fn next_input(&mut self) -> Result<Option<Input>, Error> {
        while let Some(line) = self.next_row()? {
            if let Some(input) = self.input(line)? {
                return Ok(Some(input));
            }
        }
        Ok(None)
    }

    /// The row just read as a record; `None` for the header and blank rows.
    fn input(&mut self, line: u64) -> Result<Option<Input>, Error> {
        if self.row.iter().all(|cell| cell.trim().is_empty()) {
            return Ok(None);
        }
        let Some(header) = &self.header else {
            self.header = Some(self.row.iter().map(|h| h.trim().to_owned()).collect());
            return Ok(None);
        };
        if self.row.len() != header.len() {
            return Err(Error::at(
                line,
                format!("{} cells, the header has {}", self.row.len(), header.len()),
            ));
        }
        let mut fields: BTreeMap<String, String> = header
            .iter()
            .cloned()
            .zip(self.row.iter().map(str::to_owned))
            .collect();
        Ok(Some(Input {
            line,
            reference: fields
                .remove("ref")
                .unwrap_or_else(|| format!("line {line}")),
            on_duplicate: on_duplicate_of(line, fields.remove("on_duplicate"))?,
            fields,
        }))
    }
}

impl<R: std::io::Read> Iterator for Records<R> {
    type Item = Result<Input, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let found = self.next_input().transpose();
        // After an error the position is unknown: stop there.
        self.done = !matches!(found, Some(Ok(_)));
        found
    }
}

/// Follows the quoting of the bytes the CSV reader takes, because `csv` accepts input that
/// ends inside a quoted cell (rust-csv issue 252): that cell would silently hold the rest of
/// the file. The states are csv-core's for the default dialect.
struct QuoteWatch<R> {
    inner: R,
    state: Cell,
    at_end: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    Start,
    Unquoted,
    Quoted,
    /// A quote inside a quoted cell: its end, or the first of a `""` pair.
    QuotedQuote,
}

impl<R> QuoteWatch<R> {
    fn new(inner: R) -> Self {
        QuoteWatch {
            inner,
            state: Cell::Start,
            at_end: false,
        }
    }

    /// The input has ended inside a quoted cell.
    fn ended_quoted(&self) -> bool {
        self.at_end && self.state == Cell::Quoted
    }
}

impl<R: Read> Read for QuoteWatch<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.at_end |= read == 0 && !buffer.is_empty();
        for byte in &buffer[..read] {
            self.state = match (self.state, byte) {
                (Cell::Start, b'"') | (Cell::QuotedQuote, b'"') => Cell::Quoted,
                (Cell::Quoted, b'"') => Cell::QuotedQuote,
                (Cell::Quoted, _) => Cell::Quoted,
                (_, b',' | b'\n' | b'\r') => Cell::Start,
                _ => Cell::Unquoted,
            };
        }
        Ok(read)
    }
}
