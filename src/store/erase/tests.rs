//! `Store::erase_portal` on both backends: two portals filled alike, one erased. Every read
//! then answers for the erased portal as for one never seen, the other portal's answers and
//! stored data are unchanged, a second erase finds nothing, and no key (sled) or row
//! (PostgreSQL) anywhere still names the erased portal, nor any notification (by its body):
//! a tree or table added later without its erase fails here.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;

use super::super::record::decode;
use super::super::tests::{brief_of, open};
use super::super::{
    keys, postgres, Error, MappingSource, Notice, Notification, Owner, Pipeline, PropertyDef,
    Record, Role, Settled, Store, Subject, Term, TermKind, UserMapping, Write,
};
use super::Erased;
use crate::kit::postgres::Cluster;
use crate::object::ObjectType::{self, Companies, Contacts};

/// Ids whose key bytes appear in no other key of the scenario (see `naming_erased`).
const ERASED: i64 = 7_000_001;
const KEPT: i64 = 7_000_002;
const NEVER_SEEN: i64 = 7_000_003;

const IDS: [i64; 6] = [1, 2, 3, 4, 5, 10];
/// The notification targets, both configured before the portals are filled.
pub(super) const TARGETS: [&str; 2] = ["t", "u"];
const CURSOR: &str = "contacts.backfill";
const EMAIL: &str = "ann@corp.io";

fn terms() -> [Term; 4] {
    [
        Term::new(TermKind::Email, "a@x.io"),
        Term::new(TermKind::Domain, "x.io"),
        Term::new(TermKind::Name, "ann"),
        Term::new(TermKind::Owner, "501"),
    ]
}

fn upsert(kind: ObjectType, id: i64, email: &str) -> Write {
    let mut record = Record {
        id,
        updated_at_ms: 1_000 + id,
        ..Record::default()
    };
    for (name, value) in [
        ("email", email),
        ("firstname", "ann"),
        ("hubspot_owner_id", "501"),
    ] {
        record.properties.insert(name.into(), value.into());
    }
    let domain = email.split_once('@').map_or("", |(_, domain)| domain);
    Write::Upsert {
        brief: Box::new(brief_of(kind, &record)),
        record,
        terms: vec![
            Term::new(TermKind::Email, email),
            Term::new(TermKind::Domain, domain),
            Term::new(TermKind::Name, "ann"),
            Term::new(TermKind::Owner, "501"),
        ],
    }
}

/// A notification about contact `id` of `portal` for every target in [`TARGETS`], its body
/// shaped as the contract's.
pub(super) fn notice(portal: i64, id: i64) -> Notice {
    Notice {
        targets: TARGETS.iter().map(|target| Arc::from(*target)).collect(),
        event: "record.created",
        subject: Subject::record(Contacts, id),
        body: format!(
            "{{\"type\":\"record.created\",\"data\":{{\"portal_id\":{portal},\"id\":\"{id}\"}}}}"
        )
        .into_bytes(),
    }
}

/// Queues the notification `notice(portal, id)` of each of `ids`, in one mirror write.
pub(super) fn queue(store: &Store, portal: i64, ids: &[i64]) {
    let notices: Vec<Notice> = ids.iter().map(|id| notice(portal, *id)).collect();
    // Uncontended in these tests: the lock is had at once.
    let writing = store.mirror().lock_writes(portal).now_or_never().unwrap();
    writing
        .write_notifying(Contacts, &[], None, &notices, 1_000)
        .unwrap();
}

/// The waiting notifications of `target` about `portal`, oldest first.
pub(super) fn waiting_of(store: &Store, target: &str, portal: i64) -> Vec<(u64, Notification)> {
    let waiting = store.outbox().waiting(target, 0, 1_000).unwrap();
    waiting
        .into_iter()
        .filter(|(_, row)| row.portal() == Some(portal))
        .collect()
}

fn owner(id: i64) -> Owner {
    Owner {
        id,
        email: format!("owner{id}@corp.io"),
        updated_at_ms: 1_000,
        ..Owner::default()
    }
}

