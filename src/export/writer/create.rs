//! Creates: the intent is persisted before the batch is sent, results are matched back by
//! what was sent and written to the mirror at once; a 409 sends the batch back for planning
//! (the existing record, now mirrored, is its duplicate); a 400 is bisected down to the one
//! record HubSpot refuses.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use super::crash::{self, Step};
use super::{Error, Job, Writer};
use crate::export::job::{self, Effect, Outcome, Row};
use crate::export::plan::Plan;
use crate::hubspot::{self, Association, AssociationType, Fault, NewAssociation, NewRecord};
use crate::object::ObjectType;
use crate::time::now_ms;

/// Contact → company, unlabelled (HubSpot-defined association type 279).
const CONTACT_TO_COMPANY: i64 = 279;

pub(super) struct Item {
    index: u32,
    duplicates: Vec<i64>,
    record: NewRecord,
    /// The row's create was sent before (its intent is older than this send).
    resent: bool,
}

type Replan<'a> = Pin<Box<dyn Future<Output = Result<Vec<u32>, Error>> + Send + 'a>>;

impl Writer {
    /// Creates `creates` (at most 100); returns the rows to plan again.
    pub(super) async fn create(
        &self,
        job: &mut Job,
        creates: Vec<(u32, Plan)>,
    ) -> Result<Vec<u32>, Error> {
        let now = now_ms();
        let mut items = Vec::with_capacity(creates.len());
        for (index, plan) in creates {
            let row = &mut job.rows[index as usize];
            let resent = row.intent_at_ms.is_some();
            row.intent_at_ms.get_or_insert(now);
            for id in &plan.duplicates {
                if !row.known_at_intent.contains(id) {
                    row.known_at_intent.push(*id);
                }
            }
            let mut record = NewRecord {
                properties: plan.properties,
                associations: Vec::new(),
            };
            if let Ok(owner) = &job.owner {
                record
                    .properties
                    .insert("hubspot_owner_id".into(), owner.to_string());
            }
            if let Some(company) = job.context.company_for(self.store(), &row.fields)? {
                record.associations.push(NewAssociation {
                    to_id: company,
                    type_id: CONTACT_TO_COMPANY,
                    category: "HUBSPOT_DEFINED".into(),
                });
            }
            items.push(Item {
                index,
                duplicates: plan.duplicates,
                record,
                resent,
            });
        }
        // Durable before sending: after a crash these rows are reconciled, not re-sent blindly.
        self.save_indexes(job, items.iter().map(|item| item.index))?;
        crash::point(Step::BeforeSend);
        self.send(job, items).await
    }

    fn send<'a>(&'a self, job: &'a mut Job, mut items: Vec<Item>) -> Replan<'a> {
        Box::pin(async move {
            let kind = job.header.kind;
            let records: Vec<NewRecord> = items.iter().map(|item| item.record.clone()).collect();
            match job.client.batch_create(kind, &records).await {
                Ok(created) => {
                    crash::point(Step::AfterSend);
                    self.accept(job, items, created).await?;
                    Ok(Vec::new())
                }
                Err(hubspot::Error::Conflict {
                    existing_id: Some(existing),
                    ..
                }) if !self.mirrored(kind, existing)? => {
                    // Someone created it meanwhile: mirror it, then plan the batch again; the
                    // row it duplicates now finds it. Each 409 names a record new to the
                    // mirror, so this ends.
                    self.syncer.refetch(kind, &[existing]).await?;
                    if !self.mirrored(kind, existing)? {
                        return Err(Error::Vanished(existing));
                    }
                    forget_intents(job, &items);
                    let replan: Vec<u32> = items.iter().map(|item| item.index).collect();
                    self.save_indexes(job, replan.iter().copied())?;
                    Ok(replan)
                }
                Err(hubspot::Error::InvalidProperties { .. } | hubspot::Error::Conflict { .. })
                    if items.len() > 1 =>
                {
                    // One bad record fails the whole batch: find it by halves.
                    let right = items.split_off(items.len() / 2);
                    let mut replan = self.send(job, items).await?;
                    replan.extend(self.send(job, right).await?);
                    Ok(replan)
                }
                Err(hubspot::Error::InvalidProperties { problems, .. }) => {
                    let first = problems.first();
                    let message = first.map_or("property values were not valid".into(), |p| {
                        p.message.clone()
                    });
                    for item in items {
                        let property = first.map(|p| p.name.clone());
                        job.finish(
                            item.index,
                            Outcome::failed("invalid_value", &message, property, item.duplicates),
                        );
                    }
                    Ok(Vec::new())
                }
                Err(error) if error.fault() == Fault::Request => {
                    for item in items {
                        let text = error.to_string();
                        job.finish(
                            item.index,
                            Outcome::failed("hubspot_rejected", &text, None, item.duplicates),
                        );
                    }
                    Ok(Vec::new())
                }
                // HubSpot answered without acting (401, 403, 429, 423, 477) or the connection
                // was refused: nothing was created, so the rows are not left to reconcile.
                Err(error)
                    if error.surely_unprocessed()
                        || matches!(error.fault(), Fault::Credentials | Fault::Config) =>
                {
                    forget_intents(job, &items);
                    self.save_indexes(job, items.iter().map(|item| item.index))?;
                    Err(error.into())
                }
                // The outcome is unknown (timeout, 5xx): the job pauses and, when resumed,
                // reconciles these rows first.
                Err(error) => Err(error.into()),
            }
        })
    }

