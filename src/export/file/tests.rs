//! The export file reader: CSV and JSON Lines cases, line numbers in errors, and streaming
//! (a generated file far larger than its read-ahead).

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::*;

#[test]
fn csv_with_quotes_commas_and_newlines() {
    let text = "email,company,ref\r\nbo@acme.com,\"Acme, \"\"Inc\"\"\",r1\n\nann@x.com,\"two\nlines\",r2\n";
    let inputs = parse(text).unwrap();
    assert_eq!(inputs.len(), 2);
    assert_eq!(inputs[0].fields["company"], "Acme, \"Inc\"");
    assert_eq!(inputs[0].reference, "r1");
    assert_eq!(inputs[1].fields["company"], "two\nlines");
    assert!(parse("a,b\n1\n")
        .unwrap_err()
        .to_string()
        .contains("line 2"));
    assert!(parse("a\n\"open\n").is_err());
}

#[test]
fn json_lines_flat_or_wrapped() {
    let text = "{\"email\": \"bo@acme.com\", \"employees\": 12}\n\n{\"ref\": \"x\", \"fields\": {\"email\": \"a@b.co\"}, \"on_duplicate\": \"skip\"}\n";
    let inputs = parse(text).unwrap();
    assert_eq!(inputs[0].reference, "line 1");
    assert_eq!(inputs[0].fields["employees"], "12");
    assert_eq!(
        (inputs[1].reference.as_str(), inputs[1].on_duplicate),
        ("x", Some(OnDuplicate::Skip))
    );
    assert!(parse("{\"a\": 1}\n[1]\n")
        .unwrap_err()
        .to_string()
        .starts_with("line 2"));
}

/// `text` parses to an error whose message is `expected`.
fn check_error(text: &str, expected: &str) {
    match parse(text) {
        Err(error) => assert_eq!(error.to_string(), expected, "{text:?}"),
        Ok(inputs) => panic!("{text:?} parsed: {inputs:?}"),
    }
}

#[test]
fn errors_name_the_line_counting_bom_blank_lines_and_multi_line_cells() {
    check_error(
        "\u{feff}\n\nemail,ref\n\nbo@x.co,r1\n\"two\nlines\",r2\nx,y,z\n",
        "line 8: 3 cells, the header has 2",
    );
    // An open quote would swallow the rest of the file into one cell.
    check_error(
        "email,company\na@x.co,\"Acme\nb@x.co,Beta\nc@x.co,Gamma\n",
        "line 2: unterminated quoted cell",
    );
    check_error(
        "email,on_duplicate\na@x.co,merge\n",
        "line 2: on_duplicate \"merge\" must be update, create or skip",
    );
    check_error(
        "\n\n{\"email\": \"a@x.co\"}\n{\"fields\": {\"email\": \"b@x.co\"}, \"on_duplicate\": \"merge\"}\n",
        "line 4: on_duplicate \"merge\" must be update, create or skip",
    );
    check_error(
        "{\"a\": 1}\n{\"fields\": 3}\n",
        "line 2: expected a JSON object",
    );
    let error = parse("{\"a\": 1}\n{\"a\": 2\n").unwrap_err().to_string();
    assert!(error.starts_with("line 2: EOF"), "{error}");
    let mut invalid = b"email\nbo@x.co\n".to_vec();
    invalid.extend_from_slice(b"\xff\xfe@x.co\n");
    let error = records(invalid.as_slice()).unwrap().find_map(Result::err);
    assert_eq!(error.unwrap().to_string(), "line 3: not valid UTF-8");
}

