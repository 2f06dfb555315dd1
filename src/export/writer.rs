//! The export worker: runs queued jobs one at a time (so two jobs exporting the same email
//! or domain create one record: the second sees the first's writes in the mirror), plans
//! each record, writes creates and updates in batches of at most 100, and resumes a job
//! after a crash by reconciling what HubSpot did with every create it may have sent.

pub mod crash;
mod create;
mod reconcile;
mod stall;
mod update;

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::context::Context;
use super::job::{self, Header, Outcome, Problem, Row, State};
use super::plan::{Action, Plan};
use super::Exporter;
use crate::hubspot::{self, Fault, WRITE_BATCH_LIMIT};
use crate::ownership::{Fallback, UserMap};
use crate::store::{self, Store, Term};
use crate::sync::{self, Syncer};
use crate::time::now_ms;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    HubSpot(#[from] hubspot::Error),
    #[error(transparent)]
    Sync(#[from] sync::Error),
    #[error("export {0} does not exist")]
    NoSuchJob(u64),
    #[error("record {0} named by a 409 could not be read back")]
    Vanished(i64),
    #[error("some records of the job have no outcome yet")]
    Incomplete,
}

/// How long a job may keep failing with errors a retry can fix (HubSpot unavailable,
/// timeouts, rate limits, store errors) with no record getting a result, before it fails with
/// `retries_exhausted` and the next job runs. Counted across restarts (`Header::stalled`).
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(3600);
/// Which client writes the records a user exports: `Ok(None)`, the service connection's
/// (the syncer's); `Ok(Some)`, the user's own; `Err`, why the user's records cannot be
/// written (each then fails with that problem). The `connection` module decides.
pub type ClientFor = Arc<dyn Fn(&str) -> Result<Option<hubspot::Client>, Problem> + Send + Sync>;

/// What the worker writes with.
pub struct Writer {
    pub syncer: Arc<Syncer>,
    pub fallback: Fallback,
    pub exporter: Arc<Exporter>,
    /// See [`GIVE_UP_AFTER`].
    pub give_up_after: Duration,
    /// `None`: every job is written with the service connection.
    pub client_for: Option<ClientFor>,
}

impl Error {
    /// The job's `error.code` when retrying cannot help: HubSpot refused the token, its
    /// scopes, the client's configuration or the request itself.
    pub fn fatal_code(&self) -> Option<&'static str> {
        let (Error::HubSpot(error) | Error::Sync(sync::Error::HubSpot(error))) = self else {
            return None;
        };
        match error {
            hubspot::Error::MissingScopes { .. } => Some("missing_scopes"),
            hubspot::Error::Unauthorized { .. }
            | hubspot::Error::ReinstallNeeded { .. }
            | hubspot::Error::BadClientCredentials { .. } => Some("unauthorized"),
            hubspot::Error::Forbidden { .. } => Some("forbidden"),
            error => match error.fault() {
                Fault::Config => Some("hubspot_config"),
                Fault::Request => Some("hubspot_rejected"),
                _ => None,
            },
        }
    }
}

/// How long a writer with nothing to do waits before looking for jobs again (between half
/// and one and a half times this, by portal), unless woken.
const IDLE: Duration = Duration::from_secs(30);

