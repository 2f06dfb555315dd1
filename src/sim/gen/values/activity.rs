//! Deal and task values: pipelines and stage history, close dates, due dates, statuses.

use super::{company_name, value, DAY_MS};
use crate::sim::gen::{Gen, ANCHOR_MS};
use crate::sim::kind::ObjectType::{Deals, Tasks};
use crate::sim::schema;
use crate::time;

fn stage_of(gen: &Gen, index: u64) -> (&'static schema::Pipeline, usize) {
    let pipelines = schema::pipelines();
    let pipeline = &pipelines[usize::from(gen.hash(Deals, index, 0xe0) % 4 == 0)];
    (
        pipeline,
        gen.hash(Deals, index, 0xe1) as usize % pipeline.stages.len(),
    )
}

pub fn stage_history(gen: &Gen, index: u64) -> Vec<(String, i64)> {
    let (pipeline, current) = stage_of(gen, index);
    let created = gen.created_ms(Deals, index);
    let span = (gen.modified_ms(Deals, index) - created).max(1);
    // Closed-lost deals may skip stages; walk the open ones in order, then jump.
    let path: Vec<usize> = (0..=current.min(pipeline.stages.len() - 3))
        .chain((current >= pipeline.stages.len() - 2).then_some(current))
        .collect();
    let steps = path.len() as i64;
    path.iter()
        .enumerate()
        .map(|(step, &stage)| {
            (
                pipeline.stages[stage].id.to_string(),
                created + span * step as i64 / steps,
            )
        })
        .collect()
}

pub(super) fn deal(gen: &Gen, index: u64, name: &str) -> Option<Option<String>> {
    let (pipeline, stage) = stage_of(gen, index);
    let stage = &pipeline.stages[stage];
    let created = gen.created_ms(Deals, index);
    let close = created + (30 + gen.hash(Deals, index, 0xe2) % 150) as i64 * DAY_MS;
    let amount = || value(gen, Deals, index, schema::property(Deals, "amount")?);
    Some(match name {
        "dealname" => {
            let company = gen
                .links
                .company_of_deal(index)
                .map(|company| company_name(gen, company));
            let label = ["New Business", "Renewal", "Expansion"][index as usize % 3];
            Some(format!(
                "{} - {label}",
                company.unwrap_or_else(|| "Direct".to_string())
            ))
        }
        "pipeline" => Some(pipeline.id.to_string()),
        "dealstage" => Some(stage.id.to_string()),
        "closedate" => Some(time::iso(close)),
        "hs_is_closed" => Some(stage.closed.to_string()),
        "hs_is_closed_won" => Some((stage.probability == "1.0").to_string()),
        "hs_deal_stage_probability" => Some(stage.probability.to_string()),
        "amount_in_home_currency" => amount(),
        "days_to_close" => Some(((close - created) / DAY_MS).to_string()),
        "num_associated_contacts" => Some(
            gen.links
                .contact_of_deal(index)
                .into_iter()
                .count()
                .to_string(),
        ),
        _ => return None,
    })
}

pub(super) fn task(gen: &Gen, index: u64, name: &str) -> Option<Option<String>> {
    let due = gen.created_ms(Tasks, index) + (gen.hash(Tasks, index, 0xa0) % 30) as i64 * DAY_MS;
    // Only the derived properties look at the status (which is itself a plain fill).
    let completed = || {
        let status = schema::property(Tasks, "hs_task_status");
        status
            .and_then(|def| value(gen, Tasks, index, def))
            .as_deref()
            == Some("COMPLETED")
    };
    Some(match name {
        "hs_timestamp" => Some(time::iso(due)),
        "hs_task_reminders" => Some((due - 3_600_000).to_string()),
        "hs_task_completion_date" => completed().then(|| time::iso(due)),
        "hs_task_is_overdue" => Some((!completed() && due < ANCHOR_MS).to_string()),
        "hs_task_is_completed" => Some(u8::from(completed()).to_string()),
        "hs_task_for_object_type" => gen
            .links
            .target_of_task(index)
            .map(|(kind, _)| kind.singular().to_uppercase()),
        _ => return None,
    })
}