#[test]
fn csv_details_kept_from_the_hand_written_parser() {
    let inputs = parse(
        "\u{feff}  email , ref,on_duplicate\n , ,\nbo@x.co,,skip\nsay \"hi\"@x.co,r2,\n\"\",r3,update",
    )
    .unwrap();
    let summary: Vec<(u64, &str, &str, Option<OnDuplicate>)> = inputs
        .iter()
        .map(|i| {
            (
                i.line,
                i.reference.as_str(),
                i.fields["email"].as_str(),
                i.on_duplicate,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            // A `ref` column with an empty cell is an empty reference, as before.
            (3, "", "bo@x.co", Some(OnDuplicate::Skip)),
            (4, "r2", "say \"hi\"@x.co", None),
            (5, "r3", "", Some(OnDuplicate::Update)),
        ]
    );
    assert_eq!(
        parse("email\nbo@x.co\n").unwrap()[0].reference,
        "line 2",
        "without a ref column the line names the record"
    );
    assert!(parse("").unwrap().is_empty());
    assert!(parse("\u{feff}\n  \n").unwrap().is_empty());
    assert!(parse("email,name\n").unwrap().is_empty());
}

#[test]
fn json_lines_after_a_byte_order_mark_and_blank_lines() {
    let inputs = parse("\u{feff}\n \n{\"email\": \"a@x.co\"}\r\n{\"email\": null}").unwrap();
    let lines: Vec<(u64, &str, &str)> = inputs
        .iter()
        .map(|i| (i.line, i.reference.as_str(), i.fields["email"].as_str()))
        .collect();
    assert_eq!(lines, [(3, "line 3", "a@x.co"), (4, "line 4", "")]);
}

/// A generated CSV file of `rows` fixed-width rows, made as it is read; counts what was read.
struct Generated {
    next_row: u64,
    rows: u64,
    pending: Vec<u8>,
    served: Arc<AtomicU64>,
}

const HEADER: &str = "email,first_name,last_name,ref\n";

fn row(index: u64) -> String {
    format!("person{index:010}@example.com,First,Last{index:010},r{index:010}\n")
}

impl Read for Generated {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.len() < buffer.len() && self.next_row < self.rows {
            self.pending
                .extend_from_slice(row(self.next_row).as_bytes());
            self.next_row += 1;
        }
        let count = buffer.len().min(self.pending.len());
        buffer[..count].copy_from_slice(&self.pending[..count]);
        self.pending.drain(..count);
        self.served.fetch_add(count as u64, Ordering::Relaxed);
        Ok(count)
    }
}

#[test]
fn a_large_file_streams_with_bounded_read_ahead() {
    // 1.5 million rows, 95 MiB: the hand-written parser held the text, every cell and every
    // record at once (about 1 GiB here); this reads at most its buffers ahead of the record
    // it hands out.
    let rows = 1_500_000;
    let served = Arc::new(AtomicU64::new(0));
    let mut source = Generated {
        next_row: 0,
        rows,
        pending: HEADER.as_bytes().to_vec(),
        served: served.clone(),
    };
    source.pending.reserve(64 * 1024);
    let row_bytes = row(0).len() as u64;
    let mut count = 0;
    for input in records(source).unwrap() {
        let input = input.unwrap();
        let consumed = HEADER.len() as u64 + (count + 1) * row_bytes;
        let ahead = served.load(Ordering::Relaxed) - consumed;
        assert!(
            ahead <= 160 * 1024,
            "read {ahead} bytes ahead at row {count}"
        );
        if count % 500_000 == 0 {
            assert_eq!(input.reference, format!("r{count:010}"));
            assert_eq!(input.line, count + 2);
        }
        count += 1;
    }
    assert_eq!(count, rows);
    assert_eq!(
        served.load(Ordering::Relaxed),
        HEADER.len() as u64 + rows * row_bytes
    );
}

#[test]
fn json_lines_stream_line_by_line() {
    let served = Arc::new(AtomicU64::new(0));
    let lines: String = (0..20_000)
        .map(|i| format!("{{\"ref\": \"j{i}\", \"fields\": {{\"email\": \"j{i}@x.co\"}}}}\n"))
        .collect();
    let source = Counted {
        inner: lines.as_bytes(),
        served: served.clone(),
    };
    let mut records = records(source).unwrap();
    let first = records.next().unwrap().unwrap();
    assert_eq!(first.reference, "j0");
    assert!(
        served.load(Ordering::Relaxed) <= 64 * 1024,
        "the first record came after reading {} of {} bytes",
        served.load(Ordering::Relaxed),
        lines.len()
    );
    assert_eq!(records.count(), 19_999);
}

struct Counted<R> {
    inner: R,
    served: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let count = self.inner.read(buffer)?;
        self.served.fetch_add(count as u64, Ordering::Relaxed);
        Ok(count)
    }
}
