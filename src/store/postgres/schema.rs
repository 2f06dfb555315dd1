//! The schema, in versions: each migration is the SQL that takes the schema from the version
//! before it to its own, applied in one transaction with the version it reaches, so a schema
//! is always exactly one version. Gateways that start at once serialize on an advisory lock.

use super::{Error, Result};

/// The migrations, oldest first; the schema's version is how many have been applied.
const MIGRATIONS: &[&str] = &[
    // 1: leadership. One row: which epoch of the lease is current and who holds it. The
    // leader writes a new epoch when it takes the lease; every write that must happen once
    // checks it (`lease::Fence`).
    "CREATE TABLE leadership (
         singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
         epoch bigint NOT NULL,
         replica text NOT NULL,
         since timestamptz NOT NULL
     );
     INSERT INTO leadership (epoch, replica, since) VALUES (0, '', now());",
    // 2: the webhook inbox. Every replica appends; redelivery detection is the unique key
    // (an event's identity digest per portal), so it holds across replicas; the leader
    // applies what is not applied yet, in `seq` order. The Webhooks Journal's cursors move
    // in the transaction that stores the events they cover.
    "CREATE TABLE inbox_events (
         seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         portal_id bigint NOT NULL,
         event_id bigint NOT NULL,
         digest bytea NOT NULL,
         received_at_ms bigint NOT NULL,
         raw text NOT NULL,
         applied boolean NOT NULL DEFAULT false,
         UNIQUE (portal_id, digest)
     );
     CREATE INDEX inbox_events_unapplied ON inbox_events (seq) WHERE NOT applied;
     CREATE INDEX inbox_events_by_event_id ON inbox_events (event_id);
     CREATE INDEX inbox_events_by_arrival ON inbox_events (received_at_ms);
     CREATE TABLE journal_cursors (
         portal_id bigint PRIMARY KEY,
         position bytea NOT NULL,
         stored bigint NOT NULL,
         duplicates bigint NOT NULL
     );",
    // 3: the mirror. A record is JSONB with its brief (what lookups and filters read) and
    // the terms it is indexed under; `record_terms` holds the terms of live records, one
    // row each, so a lookup is one index range. `kind` is `ObjectType::code`, `term_kind`
    // `TermKind::code`.
    "CREATE TABLE records (
         portal_id bigint NOT NULL,
         kind smallint NOT NULL,
         id bigint NOT NULL,
         record jsonb NOT NULL,
         brief jsonb NOT NULL,
         terms jsonb NOT NULL,
         archived boolean NOT NULL,
         PRIMARY KEY (portal_id, kind, id)
     );
     CREATE TABLE record_terms (
         portal_id bigint NOT NULL,
         kind smallint NOT NULL,
         term_kind smallint NOT NULL,
         term text NOT NULL,
         id bigint NOT NULL,
         PRIMARY KEY (portal_id, kind, term_kind, term, id)
     );
     CREATE TABLE record_counts (
         portal_id bigint NOT NULL,
         kind smallint NOT NULL,
         live bigint NOT NULL,
         PRIMARY KEY (portal_id, kind)
     );
     CREATE TABLE aliases (
         portal_id bigint NOT NULL,
         kind smallint NOT NULL,
         id bigint NOT NULL,
         survivor bigint NOT NULL,
         PRIMARY KEY (portal_id, kind, id)
     );
     CREATE TABLE associations (
         portal_id bigint NOT NULL,
         from_kind smallint NOT NULL,
         from_id bigint NOT NULL,
         to_kind smallint NOT NULL,
         to_id bigint NOT NULL,
         PRIMARY KEY (portal_id, from_kind, from_id, to_kind, to_id)
     );
     CREATE TABLE purged (
         portal_id bigint NOT NULL,
         kind smallint NOT NULL,
         id bigint NOT NULL,
         PRIMARY KEY (portal_id, kind, id)
     );
     CREATE TABLE sync_cursors (
         portal_id bigint NOT NULL,
         name text NOT NULL,
         value bytea NOT NULL,
         PRIMARY KEY (portal_id, name)
     );",
    // 4: export jobs. A header per job and a row per record (input, intent, outcome: the
    // caller's bytes); a sealed row (redacted by a privacy deletion) is never written again.
    // `export_seals` counts seals, so a worker holding rows in memory sees that one happened.
    "CREATE SEQUENCE export_job_ids;
     CREATE TABLE export_jobs (
         portal_id bigint NOT NULL,
         id bigint NOT NULL,
         header bytea NOT NULL,
         PRIMARY KEY (portal_id, id)
     );
     CREATE TABLE export_rows (
         portal_id bigint NOT NULL,
         job_id bigint NOT NULL,
         index integer NOT NULL,
         value bytea NOT NULL,
         sealed boolean NOT NULL DEFAULT false,
         PRIMARY KEY (portal_id, job_id, index)
     );
     CREATE TABLE export_seals (
         singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
         count bigint NOT NULL
     );
     INSERT INTO export_seals (count) VALUES (0);",
    // 5: reference data (owners, deal pipelines, property definitions as JSONB), the
    // connections to HubSpot (the caller's bytes; tokens in them arrive sealed) and the user
    // mappings (no portal: they describe internal users).
    "CREATE TABLE owners (
         portal_id bigint NOT NULL,
         id bigint NOT NULL,
         owner jsonb NOT NULL,
         PRIMARY KEY (portal_id, id)
     );
     CREATE TABLE pipelines (
         portal_id bigint NOT NULL,
         id text COLLATE \"C\" NOT NULL,
         pipeline jsonb NOT NULL,
         PRIMARY KEY (portal_id, id)
     );
     CREATE TABLE properties (
         portal_id bigint NOT NULL,
         kind smallint NOT NULL,
         name text COLLATE \"C\" NOT NULL,
         property jsonb NOT NULL,
         PRIMARY KEY (portal_id, kind, name)
     );
     CREATE TABLE connections (
         name text COLLATE \"C\" PRIMARY KEY,
         value bytea NOT NULL
     );
     CREATE TABLE user_mappings (
         email text COLLATE \"C\" PRIMARY KEY,
         mapping jsonb NOT NULL
     );",
    // 6: first matches: when a record was first found by a lookup, once for every replica
    // (the first row written wins), and their count per type, kept with the rows.
    "CREATE TABLE first_matches (
         portal_id bigint NOT NULL,
         kind smallint NOT NULL,
         id bigint NOT NULL,
         matched_at_ms bigint NOT NULL,
         PRIMARY KEY (portal_id, kind, id)
     );
     CREATE INDEX first_matches_by_time ON first_matches (portal_id, kind, matched_at_ms);
     CREATE TABLE match_counts (
         portal_id bigint NOT NULL,
         kind smallint NOT NULL,
         matched bigint NOT NULL,
         PRIMARY KEY (portal_id, kind)
     );",
    // 7: the outbox of notifications: per target, waiting and dead ones by sequence number
    // (one per notification, shared by its targets), the totals, and the instance number
    // that makes message ids unique across deployments.
    "CREATE SEQUENCE outbox_seq;
     CREATE TABLE outbox (
         target text COLLATE \"C\" NOT NULL,
         dead boolean NOT NULL,
         seq bigint NOT NULL,
         notification jsonb NOT NULL,
         PRIMARY KEY (target, dead, seq)
     );
     CREATE TABLE outbox_totals (
         target text COLLATE \"C\" PRIMARY KEY,
         delivered bigint NOT NULL,
         failed bigint NOT NULL,
         dropped bigint NOT NULL,
         last_error text,
         last_error_at_ms bigint,
         last_delivered_at_ms bigint
     );
     CREATE TABLE outbox_instance (
         singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
         instance bigint NOT NULL
     );
     INSERT INTO outbox_instance (instance)
         VALUES ((random() * 9223372036854775807)::bigint);",
    // 8: the gateway's own small named values (settings the console changes, the digest's
    // state), sled's `meta` tree.
    "CREATE TABLE settings (
         name text COLLATE \"C\" PRIMARY KEY,
         value bytea NOT NULL
     );",
    // 9: the inbox's counters, a row per replica (each moves its own row in its commits, so
    // replicas never wait for each other's); status shows their sums.
    "CREATE TABLE inbox_counters (
         replica text COLLATE \"C\" PRIMARY KEY,
         received bigint NOT NULL,
         duplicates bigint NOT NULL,
         rejected bigint NOT NULL,
         last_received_at_ms bigint
     );",
    // 10: user mappings per portal (a deployment mirrors several). Rows from before carry
    // portal 0 until the first portal files them under its id.
    "ALTER TABLE user_mappings ADD COLUMN portal_id bigint NOT NULL DEFAULT 0;
     ALTER TABLE user_mappings DROP CONSTRAINT user_mappings_pkey;
     ALTER TABLE user_mappings ADD PRIMARY KEY (portal_id, email);",
    // 11: the inbox as a row per request, redeliveries dropped by the leader when it applies
    // (`inbox_seen`: the events applied, by portal and identity digest) instead of a unique
    // key per stored event, which cost an acknowledgement most of its time. Events from
    // before become requests of one event; the applied ones are what redelivery detection
    // knows. Raw events compress with lz4 where the server has it (cheaper than pglz).
    "CREATE TABLE inbox_requests (
         seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         received_at_ms bigint NOT NULL,
         journal_portal bigint,
         portal_ids bigint[] NOT NULL,
         event_ids bigint[] NOT NULL,
         digests bytea[] NOT NULL,
         raws text[] NOT NULL,
         applied boolean NOT NULL DEFAULT false
     );
     CREATE INDEX inbox_requests_unapplied ON inbox_requests (seq) WHERE NOT applied;
     CREATE INDEX inbox_requests_by_arrival ON inbox_requests (received_at_ms);
     DO $$ BEGIN
         ALTER TABLE inbox_requests ALTER COLUMN raws SET COMPRESSION lz4;
     EXCEPTION WHEN feature_not_supported THEN NULL;
     END $$;
     CREATE TABLE inbox_seen (
         portal_id bigint NOT NULL,
         digest bytea NOT NULL,
         received_at_ms bigint NOT NULL,
         PRIMARY KEY (portal_id, digest)
     );
     CREATE INDEX inbox_seen_by_arrival ON inbox_seen (received_at_ms);
     INSERT INTO inbox_requests (received_at_ms, portal_ids, event_ids, digests, raws, applied)
         SELECT received_at_ms, ARRAY[portal_id], ARRAY[event_id], ARRAY[digest], ARRAY[raw],
                applied
         FROM inbox_events ORDER BY seq;
     INSERT INTO inbox_seen (portal_id, digest, received_at_ms)
         SELECT portal_id, digest, received_at_ms FROM inbox_events WHERE applied;
     DROP TABLE inbox_events;",
];

