//! Search window arithmetic, checked against an in-memory "HubSpot search" that obeys the cap.

use super::*;

#[test]
fn a_page_moves_the_window_to_its_last_timestamp() {
    let cursor = SearchCursor::since(100);
    let hits = [
        (1, Some(100)),
        (2, Some(105)),
        (3, Some(107)),
        (4, Some(107)),
    ];
    let step = cursor.advance(&hits, true);
    assert_eq!(step.fresh, [0, 1, 2, 3]);
    assert_eq!(
        step.next,
        SearchCursor {
            since_ms: 107,
            seen_at_since: vec![3, 4],
            ..SearchCursor::default()
        }
    );
    assert!(!step.done);
    // The next page repeats 3 and 4 (modified ≥ 107): they are not returned twice.
    let again = step
        .next
        .advance(&[(4, Some(107)), (3, Some(107)), (9, Some(110))], false);
    assert_eq!(again.fresh, [2]);
    assert!(again.done);
    assert_eq!(again.next.since_ms, 110);
    assert_eq!(again.next.seen_at_since, [9]);
}

#[test]
fn a_full_page_of_one_timestamp_walks_that_timestamp_by_id() {
    let cursor = SearchCursor::since(500);
    let hits: Vec<_> = (10..14).map(|id| (id, Some(500))).collect();
    let step = cursor.advance(&hits, true);
    assert_eq!(step.next.tie_after_id, Some(0));
    assert_eq!(step.next.seen_at_since, [10, 11, 12, 13]);
    let query = step.next.query(ObjectType::Deals, 4);
    assert_eq!(query["sorts"][0]["propertyName"], "hs_object_id");
    assert_eq!(query["filterGroups"][0]["filters"][0]["operator"], "EQ");
    assert_eq!(query["filterGroups"][0]["filters"][1]["value"], "0");
    // In id order now; 10..13 were seen already.
    let tie = step.next.advance(
        &[
            (3, Some(500)),
            (10, Some(500)),
            (11, Some(500)),
            (20, Some(500)),
        ],
        true,
    );
    assert_eq!(tie.fresh, [0, 3]);
    assert_eq!(tie.next.tie_after_id, Some(20));
    assert!(tie.next.seen_at_since.is_empty());
    let end = tie.next.advance(&[(21, Some(500))], false);
    assert_eq!(end.next, SearchCursor::since(501));
    assert!(
        !end.done,
        "the window after the timestamp is still to be walked"
    );
}

#[test]
fn contacts_filter_on_lastmodifieddate_and_others_on_hs_lastmodifieddate() {
    let mut cursor = SearchCursor::since(42);
    cursor.until_ms = Some(99);
    let contacts = cursor.query(ObjectType::Contacts, 200);
    assert_eq!(
        contacts["filterGroups"][0]["filters"][0]["propertyName"],
        "lastmodifieddate"
    );
    assert_eq!(contacts["filterGroups"][0]["filters"][1]["operator"], "LT");
    assert_eq!(contacts["sorts"][0]["direction"], "ASCENDING");
    assert_eq!(contacts["limit"], 200);
    let tasks = cursor.query(ObjectType::Tasks, 200);
    assert_eq!(tasks["sorts"][0]["propertyName"], "hs_lastmodifieddate");
}

/// A search engine with HubSpot's rules: one sort key, ties in arbitrary (here: reversed) order,
/// and offsets past 10,000 refused.
fn search(
    records: &[(i64, i64)],
    cursor: &SearchCursor,
    limit: usize,
) -> (Vec<(i64, Option<i64>)>, bool) {
    let mut matching: Vec<(i64, i64)> = match cursor.tie_after_id {
        Some(after) => {
            let mut m: Vec<_> = records
                .iter()
                .copied()
                .filter(|(id, t)| *t == cursor.since_ms && *id > after)
                .collect();
            m.sort_by_key(|(id, _)| *id);
            m
        }
        None => {
            let mut m: Vec<_> = records
                .iter()
                .copied()
                .filter(|(_, t)| *t >= cursor.since_ms && cursor.until_ms.is_none_or(|u| *t < u))
                .collect();
            m.sort_by_key(|(id, t)| (*t, -id));
            m
        }
    };
    let has_more = matching.len() > limit;
    matching.truncate(limit.min(10_000));
    (
        matching.into_iter().map(|(id, t)| (id, Some(t))).collect(),
        has_more,
    )
}

fn walk(records: &[(i64, i64)], limit: usize) -> (Vec<i64>, usize) {
    let mut cursor = SearchCursor::since(0);
    let mut seen = Vec::new();
    for calls in 1..100_000 {
        let (hits, has_more) = search(records, &cursor, limit);
        let step = cursor.advance(&hits, has_more);
        seen.extend(step.fresh.iter().map(|&i| hits[i].0));
        cursor = step.next;
        if step.done {
            return (seen, calls);
        }
    }
    panic!("the walk did not terminate");
}

#[test]
fn walks_every_record_exactly_once_whatever_the_timestamp_spread() {
    let layouts: Vec<(&str, Vec<(i64, i64)>)> = vec![
        ("distinct", (1..=1000).map(|id| (id, id * 7)).collect()),
        ("pairs", (1..=1000).map(|id| (id, id / 2)).collect()),
        (
            "one timestamp",
            (1..=25_000).map(|id| (id, 1_700_000_000_000)).collect(),
        ),
        (
            "a bulk job among normal edits",
            (1..=30_000)
                .map(|id| (id, if id % 3 == 0 { 5_000 } else { id }))
                .collect(),
        ),
        ("empty", Vec::new()),
    ];
    for (name, records) in layouts {
        let (mut seen, calls) = walk(&records, 200);
        let returned = seen.len();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), returned, "{name}: duplicates");
        assert_eq!(seen.len(), records.len(), "{name}: missed records");
        // Not much more than one call per 200 records.
        assert!(
            calls <= records.len() / 200 + 4 + records.len() / 200 / 10,
            "{name}: {calls} calls"
        );
    }
}

#[test]
fn rewinding_starts_a_fresh_window() {
    let mut cursor = SearchCursor::since(10_000);
    cursor.seen_at_since = vec![1];
    cursor.tie_after_id = Some(5);
    assert_eq!(cursor.rewound(600), SearchCursor::since(9_400));
}

#[test]
fn long_property_lists_split_to_fit_the_url() {
    let names: Vec<String> = (0..1000).map(|i| format!("property_number_{i}")).collect();
    let (first, rest) = split_for_url(&names, 6000);
    let encoded = first.join("%2C").len();
    assert!(encoded <= 6000 && encoded > 5900, "{encoded}");
    assert_eq!(first.len() + rest.len(), 1000);
    assert_eq!(rest[0], names[first.len()]);
    let (all, none) = split_for_url(&names[..3], 6000);
    assert_eq!((all.len(), none.len()), (3, 0));
}
