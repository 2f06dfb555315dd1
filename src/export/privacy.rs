//! Privacy deletion in export jobs (the `sync::Forget` hook the daemon registers): every row
//! that names a forgotten contact, by its id as the row's result or by one of its emails among
//! the row's input fields, is redacted and sealed, so that nothing of them stays readable and no
//! worker holding the row can write it back. What stays: the row's place, action and
//! owner, so the job's counts still add up to its total.

use super::job::{decode, encode, Header, Outcome, Row};
use crate::object::ObjectType;
use crate::ownership::normalize;
use crate::store::{self, Store};
use crate::sync::Person;

/// The `reason` (and `error.code` of a row that had no result yet) of a redacted row.
pub const REDACTED: &str = "privacy_deleted";
const MESSAGE: &str = "the person was privacy-deleted in HubSpot; what named them was erased";

/// Redacts what names one of `people` (contacts: companies name no person) in every export
/// job of `portal`; returns the rows changed.
pub fn redact(store: &Store, portal: i64, people: &[Person]) -> store::Result<u64> {
    let people: Vec<&Person> = people
        .iter()
        .filter(|person| person.kind == ObjectType::Contacts)
        .collect();
    if people.is_empty() {
        return Ok(0);
    }
    let exports = store.exports();
    let mut changed = 0;
    for (job, bytes) in exports.headers(portal, usize::MAX)? {
        let mut header: Header = decode(&bytes)?;
        let same_kind = header.kind == ObjectType::Contacts;
        let mut sealed = Vec::new();
        let mut cleaned = Vec::new();
        for (index, bytes) in exports.rows(portal, job)? {
            // Most rows name nobody erased: decode only those whose bytes might.
            let lower = bytes.to_ascii_lowercase();
            let might = |person: &&Person| {
                (same_kind && contains(&lower, person.id.to_string().as_bytes()))
                    || person.emails.iter().any(|e| contains(&lower, e.as_bytes()))
            };
            let named: Vec<&Person> = people.iter().copied().filter(might).collect();
            if named.is_empty() {
                continue;
            }
            let mut row: Row = decode(&bytes)?;
            let mut seal = false;
            let mut dropped = false;
            for person in named {
                if names(&row, person, same_kind) {
                    redact_row(index, &mut row, person);
                    seal = true;
                } else if same_kind {
                    // Another record's row that listed the person as a duplicate.
                    dropped |= drop_id(&mut row, person.id);
                }
            }
            if seal || (dropped && row.outcome.is_some()) {
                sealed.push((index, encode(&row)));
            } else if dropped {
                cleaned.push((index, encode(&row)));
            }
        }
        changed += (sealed.len() + cleaned.len()) as u64;
        exports.seal_rows(portal, job, &sealed)?;
        exports.update_rows(portal, job, &cleaned)?;
        if let Some(error) = header.error.as_mut() {
            let lower = error.message.to_lowercase();
            let quoted = people.iter().flat_map(|person| &person.emails);
            if quoted
                .into_iter()
                .any(|email| lower.contains(email.as_str()))
            {
                error.message = MESSAGE.into();
                exports.write(portal, job, Some(&encode(&header)), &[])?;
            }
        }
    }
    Ok(changed)
}

/// Whether `row` is about the person: its result is the record, or an input field holds one
/// of its emails.
fn names(row: &Row, person: &Person, same_kind: bool) -> bool {
    let result_is_them = same_kind && row.outcome.as_ref().and_then(|o| o.id) == Some(person.id);
    result_is_them
        || row.fields.values().any(|value| {
            normalize::email(value).is_some_and(|email| person.emails.contains(&email))
        })
}

/// Removes the person's id from the row's duplicate lists; whether it was there.
fn drop_id(row: &mut Row, id: i64) -> bool {
    let before = row.known_at_intent.len();
    row.known_at_intent.retain(|known| *known != id);
    let mut dropped = before != row.known_at_intent.len();
    if let Some(outcome) = row.outcome.as_mut() {
        let before = outcome.duplicates.len();
        outcome.duplicates.retain(|duplicate| *duplicate != id);
        dropped |= before != outcome.duplicates.len();
    }
    dropped
}

/// The row without the person: no input fields, no id of theirs, no message that could
/// quote them; its `ref` too when it contains their email, id or one of the row's values.
/// A row without a result fails with `privacy_deleted`: it must never be exported now.
fn redact_row(index: u32, row: &mut Row, person: &Person) {
    let reference = row.reference.to_lowercase();
    let mut values: Vec<String> = row
        .fields
        .values()
        .chain(&person.values)
        .chain(&person.emails)
        .map(|value| value.trim().to_lowercase())
        .filter(|value| value.chars().count() >= 3)
        .collect();
    values.push(person.id.to_string());
    if values
        .iter()
        .any(|value| reference.contains(value.as_str()))
    {
        row.reference = format!("redacted-{index}");
    }
    row.fields.clear();
    drop_id(row, person.id);
    let mut outcome = row
        .outcome
        .take()
        .unwrap_or_else(|| Outcome::failed(REDACTED, MESSAGE, None, Vec::new()));
    if outcome.id == Some(person.id) {
        outcome.id = None;
    }
    if let Some(error) = outcome.error.as_mut() {
        error.message = MESSAGE.into();
    }
    outcome.reason = Some(REDACTED.into());
    row.outcome = Some(outcome);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

#[cfg(test)]
mod tests;