/// This build's schema version.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The advisory lock key migrations hold (an arbitrary constant: "hsgw" and 1).
const MIGRATION_LOCK: i64 = 0x6873_6777_0000_0001;

/// What [`migrate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    pub from: u32,
    pub to: u32,
}

/// Creates the schema or upgrades it to [`SCHEMA_VERSION`]; refuses a newer one.
pub async fn migrate(client: &mut tokio_postgres::Client) -> Result<Migrated> {
    migrate_to(client, SCHEMA_VERSION).await
}

/// Creates the schema or upgrades it to `target` (tests start from an older version).
pub(super) async fn migrate_to(
    client: &mut tokio_postgres::Client,
    target: u32,
) -> Result<Migrated> {
    let transaction = client.transaction().await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS gateway_schema (
                 singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                 version integer NOT NULL,
                 upgraded_at timestamptz NOT NULL
             )",
        )
        .await?;
    let from = version(&transaction).await?;
    if from > SCHEMA_VERSION {
        return Err(Error::TooNew { found: from });
    }
    let target = target.max(from);
    for sql in &MIGRATIONS[from as usize..target as usize] {
        transaction.batch_execute(sql).await?;
    }
    let to = i32::try_from(target).expect("a few migrations");
    transaction
        .execute(
            "INSERT INTO gateway_schema (version, upgraded_at) VALUES ($1, now())
             ON CONFLICT (singleton) DO UPDATE SET version = $1, upgraded_at = now()
             WHERE gateway_schema.version <> $1",
            &[&to],
        )
        .await?;
    transaction.commit().await?;
    Ok(Migrated { from, to: target })
}

/// The schema's version; 0 before the first migration.
pub async fn version(client: &impl tokio_postgres::GenericClient) -> Result<u32> {
    let exists: bool = client
        .query_one("SELECT to_regclass('gateway_schema') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let row = client
        .query_opt("SELECT version FROM gateway_schema", &[])
        .await?;
    let version: i32 = row.map_or(0, |row| row.get(0));
    u32::try_from(version).map_err(|_| Error::Refused(format!("schema version {version}")))
}

/// Refuses a schema that is not this build's (a replica checks before it leads).
pub async fn expect_current(client: &impl tokio_postgres::GenericClient) -> Result<()> {
    match version(client).await? {
        SCHEMA_VERSION => Ok(()),
        found if found > SCHEMA_VERSION => Err(Error::TooNew { found }),
        found => Err(Error::TooOld { found }),
    }
}