/// Runs jobs until shutdown. A job that hits a transient failure is resumed after a growing
/// pause (the reason shows as `waiting` on the job); one that makes no progress for
/// `give_up_after`, or hits a failure no retry can fix, fails and the next job runs.
pub async fn run(writer: Writer, shutdown: CancellationToken) {
    let mut stall = None;
    // A job submitted here wakes the writer, and so does one submitted at another replica
    // (on PostgreSQL, announced by a NOTIFY; see `daemon::export_worker::wake_on_new_jobs`).
    // Looking again now and then covers what a broken listening session might miss, each
    // portal at its own pace: the workers of many portals, started together, would
    // otherwise all read the store at the same moments.
    let idle = IDLE.mul_f64(crate::time::phase(writer.portal()));
    loop {
        let pause = match writer.run_pending(&shutdown).await {
            Ok(()) => {
                stall = None;
                writer.exporter.set_waiting(None);
                idle
            }
            Err(error) => writer.after_failure(&mut stall, &error),
        };
        tokio::select! {
            () = writer.exporter.wake.notified() => {}
            () = tokio::time::sleep(pause) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// The state of the job being run.
struct Job {
    id: u64,
    header: Header,
    rows: Vec<Row>,
    context: Context,
    owner: Result<i64, String>,
    /// Writes (and reads back) this job's records: the service's or its user's connection.
    client: hubspot::Client,
    /// Rows with a new outcome not yet saved.
    dirty: Vec<u32>,
    /// The store's count of sealed rows when this job last looked (see `take_sealed`).
    seals: u64,
}

impl Job {
    fn finish(&mut self, index: u32, outcome: Outcome) {
        self.rows[index as usize].outcome = Some(outcome);
        self.dirty.push(index);
    }

    /// Row `index` is `created` as record `id`, with the duplicates known when it was sent.
    fn settle_created(&mut self, index: u32, id: i64) {
        let duplicates = self.rows[index as usize].known_at_intent.clone();
        let outcome = create::created_outcome(id, self.owner.as_ref().ok().copied(), duplicates);
        self.finish(index, outcome);
    }
}

/// Creates and updates waiting to be sent.
#[derive(Default)]
struct Batch {
    creates: Vec<(u32, Plan)>,
    keys: HashSet<Term>,
    updates: Vec<(u32, Plan)>,
}

impl Writer {
    fn store(&self) -> &Store {
        self.syncer.store()
    }

    fn portal(&self) -> i64 {
        self.syncer.portal
    }

    /// The writer the daemon and the CLI use.
    pub fn new(syncer: Arc<Syncer>, fallback: Fallback, exporter: Arc<Exporter>) -> Writer {
        Writer {
            syncer,
            fallback,
            exporter,
            give_up_after: GIVE_UP_AFTER,
            client_for: None,
        }
    }

    /// Runs every unfinished job, oldest first. A job hitting a failure no retry can fix
    /// (see [`Error::fatal_code`]) is failed and the next one runs; a transient failure
    /// stops here (the job stays unfinished and resumes at the next call).
    pub async fn run_pending(&self, shutdown: &CancellationToken) -> Result<(), Error> {
        while let Some(id) = job::next_unfinished(self.store(), self.portal())? {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            let Err(error) = self.run_job(id, shutdown).await else {
                continue;
            };
            let Some(code) = error.fatal_code() else {
                return Err(error);
            };
            tracing::error!(export = id, code, %error, "export failed: retrying cannot help");
            let problem = Problem {
                code: code.into(),
                message: error.to_string(),
                property: None,
            };
            job::fail(self.store(), self.portal(), id, problem)?;
        }
        Ok(())
    }

    async fn run_job(&self, id: u64, shutdown: &CancellationToken) -> Result<(), Error> {
        let (store, portal) = (self.store(), self.portal());
        self.exporter.set_waiting(None);
        let mut header = job::header(store, portal, id)?.ok_or(Error::NoSuchJob(id))?;
        if header.state != State::Running {
            header.state = State::Running;
            job::save_header(store, portal, id, &header)?;
        }
        let seals = store.exports().seals()?;
        let rows = job::rows(store, portal, id)?;
        let context = Context::load(store, portal, header.kind, &self.exporter.config)?;
        let owner = UserMap { store, portal }
            .resolve(&header.user_email, &self.fallback)
            .map(|(owner, _)| owner)
            .map_err(|error| error.to_string());
        let writes_with = match &self.client_for {
            Some(client_for) => client_for(&header.user_email),
            None => Ok(None),
        };
        let mut job = Job {
            id,
            header,
            rows,
            context,
            owner,
            client: self.syncer.client.clone(),
            dirty: Vec::new(),
            seals,
        };
        let worked = match writes_with {
            Ok(client) => {
                job.client = client.unwrap_or(job.client);
                self.reconcile_and_work(&mut job, shutdown).await
            }
            Err(problem) => self.refuse_user(&mut job, &problem).await,
        };
        if let Err(error) = worked {
            // Results already known (e.g. a batch created before a later call failed) are
            // kept, so neither a resume nor a failed job reports them as unknown.
            if let Err(unsaved) = self.save_dirty(&mut job) {
                tracing::warn!(error = %unsaved, "cannot save the export's latest results");
            }
            return Err(error);
        }
        if shutdown.is_cancelled() {
            return Ok(());
        }
        if job.rows.iter().any(|row| row.outcome.is_none()) {
            return Err(Error::Incomplete);
        }
        job.header.state = State::Done;
        job.header.finished_at_ms = Some(now_ms());
        job::save_header(store, portal, id, &job.header)?;
        tracing::info!(export = id, total = job.header.total, "export finished");
        Ok(())
    }

    /// The job's user has no usable connection: creates of unknown outcome are still looked
    /// up (with the service connection: reads only), every other record fails with `problem`.
    async fn refuse_user(&self, job: &mut Job, problem: &Problem) -> Result<(), Error> {
        self.reconcile(job).await?;
        let open: Vec<u32> = (0..job.rows.len() as u32)
            .filter(|i| job.rows[*i as usize].outcome.is_none())
            .collect();
        for index in open {
            let outcome = Outcome::failed(&problem.code, &problem.message, None, Vec::new());
            job.finish(index, outcome);
        }
        tracing::warn!(export = job.id, code = %problem.code, "export records failed: {}", problem.message);
        self.save_dirty(job)
    }

    async fn reconcile_and_work(
        &self,
        job: &mut Job,
        shutdown: &CancellationToken,
    ) -> Result<(), Error> {
        self.reconcile(job).await?;
        let queue: VecDeque<u32> = (0..job.rows.len() as u32)
            .filter(|i| job.rows[*i as usize].outcome.is_none())
            .collect();
        self.work(job, queue, shutdown).await
    }

    /// Plans each queued row and sends creates and updates in batches.
    async fn work(
        &self,
        job: &mut Job,
        mut queue: VecDeque<u32>,
        shutdown: &CancellationToken,
    ) -> Result<(), Error> {
        let mut batch = Batch::default();
        loop {
            let Some(index) = queue.pop_front() else {
                self.flush(job, &mut batch, &mut queue).await?;
                if queue.is_empty() {
                    return Ok(());
                }
                continue;
            };
            if shutdown.is_cancelled() {
                // The job stays `running` and resumes at the next start.
                return self.flush(job, &mut batch, &mut queue).await;
            }
            self.take_sealed(job, &mut batch)?;
            let row = &job.rows[index as usize];
            if row.outcome.is_some() {
                continue;
            }
            let plan = job
                .context
                .plan(self.store(), &row.fields, row.on_duplicate)?;
            // A row whose create was sent before is settled by its own record, if the
            // mirror holds it, before the plan may take that record for a duplicate.
            if let Some(id) = self.own_record(job, index, &plan.duplicates)? {
                job.settle_created(index, id);
                continue;
            }
            match plan.action {
                Action::Create => {
                    let keys = job.context.keys(&row.fields);
                    // A record sharing a key with one in this batch waits until that one
                    // is written, then sees it as its duplicate.
                    if keys.iter().any(|key| batch.keys.contains(key)) {
                        self.flush(job, &mut batch, &mut queue).await?;
                        queue.push_front(index);
                        continue;
                    }
                    if let Err(message) = &job.owner {
                        let outcome = Outcome::failed("no_owner", message, None, plan.duplicates);
                        job.finish(index, outcome);
                        continue;
                    }
                    batch.keys.extend(keys);
                    batch.creates.push((index, plan));
                }
                Action::Update { id } => {
                    let same = |(_, p): &(u32, Plan)| p.action == Action::Update { id };
                    if batch.updates.iter().any(same) {
                        self.flush(job, &mut batch, &mut queue).await?;
                        queue.push_front(index);
                        continue;
                    }
                    batch.updates.push((index, plan));
                }
                Action::Skip { .. } | Action::Fail(_) => {
                    job.finish(index, Outcome::planned(&plan, None));
                }
            }
            if batch.creates.len() >= WRITE_BATCH_LIMIT || batch.updates.len() >= WRITE_BATCH_LIMIT
            {
                self.flush(job, &mut batch, &mut queue).await?;
            }
        }
    }

    /// Sends what is batched; rows a 409 sends back are queued first for planning again.
    async fn flush(
        &self,
        job: &mut Job,
        batch: &mut Batch,
        queue: &mut VecDeque<u32>,
    ) -> Result<(), Error> {
        self.take_sealed(job, batch)?;
        let creates = std::mem::take(&mut batch.creates);
        batch.keys.clear();
        if !creates.is_empty() {
            let replan = self.create(job, creates).await?;
            // Saved before the updates are sent: a crash then finds the creates settled.
            self.save_dirty(job)?;
            for index in replan.into_iter().rev() {
                queue.push_front(index);
            }
        }
        let updates = std::mem::take(&mut batch.updates);
        if !updates.is_empty() {
            self.update(job, updates).await?;
        }
        self.save_dirty(job)
    }

    /// Rows a privacy deletion sealed since the job last looked: the stored, redacted row
    /// (which has a result) replaces the one in memory, and leaves the batch unsent.
    fn take_sealed(&self, job: &mut Job, batch: &mut Batch) -> Result<(), Error> {
        let seals = self.store().exports().seals()?;
        if seals == job.seals {
            return Ok(());
        }
        job.seals = seals;
        let sealed = job::rows_sealed(self.store(), self.portal(), job.id)?;
        for (index, row) in sealed {
            batch.creates.retain(|(i, _)| *i != index);
            batch.updates.retain(|(i, _)| *i != index);
            job.dirty.retain(|i| *i != index);
            if let Some(held) = job.rows.get_mut(index as usize) {
                *held = row;
            }
        }
        Ok(())
    }

    fn save_dirty(&self, job: &mut Job) -> Result<(), Error> {
        if job.dirty.is_empty() {
            return Ok(());
        }
        crash::point(crash::Step::BeforeSave);
        let dirty = std::mem::take(&mut job.dirty);
        let rows: Vec<(u32, &Row)> = dirty.iter().map(|i| (*i, &job.rows[*i as usize])).collect();
        job::save_rows(self.store(), self.portal(), job.id, &rows)?;
        Ok(())
    }
}
