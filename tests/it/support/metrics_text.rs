//! A strict-enough reader of the OpenMetrics / Prometheus text exposition: every line must be
//! a well-formed comment or sample, the exposition must end with `# EOF`, and every sample
//! must belong to a declared family.

use std::collections::BTreeMap;

/// Samples by `name{labels}` exactly as exposed (labels in exposition order).
pub type Samples = BTreeMap<String, f64>;

/// Parses `text`; the error names the first bad line.
pub fn parse(text: &str) -> Result<Samples, String> {
    let mut families: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Samples::new();
    let lines: Vec<&str> = text.lines().collect();
    if lines.last() != Some(&"# EOF") {
        return Err("does not end with # EOF".into());
    }
    for (number, line) in lines.iter().enumerate() {
        let bad = |why: &str| format!("line {}: {why}: {line:?}", number + 1);
        if *line == "# EOF" {
            if number + 1 != lines.len() {
                return Err(bad("# EOF before the end"));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut words = rest.splitn(3, ' ');
            let (kind, name) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            if !valid_name(name) {
                return Err(bad("bad metric name"));
            }
            match kind {
                "HELP" | "UNIT" => {}
                "TYPE" => {
                    let kind = words.next().unwrap_or("");
                    let known = [
                        "counter",
                        "gauge",
                        "histogram",
                        "summary",
                        "info",
                        "unknown",
                    ];
                    if !known.contains(&kind) {
                        return Err(bad("unknown type"));
                    }
                    families.insert(name.to_owned(), kind.to_owned());
                }
                _ => return Err(bad("unknown comment")),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or_else(|| bad("no value"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            other => other.parse().map_err(|_| bad("value is not a number"))?,
        };
        let name = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels
                    .strip_suffix('}')
                    .ok_or_else(|| bad("unclosed labels"))?;
                check_labels(labels).map_err(|why| bad(&why))?;
                name
            }
            None => series,
        };
        if !valid_name(name) {
            return Err(bad("bad sample name"));
        }
        let family = ["_total", "_bucket", "_count", "_sum", "_created", "_info"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .filter(|base| families.contains_key(*base))
            .unwrap_or(name);
        if !families.contains_key(family) {
            return Err(bad("sample of an undeclared family"));
        }
        if samples.insert(series.to_owned(), value).is_some() {
            return Err(bad("duplicate series"));
        }
    }
    Ok(samples)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `a="x",b="y"` with escaped quotes and backslashes inside values.
fn check_labels(labels: &str) -> Result<(), String> {
    let mut rest = labels;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").ok_or("label without =\"")?;
        if !valid_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        let mut escaped = false;
        let mut end = None;
        for (index, c) in after.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(index);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or("unterminated label value")?;
        rest = &after[end + 1..];
        rest = match rest.strip_prefix(',') {
            Some(more) if !more.is_empty() => more,
            Some(_) => return Err("trailing comma".into()),
            None if rest.is_empty() => rest,
            None => return Err("labels not separated by commas".into()),
        };
    }
    Ok(())
}

#[test]
fn the_reader_rejects_malformed_expositions() {
    let good = "# HELP a_total A.\n# TYPE a counter\na_total{x=\"1\",y=\"q\\\"\"} 3\n# EOF";
    assert_eq!(parse(good).unwrap()["a_total{x=\"1\",y=\"q\\\"\"}"], 3.0);
    for bad in [
        "# TYPE a counter\na_total 3",
        "# TYPE a counter\na_total three\n# EOF",
        "b 1\n# EOF",
        "# TYPE a counter\na_total{x=1} 3\n# EOF",
        "# TYPE a counter\na_total 1\na_total 2\n# EOF",
        "# TYPE a countr\n# EOF",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}