/// Everything of one kind the store keeps for `portal`: records (live, archived, merged,
/// purged) with terms and an association, a sync cursor, reference data, a stored first
/// match, a user mapping, an export job with a sealed row, a journal cursor, notifications
/// for every target (one of them dead). Returns the job.
fn fill(store: &Store, portal: i64) -> u64 {
    let mirror = store.mirror();
    let contacts = [
        upsert(Contacts, 1, "a@x.io"),
        upsert(Contacts, 2, "b@x.io"),
        upsert(Contacts, 3, "c@x.io"),
        Write::Archive {
            id: 3,
            at_ms: 2_000,
        },
        upsert(Contacts, 5, "e@x.io"),
        Write::Purge { id: 5 },
        Write::Alias { from: 4, to: 1 },
        Write::Associate {
            from: 1,
            to_type: Companies,
            to: 10,
            removed: false,
        },
    ];
    let cursor = Some((CURSOR, &b"page-7"[..]));
    mirror.write(portal, Contacts, &contacts, cursor).unwrap();
    let companies = [upsert(Companies, 10, "info@x.io")];
    mirror.write(portal, Companies, &companies, None).unwrap();

    let reference = store.reference();
    reference
        .replace_owners(portal, &[owner(501), owner(502)])
        .unwrap();
    let pipeline = Pipeline {
        id: "sales".into(),
        label: "Sales".into(),
        ..Pipeline::default()
    };
    reference.replace_pipelines(portal, &[pipeline]).unwrap();
    for kind in [Contacts, Companies] {
        let property = PropertyDef {
            name: "email".into(),
            value_type: "string".into(),
            ..PropertyDef::default()
        };
        reference
            .replace_properties(portal, kind, &[property])
            .unwrap();
    }

    let ownership = store.ownership();
    ownership.matched_at(portal, Contacts, 1, 100).unwrap();
    store.write_matches().unwrap();
    let mapping = UserMapping {
        email: EMAIL.into(),
        owner_id: Some(501),
        source: MappingSource::Manual,
    };
    ownership.set_mapping(portal, &mapping).unwrap();

    let exports = store.exports();
    let job = exports.next_id().unwrap();
    let rows = [(0, b"row 0".to_vec()), (1, b"row 1".to_vec())];
    exports.write(portal, job, Some(b"header"), &rows).unwrap();
    exports
        .seal_rows(portal, job, &[(1, b"redacted".to_vec())])
        .unwrap();

    store
        .journal()
        .annotate(portal, b"journal position")
        .unwrap();

    // Configured again for the second portal: the same targets, nothing deleted.
    let targets = TARGETS.map(|target| (target.to_owned(), 100));
    store.outbox().configure(&targets).unwrap();
    queue(store, portal, &[1, 2]);
    let (seq, row) = waiting_of(store, "t", portal).remove(0);
    let dead = Settled::Dead { seq, row };
    assert!(store.outbox().settle("t", &[dead]).unwrap().is_empty());
    job
}

