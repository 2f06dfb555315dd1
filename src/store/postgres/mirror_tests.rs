//! One scenario of mirror writes carried out by sled's mirror and by PostgreSQL's, with every
//! read compared after each step: the two backends answer alike. A few absolute checks make
//! sure the scenario exercises what it names (a lookup hit, an archive hiding a record, a
//! merge, a purge, associations both ways).

use std::collections::{BTreeSet, HashMap, HashSet};

use super::tests::{depose, leading_database};
use super::Mirror;
use crate::object::ObjectType::{self, Companies, Contacts};
use crate::store::{Brief, Record, Store, Term, TermKind, Write};

const PORTAL: i64 = 62515;

fn upsert(id: i64, email: &str, owner: &str, archived: bool) -> Write {
    let mut record = Record {
        id,
        updated_at_ms: 1_000 + id,
        archived,
        ..Record::default()
    };
    record.properties.insert("email".into(), email.into());
    record
        .properties
        .insert("hubspot_owner_id".into(), owner.into());
    let mut terms = vec![Term::new(TermKind::Email, email)];
    if let Some((_, domain)) = email.split_once('@') {
        terms.push(Term::new(TermKind::Domain, domain));
    }
    if !owner.is_empty() {
        terms.push(Term::new(TermKind::Owner, owner));
    }
    let brief = Brief {
        id,
        name: email.into(),
        primary: email.into(),
        owner: owner.into(),
        updated_at_ms: record.updated_at_ms,
        archived,
        ..Brief::default()
    };
    Write::Upsert {
        record,
        terms,
        brief: Box::new(brief),
    }
}

/// Everything a reader can ask of the mirror about these ids and terms, as text.
async fn observe_sled(store: &Store, ids: &[i64], terms: &[Term]) -> String {
    let mirror = store.mirror();
    let mut seen = String::new();
    for kind in [Contacts, Companies] {
        seen += &format!("{kind} count {}\n", mirror.count(PORTAL, kind).unwrap());
        let all: Vec<i64> = mirror.ids(PORTAL, kind).map(Result::unwrap).collect();
        seen += &format!("{kind} ids {all:?}\n");
        for &id in ids {
            seen += &format!(
                "{kind} {id}: get {:?} brief {:?} find {:?} resolve {} purged {} \
                 contacts {:?} companies {:?}\n",
                mirror.get(PORTAL, kind, id).unwrap(),
                mirror.brief(PORTAL, kind, id).unwrap(),
                mirror.find(PORTAL, kind, id).unwrap().map(|r| r.id),
                mirror.resolve(PORTAL, kind, id).unwrap(),
                mirror.is_purged(PORTAL, kind, id).unwrap(),
                mirror.associated(PORTAL, kind, id, Contacts).unwrap(),
                mirror.associated(PORTAL, kind, id, Companies).unwrap(),
            );
        }
        let many = mirror.get_many(PORTAL, kind, ids).unwrap();
        let purged = mirror.purged_among(PORTAL, kind, ids).unwrap();
        let one_by_one = |id: i64| mirror.get(PORTAL, kind, id).unwrap();
        let purged_one = |id: i64| mirror.is_purged(PORTAL, kind, id).unwrap();
        seen += &batch_reads(kind, ids, many, purged, one_by_one, purged_one);
        seen += &format!(
            "{kind} associated briefs {:?} {:?}\n",
            mirror
                .associated_briefs(PORTAL, kind, ids, Contacts)
                .unwrap(),
            mirror
                .associated_briefs(PORTAL, kind, ids, Companies)
                .unwrap(),
        );
        for term in terms {
            seen += &format!(
                "{kind} {term:?} {:?}\n",
                mirror.lookup(PORTAL, kind, term).unwrap()
            );
            seen += &format!(
                "{kind} {term:?} briefs {:?}\n",
                mirror.term_briefs(PORTAL, kind, term).unwrap()
            );
        }
    }
    seen += &format!(
        "cursor {:?}\n",
        mirror.cursor(PORTAL, "state.contacts").unwrap()
    );
    seen
}

