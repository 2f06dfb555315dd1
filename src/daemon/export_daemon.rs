//! `hubspot-gateway export` through the running daemon: each job is one `POST /v1/exports`,
//! whose body must fit in `server.max_body_bytes`, followed until it is done.

use std::time::Duration;

use anyhow::Context as _;
use serde_json::{json, Value};

use super::commands::{about, token_with};
use super::export_file::{Finished, Sent};
use super::progress::Progress;
use crate::config::{Loaded, Scope};
use crate::export::file::Input;
use crate::export::job::State;
use crate::object::ObjectType;

/// A daemon answering on `server.listen`, and what its jobs are sent with.
pub struct Daemon {
    base: String,
    http: reqwest::Client,
    token: String,
    envelope: Envelope,
    /// The portal `--portal` names.
    portal: Option<i64>,
}

impl Daemon {
    pub fn new(
        loaded: &Loaded,
        (base, http): (String, reqwest::Client),
        envelope: Envelope,
        portal: Option<i64>,
    ) -> anyhow::Result<Daemon> {
        Ok(Daemon {
            base,
            http,
            token: token_with(loaded, Scope::Export)?,
            envelope,
            portal,
        })
    }

    /// Sends one job and follows it to its end (a dry run is answered at once).
    pub async fn run(&self, inputs: &[Input], progress: &Progress) -> anyhow::Result<Sent> {
        let request = self
            .http
            .post(format!("{}/v1/exports", self.base))
            .bearer_auth(&self.token)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(self.envelope.body(inputs));
        let answer = about(request, self.portal).send().await?;
        let status = answer.status();
        let reply: Value = answer.json().await?;
        let code = reply["error"]["code"].as_str().unwrap_or_default();
        if status == 413 || code == "too_many_records" {
            let message = reply["error"]["message"].as_str().unwrap_or_default();
            return Ok(Sent::TooLarge(format!("{status} {code}: {message}")));
        }
        anyhow::ensure!(status.is_success(), "the daemon answered {status}: {reply}");
        if self.envelope.dry_run {
            progress.advance(inputs.len() as u64);
            let results = reply["results"].as_array().cloned().unwrap_or_default();
            return Ok(Sent::Finished(Finished::done(results)));
        }
        let id = reply["export_id"]
            .as_str()
            .context("no export_id in the answer")?;
        let finished = self.follow(id, progress).await?;
        progress.advance(inputs.len() as u64);
        Ok(Sent::Finished(finished))
    }

    async fn follow(&self, id: &str, progress: &Progress) -> anyhow::Result<Finished> {
        loop {
            let request = self
                .http
                .get(format!("{}/v1/exports/{id}", self.base))
                .bearer_auth(&self.token);
            let job: Value = about(request, self.portal).send().await?.json().await?;
            let results = job["results"].as_array().cloned().unwrap_or_default();
            progress.show(results.len() as u64);
            match job["state"].as_str().and_then(State::parse) {
                Some(State::Done) => return Ok(Finished::done(results)),
                Some(State::Failed) => {
                    let error = &job["error"];
                    let why = format!(
                        "{}: {}",
                        error["code"].as_str().unwrap_or("failed"),
                        error["message"].as_str().unwrap_or_default()
                    );
                    return Ok(Finished {
                        results,
                        failed: Some(why),
                    });
                }
                _ => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        }
    }
}

/// The body of `POST /v1/exports` around the records, and what its size adds up to.
#[derive(Debug, Clone)]
pub struct Envelope {
    kind: ObjectType,
    user_email: String,
    dry_run: bool,
    /// The body without records.
    empty_bytes: usize,
}

impl Envelope {
    pub fn new(kind: ObjectType, user_email: &str, dry_run: bool) -> Envelope {
        let mut envelope = Envelope {
            kind,
            user_email: user_email.to_owned(),
            dry_run,
            empty_bytes: 0,
        };
        envelope.empty_bytes = envelope.body(&[]).len();
        envelope
    }

    /// The body's size without records.
    pub fn empty_bytes(&self) -> usize {
        self.empty_bytes
    }

    /// The size of `input` in the body (records after the first add a comma).
    pub fn record_bytes(input: &Input) -> usize {
        input.to_json().to_string().len()
    }

    pub fn body(&self, inputs: &[Input]) -> Vec<u8> {
        let records: Vec<Value> = inputs.iter().map(Input::to_json).collect();
        let body = json!({"type": self.kind.name(), "user_email": self.user_email, "dry_run": self.dry_run, "records": records});
        body.to_string().into_bytes()
    }
}