/// Every read of the store about `portal` (and the export jobs `jobs`), as text that does
/// not name the portal: equal for two portals the store answers alike.
fn observe(store: &Store, portal: i64, jobs: &[u64]) -> String {
    let mut seen = String::new();
    let mirror = store.mirror();
    for kind in [Contacts, Companies] {
        let ids: Vec<i64> = mirror.ids(portal, kind).map(Result::unwrap).collect();
        seen += &format!(
            "{kind}: count {} ids {ids:?}\n",
            mirror.count(portal, kind).unwrap()
        );
        for id in IDS {
            seen += &format!(
                "{kind} {id}: get {:?} brief {:?} find {:?} resolve {} purged {} \
                 companies {:?} {:?} contacts {:?}\n",
                mirror.get(portal, kind, id).unwrap(),
                mirror.brief(portal, kind, id).unwrap(),
                mirror.find(portal, kind, id).unwrap(),
                mirror.resolve(portal, kind, id).unwrap(),
                mirror.is_purged(portal, kind, id).unwrap(),
                mirror.associated(portal, kind, id, Companies).unwrap(),
                mirror
                    .associated_exact(portal, kind, id, Companies)
                    .unwrap(),
                mirror.associated(portal, kind, id, Contacts).unwrap(),
            );
        }
        for term in terms() {
            seen += &format!(
                "{kind} {term:?}: {:?} {:?}\n",
                mirror.lookup(portal, kind, &term).unwrap(),
                mirror.term_briefs(portal, kind, &term).unwrap(),
            );
        }
    }
    seen += &format!("cursor {:?}\n", mirror.cursor(portal, CURSOR).unwrap());

    let reference = store.reference();
    seen += &format!(
        "owners {:?} owner {:?} shared {:?} pipelines {:?}\n",
        reference.owners(portal).unwrap(),
        reference.owner(portal, 501).unwrap(),
        reference.shared_owner(portal, 502).unwrap(),
        reference.pipelines(portal).unwrap(),
    );
    let ownership = store.ownership();
    for kind in [Contacts, Companies] {
        seen += &format!(
            "{kind}: properties {:?} matched {} {:?}\n",
            reference.properties(portal, kind).unwrap(),
            ownership.matched_count(portal, kind).unwrap(),
            ownership
                .matched_between(portal, kind, 0, i64::MAX)
                .unwrap(),
        );
    }
    seen += &format!(
        "mappings {:?} {:?}\n",
        ownership.mappings(portal).unwrap(),
        ownership.mapping(portal, EMAIL).unwrap(),
    );

    let exports = store.exports();
    seen += &format!("jobs {:?}\n", exports.headers(portal, 10).unwrap());
    for &job in jobs {
        seen += &format!(
            "job {job}: {:?} {:?} sealed {:?}\n",
            exports.header(portal, job).unwrap(),
            exports.rows(portal, job).unwrap(),
            exports.sealed(portal, job).unwrap(),
        );
    }
    let journal = store.journal();
    let listed: Vec<_> = journal
        .all()
        .unwrap()
        .into_iter()
        .filter(|(of, _)| *of == portal)
        .map(|(_, cursor)| cursor)
        .collect();
    seen += &format!("journal {:?} {listed:?}\n", journal.get(portal).unwrap());
    for target in TARGETS {
        let waiting: Vec<_> = waiting_of(store, target, portal)
            .into_iter()
            .map(|(_, row)| (row.event, row.subject, row.attempts))
            .collect();
        seen += &format!("notifications to {target}: {waiting:?}\n");
    }
    seen
}

/// Fills both portals alike, with a first match of each still pending on sled; returns
/// their export jobs.
fn fill_both(store: &Store) -> [u64; 2] {
    let jobs = [fill(store, ERASED), fill(store, KEPT)];
    for portal in [ERASED, KEPT] {
        store
            .ownership()
            .matched_at(portal, Contacts, 2, 200)
            .unwrap();
    }
    jobs
}

/// Erases the first portal and checks what every reader sees, and that a second erase
/// finds nothing.
async fn erase_and_check(store: &Store, jobs: &[u64]) {
    let never_seen = observe(store, NEVER_SEEN, jobs);
    let kept = observe(store, KEPT, jobs);
    assert_ne!(
        observe(store, ERASED, jobs),
        never_seen,
        "the scenario filled nothing"
    );

    let erased = store.erase_portal(ERASED).await.unwrap();
    let expected = Erased {
        // Contacts 1, 2 and (archived) 3, company 10; 5 left only its tombstone.
        records: 4,
        // Two owners, a pipeline, a property of each type.
        reference: 5,
        // Contact 1's stored, contact 2's pending (stored at once on PostgreSQL).
        matches: 2,
        mappings: 1,
        export_jobs: 1,
        // Two to each target, one of them dead.
        notifications: 4,
        rows: erased.rows,
    };
    assert_eq!(erased, expected);
    assert!(erased.rows > 20, "{erased:?}");
    assert_eq!(observe(store, ERASED, jobs), never_seen);
    assert_eq!(observe(store, KEPT, jobs), kept);
    // The counts are the kept portal's alone: one waiting and one dead to t, two to u.
    let counts = TARGETS.map(|target| {
        let status = store.outbox().status(target).unwrap().unwrap();
        (status.pending, status.dead)
    });
    assert_eq!(counts, [(1, 1), (2, 0)]);
    assert_eq!(store.erase_portal(ERASED).await.unwrap(), Erased::default());
}