async fn observe_postgres(mirror: &Mirror, ids: &[i64], terms: &[Term]) -> String {
    let mut seen = String::new();
    for kind in [Contacts, Companies] {
        seen += &format!(
            "{kind} count {}\n",
            mirror.count(PORTAL, kind).await.unwrap()
        );
        seen += &format!("{kind} ids {:?}\n", mirror.ids(PORTAL, kind).await.unwrap());
        for &id in ids {
            seen += &format!(
                "{kind} {id}: get {:?} brief {:?} find {:?} resolve {} purged {} \
                 contacts {:?} companies {:?}\n",
                mirror.get(PORTAL, kind, id).await.unwrap(),
                mirror.brief(PORTAL, kind, id).await.unwrap(),
                mirror.find(PORTAL, kind, id).await.unwrap().map(|r| r.id),
                mirror.resolve(PORTAL, kind, id).await.unwrap(),
                mirror.is_purged(PORTAL, kind, id).await.unwrap(),
                mirror.associated(PORTAL, kind, id, Contacts).await.unwrap(),
                mirror
                    .associated(PORTAL, kind, id, Companies)
                    .await
                    .unwrap(),
            );
        }
        let many = mirror.get_many(PORTAL, kind, ids).await.unwrap();
        let purged = mirror.purged_among(PORTAL, kind, ids).await.unwrap();
        let mut stored = HashMap::new();
        let mut purged_each = HashSet::new();
        for &id in ids {
            stored.insert(id, mirror.get(PORTAL, kind, id).await.unwrap());
            if mirror.is_purged(PORTAL, kind, id).await.unwrap() {
                purged_each.insert(id);
            }
        }
        let one_by_one = |id: i64| stored[&id].clone();
        let purged_one = |id: i64| purged_each.contains(&id);
        seen += &batch_reads(kind, ids, many, purged, one_by_one, purged_one);
        seen += &format!(
            "{kind} associated briefs {:?} {:?}\n",
            mirror
                .associated_briefs(PORTAL, kind, ids, Contacts)
                .await
                .unwrap(),
            mirror
                .associated_briefs(PORTAL, kind, ids, Companies)
                .await
                .unwrap(),
        );
        for term in terms {
            seen += &format!(
                "{kind} {term:?} {:?}\n",
                mirror.lookup(PORTAL, kind, term).await.unwrap()
            );
            seen += &format!(
                "{kind} {term:?} briefs {:?}\n",
                mirror.term_briefs(PORTAL, kind, term).await.unwrap()
            );
        }
    }
    seen += &format!(
        "cursor {:?}\n",
        mirror.cursor(PORTAL, "state.contacts").await.unwrap()
    );
    seen
}

/// The batch reads of `ids` as text, once checked against the same records read one by one
/// (`get`, `is_purged`): a page of fetched records is decided on what the batch read says.
fn batch_reads(
    kind: ObjectType,
    ids: &[i64],
    many: HashMap<i64, Record>,
    purged: HashSet<i64>,
    one_by_one: impl Fn(i64) -> Option<Record>,
    purged_one: impl Fn(i64) -> bool,
) -> String {
    for &id in ids {
        assert_eq!(many.get(&id), one_by_one(id).as_ref(), "{kind} {id}");
        assert_eq!(purged.contains(&id), purged_one(id), "{kind} {id} purged");
    }
    assert!(many.keys().chain(&purged).all(|id| ids.contains(id)));
    let stored: BTreeSet<&i64> = many.keys().collect();
    let purged: BTreeSet<&i64> = purged.iter().collect();
    format!("{kind} get_many {stored:?} purged_among {purged:?}\n")
}

