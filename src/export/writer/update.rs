//! Updates in batches: existing owners are never touched (the mapping cannot name
//! `hubspot_owner_id`); inputs HubSpot refuses fail alone; what was written is merged into the
//! mirrored record at once.

use std::future::Future;
use std::pin::Pin;

use super::{Error, Job, Writer};
use crate::export::job::Outcome;
use crate::export::plan::{Action, Plan};
use crate::hubspot::{self, Fault, RecordUpdate};

type Done<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

impl Writer {
    pub(super) fn update<'a>(
        &'a self,
        job: &'a mut Job,
        mut updates: Vec<(u32, Plan)>,
    ) -> Done<'a> {
        Box::pin(async move {
            let kind = job.header.kind;
            let inputs: Vec<RecordUpdate> = updates
                .iter()
                .filter_map(|(_, plan)| match plan.action {
                    Action::Update { id } => Some(RecordUpdate {
                        id,
                        properties: plan.properties.clone(),
                    }),
                    _ => None,
                })
                .collect();
            match job.client.batch_update(kind, &inputs).await {
                Ok(written) => {
                    let mut merged = Vec::new();
                    for record in &written.records {
                        merged.push(self.merged(job, record)?);
                    }
                    self.syncer
                        .write_fetched(kind, &merged, true, &[], None)
                        .await?;
                    for (index, plan) in updates {
                        let id = target(&plan);
                        let refused = written.errors.iter().find(|e| e.ids.contains(&id));
                        let outcome = match refused {
                            Some(error) => Outcome::failed(
                                "hubspot_rejected",
                                &error.message,
                                None,
                                plan.duplicates,
                            ),
                            None => Outcome::planned(&plan, None),
                        };
                        job.finish(index, outcome);
                    }
                    Ok(())
                }
                Err(hubspot::Error::InvalidProperties { .. }) if updates.len() > 1 => {
                    let right = updates.split_off(updates.len() / 2);
                    self.update(job, updates).await?;
                    self.update(job, right).await
                }
                Err(error) if error.fault() == Fault::Request => {
                    let (code, property) = match &error {
                        hubspot::Error::InvalidProperties { problems, .. } => {
                            ("invalid_value", problems.first().map(|p| p.name.clone()))
                        }
                        _ => ("hubspot_rejected", None),
                    };
                    for (index, plan) in updates {
                        let outcome = Outcome::failed(
                            code,
                            &error.to_string(),
                            property.clone(),
                            plan.duplicates,
                        );
                        job.finish(index, outcome);
                    }
                    Ok(())
                }
                // Updates are idempotent: the rows are planned and sent again on resume.
                Err(error) => Err(error.into()),
            }
        })
    }

    /// The mirrored record with the written values on top (an update answer carries only
    /// some properties; the mirror must keep the rest, owner included).
    fn merged(&self, job: &Job, written: &hubspot::Record) -> Result<hubspot::Record, Error> {
        let mut record = written.clone();
        if let Some(current) =
            self.store()
                .mirror()
                .get(self.portal(), job.header.kind, written.id)?
        {
            for (name, value) in current.properties {
                record.properties.entry(name).or_insert(Some(value));
            }
            record.created_at_ms = record.created_at_ms.or(current.created_at_ms);
        }
        Ok(record)
    }
}

fn target(plan: &Plan) -> i64 {
    match plan.action {
        Action::Update { id } => id,
        _ => 0,
    }
}