/// The sled store's every row, by tree, but those naming the erased portal.
fn sled_rows(store: &Store) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let db = &store.embedded().unwrap().db;
    let mut rows = Vec::new();
    for name in db.tree_names() {
        for row in db.open_tree(&name).unwrap().iter() {
            let (key, value) = row.unwrap();
            if !naming_erased(&key) && !notifying_erased(&name, &key, &value) {
                let tree = String::from_utf8_lossy(&name).into_owned();
                rows.push((tree, key.to_vec(), value.to_vec()));
            }
        }
    }
    rows
}

/// Whether a key names the erased portal, in either of the forms keys carry a portal in
/// (`keys::i64_key`; the user mappings' plain big-endian bytes), wherever in the key.
fn naming_erased(key: &[u8]) -> bool {
    [keys::i64_key(ERASED), ERASED.to_be_bytes()]
        .iter()
        .any(|form| key.windows(8).any(|window| window == form))
}

/// Whether a row is a notification (waiting or dead) about the erased portal: the outbox's
/// keys name no portal, the body does.
fn notifying_erased(tree: &[u8], key: &[u8], value: &[u8]) -> bool {
    tree == keys::OUTBOX_TREE.as_bytes()
        && matches!(key.first(), Some(b'q' | b'd'))
        && decode::<Notification>(value).unwrap().portal() == Some(ERASED)
}

/// The sled trees holding a key (or a notification) that names the erased portal.
fn sled_trees_naming_erased(store: &Store) -> BTreeSet<String> {
    let db = &store.embedded().unwrap().db;
    let mut trees = BTreeSet::new();
    for name in db.tree_names() {
        for row in db.open_tree(&name).unwrap().iter() {
            let (key, value) = row.unwrap();
            if naming_erased(&key) || notifying_erased(&name, &key, &value) {
                trees.insert(String::from_utf8_lossy(&name).into_owned());
            }
        }
    }
    trees
}

/// The trees the scenario writes a key of the portal to: every tree keyed by portal, and
/// the outbox.
const SLED_TREES: [&str; 17] = [
    keys::RECORDS_TREE,
    keys::BRIEFS_TREE,
    keys::INDEX_TREE,
    keys::TERMS_TREE,
    keys::ALIASES_TREE,
    keys::ASSOCIATIONS_TREE,
    keys::PURGED_TREE,
    keys::COUNTS_TREE,
    keys::CURSORS_TREE,
    keys::OWNERS_TREE,
    keys::PIPELINES_TREE,
    keys::PROPERTIES_TREE,
    keys::MATCHES_TREE,
    keys::USER_MAP_TREE,
    keys::EXPORTS_TREE,
    keys::JOURNAL_TREE,
    keys::OUTBOX_TREE,
];

#[tokio::test]
async fn erasing_a_portal_on_sled_leaves_no_key_of_it_and_the_other_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let jobs = fill_both(&store);
    let filled: BTreeSet<String> = SLED_TREES.map(String::from).into();
    assert_eq!(sled_trees_naming_erased(&store), filled);
    let others = sled_rows(&store);

    erase_and_check(&store, &jobs).await;
    assert_eq!(sled_trees_naming_erased(&store), BTreeSet::new());
    assert!(
        sled_rows(&store) == others,
        "a row of another portal changed"
    );

    // Durable, and nothing comes back from memory: after a reopen (the kept portal's pending
    // first match written first, as the daemon does at shutdown) the portal is still gone.
    store.write_matches().unwrap();
    let kept = observe(&store, KEPT, &jobs);
    let never_seen = observe(&store, NEVER_SEEN, &jobs);
    drop(store);
    let store = open(dir.path());
    assert_eq!(observe(&store, ERASED, &jobs), never_seen);
    assert_eq!(observe(&store, KEPT, &jobs), kept);
    assert_eq!(sled_trees_naming_erased(&store), BTreeSet::new());
}

