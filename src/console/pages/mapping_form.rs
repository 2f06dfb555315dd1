//! The field-mapping form as posted: its rows back into a [`Mapping`], and the edits its
//! buttons ask for (add a row, move one up or down, remove one) before anything is saved.

use std::collections::BTreeMap;

use crate::export::mapping::{Mapping, Row};

use super::super::request::Form;

/// What the post asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Save,
    Add,
    Up(usize),
    Down(usize),
    Remove(usize),
    /// Re-render only (a property changed: its picklist values).
    Refresh,
}

impl Op {
    pub fn of(form: &Form) -> Op {
        let op = form.get("op").unwrap_or("");
        let index = |prefix: &str| op.strip_prefix(prefix).and_then(|i| i.parse().ok());
        if form.get("refresh").is_some() {
            return Op::Refresh;
        }
        match op {
            "add" => Op::Add,
            "save" => Op::Save,
            _ => index("up:")
                .map(Op::Up)
                .or_else(|| index("down:").map(Op::Down))
                .or_else(|| index("remove:").map(Op::Remove))
                .unwrap_or(Op::Save),
        }
    }
}

/// The mapping the form holds, rows in order. Translation pairs with an empty source value
/// are left out (clearing one removes it).
pub fn read(form: &Form) -> Mapping {
    let count: usize = form.text("rows").parse().unwrap_or(0).min(500);
    let fields = (0..count)
        .map(|i| {
            let pairs: usize = form
                .text(&format!("values.{i}"))
                .parse()
                .unwrap_or(0)
                .min(500);
            let values: BTreeMap<String, String> = (0..pairs)
                .filter_map(|j| {
                    let from = form.text(&format!("from.{i}.{j}"));
                    let to = form.text(&format!("to.{i}.{j}"));
                    (!from.is_empty()).then_some((from, to))
                })
                .collect();
            Row {
                source: form.text(&format!("source.{i}")),
                property: form.text(&format!("property.{i}")),
                update: match form.text(&format!("update.{i}")).as_str() {
                    "" => "fill_empty".into(),
                    other => other.to_owned(),
                },
                values: (!values.is_empty()).then_some(values),
            }
        })
        .collect();
    Mapping { fields }
}

/// Applies an edit; the index of the row to bring into view.
pub fn apply(mapping: &mut Mapping, op: Op) -> Option<usize> {
    let rows = &mut mapping.fields;
    match op {
        Op::Add => {
            rows.push(Row {
                source: String::new(),
                property: String::new(),
                update: "fill_empty".into(),
                values: None,
            });
            Some(rows.len() - 1)
        }
        Op::Up(i) if i > 0 && i < rows.len() => {
            rows.swap(i - 1, i);
            Some(i - 1)
        }
        Op::Down(i) if i + 1 < rows.len() => {
            rows.swap(i, i + 1);
            Some(i + 1)
        }
        Op::Remove(i) if i < rows.len() => {
            rows.remove(i);
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form {
            fields: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            file: None,
        }
    }

    #[test]
    fn rows_come_back_in_order_and_edits_apply() {
        let posted = form(&[
            ("rows", "2"),
            ("source.0", "direct_phone"),
            ("property.0", "phone"),
            ("update.0", "overwrite"),
            ("values.0", "0"),
            ("source.1", " industry "),
            ("property.1", "industry"),
            ("values.1", "2"),
            ("from.1.0", "Software"),
            ("to.1.0", "COMPUTER_SOFTWARE"),
            ("from.1.1", ""),
            ("to.1.1", "IGNORED"),
            ("op", "up:1"),
        ]);
        let mut mapping = read(&posted);
        assert_eq!(mapping.fields.len(), 2);
        assert_eq!(mapping.fields[0].update, "overwrite");
        assert_eq!(mapping.fields[1].update, "fill_empty");
        assert_eq!(mapping.fields[1].source, "industry");
        let values = mapping.fields[1].values.clone().unwrap();
        assert_eq!(values.len(), 1);
        assert_eq!(values["Software"], "COMPUTER_SOFTWARE");
        assert_eq!(Op::of(&posted), Op::Up(1));
        assert_eq!(apply(&mut mapping, Op::Up(1)), Some(0));
        assert_eq!(mapping.fields[0].property, "industry");
        assert_eq!(apply(&mut mapping, Op::Up(0)), None, "the first row stays");
        assert_eq!(apply(&mut mapping, Op::Add), Some(2));
        assert_eq!(apply(&mut mapping, Op::Remove(0)), None);
        assert_eq!(mapping.fields[0].property, "phone");
        assert_eq!(Op::of(&form(&[("op", "add")])), Op::Add);
        assert_eq!(Op::of(&form(&[("refresh", "yes")])), Op::Refresh);
    }
}