    /// Matches created records back to their rows and mirrors them at once.
    async fn accept(
        &self,
        job: &mut Job,
        mut items: Vec<Item>,
        created: Vec<hubspot::Record>,
    ) -> Result<(), Error> {
        let kind = job.header.kind;
        let mut links = BTreeMap::new();
        let mut outcomes = Vec::new();
        for record in &created {
            let Some(position) = items
                .iter()
                .position(|item| sent_as(kind, &item.record, record))
            else {
                continue;
            };
            let item = items.swap_remove(position);
            let to: Vec<Association> = item
                .record
                .associations
                .iter()
                .map(|a| Association {
                    to_id: a.to_id,
                    types: vec![AssociationType {
                        category: a.category.clone(),
                        type_id: a.type_id,
                        label: None,
                    }],
                })
                .collect();
            links.insert(record.id, to);
            outcomes.push((
                item.index,
                created_outcome(record.id, job.owner.as_ref().ok().copied(), item.duplicates),
            ));
        }
        let associations = if kind == ObjectType::Contacts && job.context.settings.associate_company
        {
            vec![(ObjectType::Companies, links)]
        } else {
            Vec::new()
        };
        self.syncer
            .write_fetched(kind, &created, true, &associations, None)
            .await?;
        // The worst case: a concurrent commit made the mirror durable, the outcomes are not.
        crash::point_after(Step::AfterMirror, || drop(self.store().commit()));
        // Mirrored first: a row's result is saved only once the mirror holds its record.
        for (index, outcome) in outcomes {
            job.finish(index, outcome);
        }
        // Rows left unmatched keep their intent and are reconciled when the job resumes.
        Ok(())
    }

    fn mirrored(&self, kind: ObjectType, id: i64) -> Result<bool, Error> {
        let record = self.store().mirror().get(self.portal(), kind, id)?;
        Ok(record.is_some_and(|record| !record.archived))
    }

    pub(super) fn save_indexes(
        &self,
        job: &mut Job,
        indexes: impl Iterator<Item = u32>,
    ) -> Result<(), Error> {
        let indexes: Vec<u32> = indexes.collect();
        let rows: Vec<(u32, &Row)> = indexes
            .iter()
            .map(|i| (*i, &job.rows[*i as usize]))
            .collect();
        job::save_rows(self.store(), self.portal(), job.id, &rows)?;
        job.dirty.retain(|i| !indexes.contains(i));
        Ok(())
    }
}

/// HubSpot refused the batch without creating anything: rows sent for the first time
/// have no create in HubSpot; rows sent before keep the intent of that earlier send.
fn forget_intents(job: &mut Job, items: &[Item]) {
    for item in items.iter().filter(|item| !item.resent) {
        let row = &mut job.rows[item.index as usize];
        row.intent_at_ms = None;
        row.known_at_intent.clear();
    }
}

pub(super) fn created_outcome(id: i64, owner_id: Option<i64>, duplicates: Vec<i64>) -> Outcome {
    Outcome {
        id: Some(id),
        owner_id,
        ..Outcome::new(Effect::Created, duplicates)
    }
}

/// Whether `record` is the one created from `sent`: contacts by email, companies by domain
/// and name, else every property sent (HubSpot returns batch results in no set order).
fn sent_as(kind: ObjectType, sent: &NewRecord, record: &hubspot::Record) -> bool {
    let keys: &[&str] = match kind {
        ObjectType::Contacts if sent.properties.contains_key("email") => &["email"],
        ObjectType::Companies if sent.properties.contains_key("domain") => &["domain", "name"],
        _ => &[],
    };
    let equal = |name: &str| {
        let value = sent.properties.get(name).map_or("", |v| v.trim());
        record
            .property(name)
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case(value)
    };
    if keys.is_empty() {
        sent.properties.keys().all(|name| equal(name))
    } else {
        keys.iter().all(|name| equal(name))
    }
}
