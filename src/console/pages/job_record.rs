//! A job's records beyond its page: one record's input and result, and every result as a
//! CSV download.

use maud::html;

use super::super::layout::{badge, notice};
use super::super::reply::{Reply, Section};
use super::super::Ctx;
use super::job::{load, outcome_cells, Names};
use super::problem::{Failure, Outcome};

/// `GET /admin/exports/{id}/results.csv`: one line per record with its result.
pub fn results_csv(ctx: &Ctx) -> Outcome {
    let (id, portal, header, rows) = load(ctx)?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let write = |out: &mut csv::Writer<Vec<u8>>, record: &[String]| {
        out.write_record(record)
            .map_err(|error| Failure::BadRequest(error.to_string()))
    };
    write(
        &mut out,
        &[
            "row",
            "ref",
            "action",
            "id",
            "url",
            "duplicates",
            "owner_id",
            "reason",
            "error_code",
            "error_message",
            "error_property",
        ]
        .map(String::from),
    )?;
    for (index, row) in rows.iter().enumerate() {
        let outcome = row.outcome.clone().unwrap_or_default();
        let error = outcome.error.clone();
        let ids: Vec<String> = outcome.duplicates.iter().map(i64::to_string).collect();
        write(
            &mut out,
            &[
                (index + 1).to_string(),
                row.reference.clone(),
                if row.outcome.is_some() {
                    outcome.action.clone()
                } else {
                    "pending".into()
                },
                outcome.id.map(|id| id.to_string()).unwrap_or_default(),
                outcome
                    .id
                    .map(|id| portal.record_url(header.kind, id))
                    .unwrap_or_default(),
                ids.join(" "),
                outcome
                    .owner_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
                outcome.reason.clone().unwrap_or_default(),
                error.as_ref().map(|e| e.code.clone()).unwrap_or_default(),
                error
                    .as_ref()
                    .map(|e| e.message.clone())
                    .unwrap_or_default(),
                error.and_then(|e| e.property).unwrap_or_default(),
            ],
        )?;
    }
    let bytes = out
        .into_inner()
        .map_err(|error| Failure::BadRequest(error.to_string()))?;
    Ok(Reply::download(
        "text/csv; charset=utf-8",
        format!("export-{id}-results.csv"),
        bytes,
    ))
}

/// `GET /admin/exports/{id}/records/{row}`: one record's input and result.
pub fn record(ctx: &Ctx) -> Outcome {
    let (id, portal, header, rows) = load(ctx)?;
    let missing = || Failure::NotFound(format!("Export {id} has no record {}.", ctx.params[1]));
    let number: usize = ctx.params[1].parse().map_err(|_| missing())?;
    let row = number
        .checked_sub(1)
        .and_then(|i| rows.get(i))
        .ok_or_else(missing)?;
    let names = Names::load(ctx.state(), &portal)?;
    let content = html! {
        h1 { "Exports" }
        p { a href={ "/admin/exports/" (id) } { "← Export " (id) } }
        section.card aria-labelledby="record-heading" {
            h2 #record-heading { "Record " (number) " of export " (id) ": " (row.reference) }
            @match &row.outcome {
                Some(outcome) => {
                    @if let Some(error) = &outcome.error {
                        (notice("problem", html! {
                            p { strong { "Failed: " } (error.message) }
                            p { "Code " code { (error.code) } @if let Some(property) = &error.property { " · property " code { (property) } } }
                        }))
                    }
                    div.table-wrap { table {
                        caption { "Result" }
                        thead { tr { th scope="col" { "Action" } th scope="col" { "HubSpot record" } th scope="col" { "Duplicates" } th scope="col" { "Owner" } th scope="col" { "Reason or error" } } }
                        tbody { tr { (outcome_cells(outcome, header.kind, &portal, &names, None)) } }
                    } }
                }
                None => { p { (badge("muted", "pending")) " No result yet." } }
            }
            div.table-wrap { table {
                caption { "Fields as exported" }
                thead { tr { th scope="col" { "Field" } th scope="col" { "Value" } } }
                tbody { @for (name, value) in &row.fields { tr { td { code { (name) } } td { (value) } } } }
            } }
        }
    };
    Ok(Reply::page(Section::Exports, content))
}