/// The erase waits for the portal's mirror writer (and takes no other portal's lock).
#[tokio::test]
async fn an_erase_waits_for_the_portals_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    fill(&store, ERASED);
    let other = store.mirror().lock_writes(KEPT).await;
    let writing = store.mirror().lock_writes(ERASED).await;
    let erasing = tokio::spawn({
        let store = store.clone();
        async move { store.erase_portal(ERASED).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !erasing.is_finished(),
        "the erase did not wait for the writer"
    );
    assert_eq!(store.mirror().count(ERASED, Contacts).unwrap(), 2);
    drop(writing);
    let erased = tokio::time::timeout(Duration::from_secs(10), erasing).await;
    assert_eq!(erased.unwrap().unwrap().unwrap().records, 4);
    drop(other);
}

/// A store on PostgreSQL whose replica leads (`Following`: follows), and a connection of
/// the test's own to the same database.
pub(super) async fn postgres_store(role: Role) -> (Store, postgres::Database) {
    let url = Cluster::shared().fresh_database().await.unwrap();
    let database = postgres::Database::new(&url, 4, None).unwrap();
    database.migrate().await.unwrap();
    let role = match role {
        Role::Leading { .. } => {
            let fence = postgres::Fence::take_unheld(&database).await.unwrap();
            Role::Leading {
                epoch: fence.epoch(),
            }
        }
        Role::Following => Role::Following,
    };
    // A pool of the store's own: its connections are driven by the store's runtime.
    let pool = postgres::Database::new(&url, 4, None).unwrap();
    let (_, roles) = tokio::sync::watch::channel(role);
    (Store::open_postgres(pool, "test", roles).unwrap(), database)
}

/// The tables with a `portal_id` column, but those an erase leaves.
async fn portal_tables(database: &postgres::Database) -> Vec<String> {
    let client = database.client().await.unwrap();
    let rows = client
        .query(
            "SELECT table_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND column_name = 'portal_id'
             ORDER BY table_name",
            &[],
        )
        .await
        .unwrap();
    let tables = rows.iter().map(|row| row.get::<_, String>(0));
    tables
        .filter(|table| !postgres::erase::KEPT.contains(&table.as_str()))
        .collect()
}

/// Each table's rows of `portal`, as text, in order.
async fn postgres_rows(database: &postgres::Database, portal: i64) -> Vec<(String, Vec<String>)> {
    let client = database.client().await.unwrap();
    let mut all = Vec::new();
    for table in portal_tables(database).await {
        let sql = format!("SELECT t::text FROM {table} t WHERE portal_id = $1 ORDER BY 1");
        let rows = client.query(&sql, &[&portal]).await.unwrap();
        all.push((table, rows.iter().map(|row| row.get(0)).collect()));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_portal_on_postgres_leaves_no_row_of_it_and_the_other_untouched() {
    let (store, database) = postgres_store(Role::Leading { epoch: 0 }).await;
    let jobs = fill_both(&store);
    let filled = postgres_rows(&database, ERASED).await;
    let empty: Vec<_> = filled.iter().filter(|(_, rows)| rows.is_empty()).collect();
    assert!(empty.is_empty(), "the scenario fills no row of {empty:?}");
    let others = postgres_rows(&database, KEPT).await;

    let notifications = postgres_notifications(&database, KEPT).await;
    assert_eq!(
        postgres_notifications(&database, ERASED).await.len(),
        4,
        "two to each target, one dead"
    );

    erase_and_check(&store, &jobs).await;
    let left = postgres_rows(&database, ERASED).await;
    let left: Vec<_> = left.iter().filter(|(_, rows)| !rows.is_empty()).collect();
    assert!(left.is_empty(), "the erase left {left:?}");
    assert_eq!(postgres_rows(&database, KEPT).await, others);
    assert!(postgres_notifications(&database, ERASED).await.is_empty());
    assert_eq!(postgres_notifications(&database, KEPT).await, notifications);
}

/// The outbox's rows about `portal` (by their body), waiting and dead, as text, in order.
async fn postgres_notifications(database: &postgres::Database, portal: i64) -> Vec<String> {
    let client = database.client().await.unwrap();
    let rows = client
        .query(
            "SELECT o::text, notification FROM outbox o ORDER BY target, dead, seq",
            &[],
        )
        .await
        .unwrap();
    rows.iter()
        .filter(|row| {
            let notification: tokio_postgres::types::Json<Notification> = row.get(1);
            notification.0.portal() == Some(portal)
        })
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_erases_a_portal_on_postgres() {
    let (store, _database) = postgres_store(Role::Following).await;
    let refused = store.erase_portal(ERASED).await;
    assert!(matches!(refused, Err(Error::NotLeader(_))), "{refused:?}");
}
