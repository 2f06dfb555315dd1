//! The operator's export file, read as a stream of records so that its size does not matter:
//! CSV (a header row of source field names) or JSON Lines (one object per line: its fields,
//! or `{"ref", "fields", "on_duplicate"}`); and the summary printed at the end.

mod csv;
mod summary;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};

use serde_json::{json, Value};

use super::OnDuplicate;

pub use summary::Summary;

/// One record of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The line the record starts on.
    pub line: u64,
    pub reference: String,
    pub fields: BTreeMap<String, String>,
    pub on_duplicate: Option<OnDuplicate>,
}

impl Input {
    /// The record as `POST /v1/exports` takes it.
    pub fn to_json(&self) -> Value {
        let mut out = json!({"ref": self.reference, "fields": self.fields});
        if let Some(choice) = self.on_duplicate {
            out["on_duplicate"] = json!(choice);
        }
        out
    }
}

/// Why the file cannot be exported; nothing has been sent when it is found by a first pass.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("line {line}: {message}")]
    Line { line: u64, message: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    fn at(line: u64, message: impl Into<String>) -> Error {
        Error::Line {
            line,
            message: message.into(),
        }
    }
}

/// The records of `reader`, one at a time: JSON Lines when the first character after a
/// byte-order mark and blank space is `{`, else CSV.
pub fn records<R: Read>(reader: R) -> Result<Records<R>, Error> {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let (first, skipped_lines) = skip_blank_start(&mut reader)?;
    Ok(match first {
        Some(b'{') => Records::JsonLines(JsonLines {
            reader,
            line: skipped_lines,
            text: String::new(),
        }),
        _ => Records::Csv(csv::Records::new(reader, skipped_lines)),
    })
}

/// The whole of `text`, parsed (small inputs and tests).
pub fn parse(text: &str) -> Result<Vec<Input>, Error> {
    records(text.as_bytes())?.collect()
}

/// A stream of [`Input`]s; see [`records`].
pub enum Records<R: Read> {
    Csv(csv::Records<R>),
    JsonLines(JsonLines<R>),
}

impl<R: Read> Iterator for Records<R> {
    type Item = Result<Input, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Records::Csv(records) => records.next(),
            Records::JsonLines(records) => records.next(),
        }
    }
}

/// Consumes a UTF-8 byte-order mark and leading blank space; returns the first byte after
/// them (`None`: the file is blank) and how many lines they took.
fn skip_blank_start(reader: &mut impl BufRead) -> std::io::Result<(Option<u8>, u64)> {
    let buffer = reader.fill_buf()?;
    if buffer.starts_with(b"\xef\xbb\xbf") {
        reader.consume(3);
    }
    let mut lines = 0;
    loop {
        let buffer = reader.fill_buf()?;
        let Some(&first) = buffer.first() else {
            return Ok((None, lines));
        };
        let blank = buffer
            .iter()
            .position(|byte| !byte.is_ascii_whitespace())
            .unwrap_or(buffer.len());
        lines += buffer[..blank]
            .iter()
            .filter(|byte| **byte == b'\n')
            .count() as u64;
        reader.consume(blank);
        if blank == 0 {
            return Ok((Some(first), lines));
        }
    }
}

/// JSON Lines records; blank lines are skipped.
pub struct JsonLines<R> {
    reader: BufReader<R>,
    /// The number of the line last read.
    line: u64,
    text: String,
}

impl<R: Read> JsonLines<R> {
    fn next_line(&mut self) -> Option<Result<(), Error>> {
        self.text.clear();
        self.line += 1;
        match self.reader.read_line(&mut self.text) {
            Ok(0) => None,
            Ok(_) => Some(Ok(())),
            Err(error) if error.kind() == std::io::ErrorKind::InvalidData => {
                Some(Err(Error::at(self.line, "not valid UTF-8")))
            }
            Err(error) => Some(Err(error.into())),
        }
    }
}

impl<R: Read> Iterator for JsonLines<R> {
    type Item = Result<Input, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Err(error) = self.next_line()? {
                return Some(Err(error));
            }
            if !self.text.trim().is_empty() {
                return Some(json_line(self.line, &self.text));
            }
        }
    }
}

fn json_line(line: u64, text: &str) -> Result<Input, Error> {
    let value: Value = serde_json::from_str(text).map_err(|e| Error::at(line, e.to_string()))?;
    let (fields, reference, on_duplicate) = match value.get("fields") {
        Some(fields) => (fields, value.get("ref"), value.get("on_duplicate")),
        None => (&value, None, None),
    };
    let Value::Object(fields) = fields else {
        return Err(Error::at(line, "expected a JSON object"));
    };
    Ok(Input {
        line,
        reference: reference.map_or(format!("line {line}"), text_of),
        fields: fields
            .iter()
            .map(|(name, value)| (name.clone(), text_of(value)))
            .collect(),
        on_duplicate: on_duplicate_of(line, on_duplicate.map(text_of))?,
    })
}

/// An `on_duplicate` cell or member: empty means the settings' default.
fn on_duplicate_of(line: u64, text: Option<String>) -> Result<Option<OnDuplicate>, Error> {
    match text.as_deref() {
        None | Some("") => Ok(None),
        Some(text) => OnDuplicate::parse(text).map(Some).ok_or_else(|| {
            Error::at(
                line,
                format!("on_duplicate {text:?} must be update, create or skip"),
            )
        }),
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
