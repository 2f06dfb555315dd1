//! The operator's export file: CSV (a header row of source field names) or JSON Lines (one
//! object per line: its fields, or `{"ref", "fields", "on_duplicate"}`), and the summary
//! table printed at the end.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// One record of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub reference: String,
    pub fields: BTreeMap<String, String>,
    pub on_duplicate: Option<String>,
}

impl Input {
    /// The record as `POST /v1/exports` takes it.
    pub fn to_json(&self) -> Value {
        let mut out = json!({"ref": self.reference, "fields": self.fields});
        if let Some(choice) = &self.on_duplicate {
            out["on_duplicate"] = json!(choice);
        }
        out
    }
}

/// Parses CSV, or JSON Lines when the first non-blank character is `{`.
pub fn parse(text: &str) -> Result<Vec<Input>, String> {
    if text.trim_start().starts_with('{') {
        parse_json_lines(text)
    } else {
        parse_csv(text)
    }
}

fn parse_json_lines(text: &str) -> Result<Vec<Input>, String> {
    let mut inputs = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", number + 1))?;
        let (fields, reference, on_duplicate) = match value.get("fields") {
            Some(fields) => (
                fields.clone(),
                value.get("ref").cloned(),
                value.get("on_duplicate").cloned(),
            ),
            None => (value, None, None),
        };
        let Value::Object(fields) = fields else {
            return Err(format!("line {}: expected a JSON object", number + 1));
        };
        inputs.push(Input {
            reference: reference
                .as_ref()
                .map_or(format!("line {}", number + 1), text_of),
            fields: fields
                .iter()
                .map(|(k, v)| (k.clone(), text_of(v)))
                .collect(),
            on_duplicate: on_duplicate.as_ref().map(text_of),
        });
    }
    Ok(inputs)
}

fn text_of(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn parse_csv(text: &str) -> Result<Vec<Input>, String> {
    let rows = csv_rows(text.strip_prefix('\u{feff}').unwrap_or(text))?;
    let mut rows = rows.into_iter();
    let Some((_, header)) = rows.next() else {
        return Ok(Vec::new());
    };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_owned()).collect();
    let mut inputs = Vec::new();
    for (line, row) in rows {
        if row.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        if row.len() != header.len() {
            return Err(format!(
                "line {line}: {} cells, the header has {}",
                row.len(),
                header.len()
            ));
        }
        let mut fields: BTreeMap<String, String> = header.iter().cloned().zip(row).collect();
        let reference = fields
            .remove("ref")
            .unwrap_or_else(|| format!("line {line}"));
        let on_duplicate = fields.remove("on_duplicate").filter(|v| !v.is_empty());
        inputs.push(Input {
            reference,
            fields,
            on_duplicate,
        });
    }
    Ok(inputs)
}

/// RFC 4180 rows with the line each starts on: quoted cells may hold commas, `""` and newlines.
fn csv_rows(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let (mut line, mut start, mut quoted) = (1, 1, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push((start, std::mem::take(&mut row)));
                line += 1;
                start = line;
            }
            (_, c) => {
                if c == '\n' {
                    line += 1;
                }
                cell.push(c);
            }
        }
    }
    if quoted {
        return Err(format!("line {start}: unterminated quoted cell"));
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push((start, row));
    }
    Ok(rows)
}

/// The summary table: counts per action, then every failed record with its reason.
pub fn summary(results: &[Value]) -> String {
    let count = |action: &str| results.iter().filter(|r| r["action"] == action).count();
    let mut out = String::from("action    records\n");
    for action in ["created", "updated", "skipped", "failed"] {
        out.push_str(&format!("{action:<9} {:>7}\n", count(action)));
    }
    out.push_str(&format!("{:<9} {:>7}\n", "total", results.len()));
    for failed in results.iter().filter(|r| r["action"] == "failed") {
        let error = &failed["error"];
        let property = error["property"]
            .as_str()
            .map(|p| format!(" [{p}]"))
            .unwrap_or_default();
        out.push_str(&format!(
            "failed {}: {}{property}: {}\n",
            text_of(&failed["ref"]),
            text_of(&error["code"]),
            text_of(&error["message"])
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_commas_and_newlines() {
        let text = "email,company,ref\r\nbo@acme.com,\"Acme, \"\"Inc\"\"\",r1\n\nann@x.com,\"two\nlines\",r2\n";
        let inputs = parse(text).unwrap();
        assert_eq!(inputs.len(), 2);
        assert_eq!(inputs[0].fields["company"], "Acme, \"Inc\"");
        assert_eq!(inputs[0].reference, "r1");
        assert_eq!(inputs[1].fields["company"], "two\nlines");
        assert!(parse("a,b\n1\n").unwrap_err().contains("line 2"));
        assert!(parse("a\n\"open\n").is_err());
    }

    #[test]
    fn json_lines_flat_or_wrapped() {
        let text = "{\"email\": \"bo@acme.com\", \"employees\": 12}\n\n{\"ref\": \"x\", \"fields\": {\"email\": \"a@b.co\"}, \"on_duplicate\": \"skip\"}\n";
        let inputs = parse(text).unwrap();
        assert_eq!(inputs[0].reference, "line 1");
        assert_eq!(inputs[0].fields["employees"], "12");
        assert_eq!(
            (
                inputs[1].reference.as_str(),
                inputs[1].on_duplicate.as_deref()
            ),
            ("x", Some("skip"))
        );
        assert!(parse("{\"a\": 1}\n[1]\n")
            .unwrap_err()
            .starts_with("line 2"));
    }
}
