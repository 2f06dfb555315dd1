//! "Test mapping": a sample sent through the saved mapping into HubSpot (`sample::test`, as
//! the API's `POST /v1/export/mappings/{type}/test`), and what HubSpot stored or why it
//! refused, shown under the mapping.

use std::collections::BTreeMap;

use http::StatusCode;
use maud::{html, Markup};

use super::super::layout::csrf_field;
use super::super::Ctx;
use super::mapping::{kind, render, Shown};
use super::problem::Outcome;
use super::singular;
use crate::export::mapping::Mapping;
use crate::export::sample::{self, Report};
use crate::object::ObjectType;

/// A mapping test: the sample's fields and what HubSpot did (or why it did not).
pub struct TestRun {
    fields: BTreeMap<String, String>,
    result: Result<Report, String>,
}

/// `POST /admin/mapping/{type}/test`.
pub fn test(ctx: &Ctx) -> Outcome {
    let kind = kind(ctx)?;
    let fields: BTreeMap<String, String> = ctx
        .form
        .fields
        .iter()
        .filter_map(|(name, value)| {
            Some((
                name.strip_prefix("field.")?.to_owned(),
                value.trim().to_owned(),
            ))
        })
        .filter(|(_, value)| !value.is_empty())
        .collect();
    let result = match ctx.site().syncer() {
        None => Err("The gateway has not connected to HubSpot yet.".to_owned()),
        Some(syncer) => {
            match ctx.wait(sample::test(&syncer, &ctx.site().exporter, kind, &fields)) {
                Ok(report) => Ok(report),
                Err(sample::Failure::Refused(message)) => {
                    Err(format!("HubSpot refused the sample: {message}"))
                }
                Err(sample::Failure::Unavailable(error)) => {
                    tracing::warn!(%error, "mapping test could not reach HubSpot");
                    Err("HubSpot could not be reached; try again later.".to_owned())
                }
                Err(sample::Failure::Store(error)) => return Err(error.into()),
            }
        }
    };
    let mapping = Mapping::current(&ctx.state().store, super::hub_id(ctx), kind)?;
    let shown = Shown {
        test: Some(TestRun { fields, result }),
        ..Shown::default()
    };
    render(ctx, kind, &mapping, shown, StatusCode::OK)
}

pub fn test_section(
    kind: ObjectType,
    saved: &Mapping,
    csrf: &str,
    test: Option<&TestRun>,
) -> Markup {
    let mut sources: Vec<&str> = saved.fields.iter().map(|row| row.source.as_str()).collect();
    sources.dedup();
    let mut seen = std::collections::BTreeSet::new();
    sources.retain(|source| seen.insert(*source));
    html! {
        section.card #test aria-labelledby="test-heading" {
            h2 #test-heading { "Test mapping" }
            p { "Creates one " (singular(kind)) " from this sample through the " strong { "saved" } " mapping in HubSpot, reads it back and archives it." }
            form method="post" action={ "/admin/mapping/" (kind.name()) "/test#test" } {
                (csrf_field(csrf))
                div.grid {
                    @for source in &sources {
                        div.field {
                            label for={ "sample-" (source) } { (source) }
                            input id={ "sample-" (source) } type="text" name={ "field." (source) }
                                value=(test.and_then(|run| run.fields.get(*source)).map(String::as_str).unwrap_or(""));
                        }
                    }
                }
                div.actions { button type="submit" { "Run test" } }
            }
            @match test.map(|run| &run.result) {
                Some(Ok(report)) => {
                    div.flash.ok role="status" {
                        "HubSpot created record " strong { (report.created_id) } " and "
                        (if report.archived { "archived it again." } else { "could not archive it: archive it by hand." })
                    }
                    div.table-wrap { table {
                        caption { "What HubSpot stored" }
                        thead { tr { th scope="col" { "Property" } th scope="col" { "Value" } } }
                        tbody { @for (name, value) in &report.properties_written { tr { td { code { (name) } } td { (value) } } } }
                    } }
                }
                Some(Err(message)) => {
                    div.flash.problem role="status" { (message) }
                }
                None => {}
            }
        }
    }
}