/// One step of the scenario: the type written, the writes, the contacts' cursor set with them.
type Step = (ObjectType, Vec<Write>, Option<&'static [u8]>);

fn steps() -> Vec<Step> {
    vec![
        (
            Contacts,
            vec![
                upsert(1, "ann@acme.com", "101", false),
                upsert(2, "bob@acme.com", "102", false),
                upsert(3, "cy@beta.io", "", false),
                upsert(4, "old@acme.com", "101", true),
            ],
            Some(b"page-1"),
        ),
        (
            Companies,
            vec![
                upsert(50, "info@acme.com", "101", false),
                Write::ReplaceAssociations {
                    from: 50,
                    to_type: Contacts,
                    to: vec![1, 2],
                },
            ],
            None,
        ),
        (
            Contacts,
            vec![
                // Ann changes email and owner: her old terms go.
                upsert(1, "ann@newco.com", "102", false),
                Write::Archive {
                    id: 2,
                    at_ms: 5_000,
                },
                Write::Restore {
                    id: 4,
                    at_ms: 5_000,
                },
                Write::Associate {
                    from: 3,
                    to_type: Companies,
                    to: 50,
                    removed: false,
                },
            ],
            Some(b"page-2"),
        ),
        (
            Contacts,
            vec![
                // Bob merged into Cy; Ann deleted for privacy.
                Write::Remove { id: 2 },
                Write::Alias { from: 2, to: 3 },
                Write::Purge { id: 1 },
                Write::Restore {
                    id: 2,
                    at_ms: 6_000,
                },
            ],
            None,
        ),
        (
            Companies,
            vec![Write::ReplaceAssociations {
                from: 50,
                to_type: Contacts,
                to: vec![4],
            }],
            None,
        ),
        (
            Contacts,
            vec![
                // A run of replacements (one statement each on PostgreSQL), a link named
                // twice, and a record's replaced again after it.
                Write::ReplaceAssociations {
                    from: 3,
                    to_type: Companies,
                    to: vec![50, 50],
                },
                Write::ReplaceAssociations {
                    from: 4,
                    to_type: Companies,
                    to: vec![51],
                },
                Write::ReplaceAssociations {
                    from: 1,
                    to_type: Companies,
                    to: vec![51],
                },
                Write::ReplaceAssociations {
                    from: 4,
                    to_type: Companies,
                    to: vec![50],
                },
            ],
            None,
        ),
    ]
}

#[tokio::test]
async fn sled_and_postgres_mirror_the_same_writes_alike() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (database, fence) = leading_database().await;
    let postgres = Mirror::new(database);

    let ids = [1, 2, 3, 4, 50];
    let terms = [
        Term::new(TermKind::Email, "ann@acme.com"),
        Term::new(TermKind::Email, "ann@newco.com"),
        Term::new(TermKind::Domain, "acme.com"),
        Term::new(TermKind::Domain, "beta.io"),
        Term::new(TermKind::Owner, "101"),
        Term::new(TermKind::Owner, "102"),
    ];
    let mut observed = Vec::new();
    for (step, (kind, writes, cursor)) in steps().into_iter().enumerate() {
        let cursor = cursor.map(|value| ("state.contacts", value));
        {
            let writing = store.mirror().lock_writes(PORTAL).await;
            writing.write(kind, &writes, cursor).unwrap();
        }
        postgres
            .write(fence, PORTAL, kind, &writes, cursor)
            .await
            .unwrap();
        let sled = observe_sled(&store, &ids, &terms).await;
        let pg = observe_postgres(&postgres, &ids, &terms).await;
        assert_eq!(sled, pg, "the backends differ after step {step}");
        observed.push(pg);
    }

    // The scenario did what it says.
    let lookup = |step: usize, line: &str| observed[step].contains(line);
    assert!(lookup(
        0,
        "contacts Term { kind: Domain, value: \"acme.com\" } [1, 2]\n"
    ));
    assert!(
        lookup(0, "contacts count 3\n"),
        "the archived one is not counted"
    );
    assert!(lookup(1, "companies 50: get Some") && lookup(1, "contacts [1, 2] companies []\n"));
    assert!(lookup(
        2,
        "contacts Term { kind: Domain, value: \"acme.com\" } [4]\n"
    ));
    assert!(lookup(
        2,
        "contacts Term { kind: Domain, value: \"acme.com\" } briefs [Brief { id: 4,"
    ));
    assert!(lookup(
        2,
        "contacts Term { kind: Owner, value: \"102\" } [1]\n"
    ));
    assert!(lookup(
        3,
        "contacts 1: get None brief None find None resolve 1 purged true"
    ));
    assert!(lookup(
        3,
        "contacts 2: get None brief None find Some(3) resolve 3 purged false"
    ));
    assert!(lookup(
        2,
        "contacts get_many {1, 2, 3, 4} purged_among {}\n"
    ));
    assert!(lookup(3, "contacts get_many {3, 4} purged_among {1}\n"));
    assert!(lookup(4, "companies get_many {50} purged_among {}\n"));
    assert!(lookup(4, "companies 50: get Some") && lookup(4, "contacts [4] companies []\n"));
    assert!(lookup(4, "cursor Some([112, 97, 103, 101, 45, 50])\n"));
    assert!(
        lookup(5, "contacts [3, 4] companies []\n"),
        "{}",
        observed[5]
    );
    let replaced_twice = observed[5]
        .lines()
        .find(|line| line.starts_with("contacts 4:"));
    assert!(
        replaced_twice.unwrap().ends_with(" companies [50]"),
        "the second replacement of a record's links in one write is what stays"
    );
}

#[tokio::test]
async fn a_write_with_an_old_epoch_changes_nothing() {
    let (database, fence) = leading_database().await;
    let mirror = Mirror::new(database.clone());
    mirror
        .write(
            fence,
            PORTAL,
            Contacts,
            &[upsert(1, "a@b.c", "", false)],
            None,
        )
        .await
        .unwrap();
    depose(&database).await;
    let refused = mirror
        .write(
            fence,
            PORTAL,
            Contacts,
            &[upsert(2, "d@e.f", "", false)],
            Some(("c", b"x")),
        )
        .await;
    assert!(
        matches!(refused, Err(super::Error::Fenced { .. })),
        "{refused:?}"
    );
    assert_eq!(mirror.ids(PORTAL, Contacts).await.unwrap(), [1]);
    assert_eq!(mirror.cursor(PORTAL, "c").await.unwrap(), None);
}
