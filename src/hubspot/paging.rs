//! Resumable cursors: list `after` tokens, and search windows that never reach the 10,000 cap.
//!
//! Search pages by key, not by offset: every page is a fresh query "modified ≥ since" sorted by
//! modified time, and `since` moves to the last modified time seen. An offset walk would skip a
//! record whenever an earlier one is modified mid-walk (it moves to the end and the rest shift
//! left), and offsets past 10,000 are refused. When a whole page shares one modified time (bulk
//! jobs stamp thousands of records alike), the walk switches to that timestamp alone sorted by
//! `hs_object_id`, keyed on the last id, then continues after that timestamp.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::model::ObjectType;

/// Where a list walk (`GET /crm/v3/objects/{type}`) resumes; the default starts at the beginning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListCursor {
    /// HubSpot's `paging.next.after` token.
    pub after: Option<String>,
}

/// Where a search walk resumes. Persist it after the page's records are stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchCursor {
    /// Records modified at or after this time (epoch ms).
    pub since_ms: i64,
    /// Ids already returned whose modified time is exactly `since_ms`: skipped if seen again.
    #[serde(default)]
    pub seen_at_since: Vec<i64>,
    /// Set while walking a timestamp shared by more records than a page: ids above this one.
    #[serde(default)]
    pub tie_after_id: Option<i64>,
    /// Optional end of the window (exclusive).
    #[serde(default)]
    pub until_ms: Option<i64>,
}

impl SearchCursor {
    pub fn since(since_ms: i64) -> Self {
        SearchCursor {
            since_ms,
            ..SearchCursor::default()
        }
    }

    /// The same walk restarted `lookback_ms` earlier, to catch records search indexed late.
    pub fn rewound(&self, lookback_ms: i64) -> Self {
        SearchCursor {
            since_ms: self.since_ms.saturating_sub(lookback_ms),
            until_ms: self.until_ms,
            ..SearchCursor::default()
        }
    }

    /// The search request body for this cursor (without `properties`, which the caller adds).
    pub(crate) fn query(&self, object: ObjectType, limit: usize) -> Value {
        let modified = object.modified_property();
        let (filters, sort) = match self.tie_after_id {
            Some(after_id) => (
                vec![
                    json!({"propertyName": modified, "operator": "EQ", "value": self.since_ms.to_string()}),
                    json!({"propertyName": "hs_object_id", "operator": "GT", "value": after_id.to_string()}),
                ],
                "hs_object_id",
            ),
            None => {
                let mut filters = vec![
                    json!({"propertyName": modified, "operator": "GTE", "value": self.since_ms.to_string()}),
                ];
                if let Some(until) = self.until_ms {
                    filters.push(json!({"propertyName": modified, "operator": "LT", "value": until.to_string()}));
                }
                (filters, modified)
            }
        };
        json!({
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
            "limit": limit,
            "after": "0",
        })
    }

    /// Given one page of hits `(id, modified_ms)` in the order returned and whether the query had
    /// more, says which hits are new (indices into `hits`) and where to continue.
    pub(crate) fn advance(&self, hits: &[(i64, Option<i64>)], has_more: bool) -> Advance {
        let fresh: Vec<usize> = (0..hits.len())
            .filter(|&i| {
                let (id, modified) = hits[i];
                !(modified == Some(self.since_ms) && self.seen_at_since.contains(&id))
            })
            .collect();
        let next = match self.tie_after_id {
            Some(_) => self.advance_tie(hits, has_more),
            None => self.advance_window(hits, has_more),
        };
        // Leaving a tie walk still leaves the window after that timestamp to query.
        let done = !has_more && self.tie_after_id.is_none() && next.tie_after_id.is_none();
        Advance { fresh, next, done }
    }

    fn advance_window(&self, hits: &[(i64, Option<i64>)], has_more: bool) -> SearchCursor {
        let Some(last) = hits.iter().filter_map(|(_, m)| *m).max() else {
            return self.clone();
        };
        let at_last = hits
            .iter()
            .filter(|(_, m)| *m == Some(last))
            .map(|(id, _)| *id);
        if last > self.since_ms {
            return SearchCursor {
                since_ms: last,
                seen_at_since: sorted(at_last.collect()),
                tie_after_id: None,
                until_ms: self.until_ms,
            };
        }
        // Every hit shares `since_ms`.
        let mut seen = self.seen_at_since.clone();
        seen.extend(at_last);
        if has_more {
            // More records share this timestamp than a page holds: walk it by id.
            SearchCursor {
                seen_at_since: sorted(seen),
                tie_after_id: Some(0),
                ..self.clone()
            }
        } else {
            SearchCursor {
                seen_at_since: sorted(seen),
                ..self.clone()
            }
        }
    }

    fn advance_tie(&self, hits: &[(i64, Option<i64>)], has_more: bool) -> SearchCursor {
        let last_id = hits.iter().map(|(id, _)| *id).max();
        match last_id {
            Some(last_id) if has_more => SearchCursor {
                // Ids at or below the key never come back in this walk.
                seen_at_since: self
                    .seen_at_since
                    .iter()
                    .copied()
                    .filter(|id| *id > last_id)
                    .collect(),
                tie_after_id: Some(last_id),
                ..self.clone()
            },
            // The timestamp is exhausted: continue strictly after it (timestamps are whole ms).
            _ => SearchCursor {
                since_ms: self.since_ms + 1,
                seen_at_since: Vec::new(),
                tie_after_id: None,
                until_ms: self.until_ms,
            },
        }
    }
}

fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Advance {
    /// Indices of hits not returned before.
    pub fresh: Vec<usize>,
    pub next: SearchCursor,
    /// The window holds nothing more right now.
    pub done: bool,
}

/// Splits `names` so the first part fits `budget` characters of a comma-joined, URL-encoded
/// query value (a comma costs three characters: `%2C`).
pub(crate) fn split_for_url(names: &[String], budget: usize) -> (Vec<String>, Vec<String>) {
    let mut used = 0;
    let mut first = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let encoded: usize = url::form_urlencoded::byte_serialize(name.as_bytes())
            .map(str::len)
            .sum();
        let cost = encoded + if first.is_empty() { 0 } else { 3 };
        if used + cost > budget && !first.is_empty() {
            return (first, names[i..].to_vec());
        }
        used += cost;
        first.push(name.clone());
    }
    (first, Vec::new())
}

#[cfg(test)]
mod tests;
