//! Field mapping per type: ordered rows (source field → HubSpot property chosen from the
//! mirrored definitions, fill-empty or overwrite, picklist translations offering the
//! property's internal values); rows move up or down to change a hierarchy; saving runs the
//! API's validation and shows every problem on its row. "Test mapping" is `mapping_test`.

use http::StatusCode;
use maud::{html, Markup};

use super::super::layout::{csrf_field, notice, plural};
use super::super::reply::{Reply, Section};
use super::super::session::Flash;
use super::super::Ctx;
use super::mapping_form::{self, Op};
use super::mapping_test::{test_section, TestRun};
use super::problem::{not_connected, Failure, Outcome};
use super::{export_type, hub_id, portal, singular, type_title};
use crate::export::mapping::{Mapping, Problem, SaveError};
use crate::object::ObjectType;
use crate::store::PropertyDef;

/// What the page shows besides the mapping.
#[derive(Default)]
pub(super) struct Shown<'a> {
    pub problems: &'a [Problem],
    pub unsaved: bool,
    pub focus: Option<usize>,
    pub test: Option<TestRun>,
}

/// `GET /admin/mapping/{type}`.
pub fn page(ctx: &Ctx) -> Outcome {
    let kind = kind(ctx)?;
    let mapping = Mapping::current(&ctx.state().store, hub_id(ctx), kind)?;
    render(ctx, kind, &mapping, Shown::default(), StatusCode::OK)
}

/// `POST /admin/mapping/{type}`: save, or edit the rows without saving.
pub fn edit(ctx: &Ctx) -> Outcome {
    let kind = kind(ctx)?;
    let mut mapping = mapping_form::read(&ctx.form);
    let op = Op::of(&ctx.form);
    if op != Op::Save {
        let focus = mapping_form::apply(&mut mapping, op);
        let shown = Shown {
            unsaved: true,
            focus,
            ..Shown::default()
        };
        return render(ctx, kind, &mapping, shown, StatusCode::OK);
    }
    let definitions = definitions(ctx, kind)?;
    match mapping.save(&ctx.state().store, hub_id(ctx), kind, &definitions) {
        Ok(()) => Ok(Reply::redirect(format!("/admin/mapping/{}", kind.name()))
            .with_flash(Flash::ok(format!("The {} mapping is saved.", kind.name())))),
        Err(SaveError::Invalid(problems)) => {
            let shown = Shown {
                problems: &problems,
                unsaved: true,
                ..Shown::default()
            };
            render(ctx, kind, &mapping, shown, StatusCode::BAD_REQUEST)
        }
        Err(SaveError::Store(error)) => Err(error.into()),
    }
}

pub(super) fn kind(ctx: &Ctx) -> Result<ObjectType, Failure> {
    export_type(&ctx.params[0])
        .ok_or_else(|| Failure::NotFound("Field mappings exist for contacts and companies.".into()))
}

/// The mirrored property definitions of `kind` (none before the first connection).
fn definitions(ctx: &Ctx, kind: ObjectType) -> Result<Vec<PropertyDef>, Failure> {
    match portal(ctx) {
        Some(portal) => Ok(ctx
            .state()
            .store
            .reference()
            .properties(portal.hub_id, kind)?),
        None => Ok(Vec::new()),
    }
}

pub(super) fn render(
    ctx: &Ctx,
    kind: ObjectType,
    mapping: &Mapping,
    shown: Shown<'_>,
    status: StatusCode,
) -> Outcome {
    let definitions = definitions(ctx, kind)?;
    let mut offered: Vec<&PropertyDef> = definitions
        .iter()
        .filter(|def| !def.archived && !def.hidden && !def.calculated && !def.read_only_value)
        .filter(|def| def.name != "hubspot_owner_id")
        .collect();
    offered.sort_by_key(|def| def.label.to_lowercase());
    let saved = Mapping::current(&ctx.state().store, hub_id(ctx), kind)?;
    let action = format!("/admin/mapping/{}", kind.name());
    let csrf = ctx.csrf();
    let content = html! {
        h1 { "Field mapping" }
        nav.row aria-label="Record type" {
            @for other in [ObjectType::Contacts, ObjectType::Companies] {
                @if other == kind {
                    a.button href={ "/admin/mapping/" (other.name()) } aria-current="page" { (type_title(other)) }
                } @else {
                    a.button.secondary href={ "/admin/mapping/" (other.name()) } { (type_title(other)) }
                }
            }
        }
        p.lead { "Which field of an exported " (singular(kind)) " fills which HubSpot property. Rows with the same property form a hierarchy: the first with a value wins." }
        @if portal(ctx).is_none() { (not_connected()) }
        @if !shown.problems.is_empty() {
            (notice("problem", html! {
                p { strong { "Not saved: " (plural(shown.problems.len(), "problem", "problems")) "." } " Each is shown on its row:" }
                ul { @for problem in shown.problems {
                    li { a href={ "#row-" (problem.row + 1) } { "Row " (problem.row + 1) } ": " (problem.message) }
                } }
            }))
        } @else if shown.unsaved {
            (notice("info", html! { p { "Changes are not saved yet: press " strong { "Save mapping" } "." } }))
        }
        form method="post" action=(action) {
            (csrf_field(csrf))
            input type="hidden" name="rows" value=(mapping.fields.len());
            div.actions {
                button type="submit" name="op" value="save" { "Save mapping" }
                button.secondary type="submit" name="op" value="add" { "Add row" }
            }
            @for (index, row) in mapping.fields.iter().enumerate() {
                (row_editor(mapping, index, row, &definitions, &offered, shown.problems, shown.focus == Some(index)))
            }
            div.actions {
                button type="submit" name="op" value="save" { "Save mapping" }
                button.secondary type="submit" name="op" value="add" { "Add row" }
            }
        }
        (test_section(kind, &saved, csrf, shown.test.as_ref()))
    };
    Ok(Reply::page(Section::Mapping, content).with_status(status))
}

#[allow(clippy::too_many_arguments)]
fn row_editor(
    mapping: &Mapping,
    index: usize,
    row: &crate::export::mapping::Row,
    definitions: &[PropertyDef],
    offered: &[&PropertyDef],
    problems: &[Problem],
    focus: bool,
) -> Markup {
    let number = index + 1;
    let mine: Vec<&str> = problems
        .iter()
        .filter(|p| p.row == index)
        .map(|p| p.message.as_str())
        .collect();
    let def = definitions
        .iter()
        .find(|def| def.name == row.property && !def.archived);
    let known = offered.iter().any(|def| def.name == row.property);
    let same: Vec<usize> = mapping
        .fields
        .iter()
        .enumerate()
        .filter(|(_, other)| !row.property.is_empty() && other.property == row.property)
        .map(|(i, _)| i)
        .collect();
    let rank = same.iter().position(|i| *i == index).unwrap_or(0) + 1;
    let class = if mine.is_empty() {
        "mapping-row"
    } else {
        "mapping-row invalid"
    };
    let describe = (!mine.is_empty()).then(|| format!("row-{number}-problems"));
    // Which field a problem is about: its message names it first.
    let invalid = |field: &str| {
        mine.iter()
            .any(|message| field_of(message) == field)
            .then_some("true")
    };
    html! {
        section class=(class) id={ "row-" (number) } aria-labelledby={ "row-" (number) "-title" } {
            div.row-title {
                h3 id={ "row-" (number) "-title" } { "Row " (number) }
                @if same.len() > 1 { span.badge.info { "choice " (rank) " of " (same.len()) " for " (row.property) } }
                @if focus { " " span.badge.muted { "moved" } }
            }
            div.field {
                label for={ "source-" (index) } { "Source field" }
                input id={ "source-" (index) } type="text" name={ "source." (index) } value=(row.source) aria-invalid=[invalid("source")] aria-describedby=[describe.as_deref()];
            }
            div.field {
                label for={ "property-" (index) } { "HubSpot property" }
                select id={ "property-" (index) } name={ "property." (index) } data-refresh aria-invalid=[invalid("property")] aria-describedby=[describe.as_deref()] {
                    option value="" selected[row.property.is_empty()] { "Choose a property…" }
                    @if !known && !row.property.is_empty() {
                        option value=(row.property) selected { (row.property) " (not writable or not in HubSpot)" }
                    }
                    @for def in offered {
                        option value=(def.name) selected[def.name == row.property] { (def.label) " — " (def.name) " · " (def.value_type) }
                    }
                }
            }
            div.field {
                label for={ "update-" (index) } { "If the record exists" }
                select id={ "update-" (index) } name={ "update." (index) } aria-invalid=[invalid("update")] {
                    option value="fill_empty" selected[!row.overwrites()] { "Fill only if empty" }
                    option value="overwrite" selected[row.overwrites()] { "Overwrite" }
                }
            }
            div.row-buttons {
                button.small.secondary type="submit" name="op" value={ "up:" (index) } disabled[index == 0] aria-label={ "Move row " (number) " up" } title="Move up" { "↑" }
                button.small.secondary type="submit" name="op" value={ "down:" (index) } disabled[index + 1 == mapping.fields.len()] aria-label={ "Move row " (number) " down" } title="Move down" { "↓" }
                button.small.secondary type="submit" name="op" value={ "remove:" (index) } aria-label={ "Remove row " (number) } { "Remove" }
            }
            (translations(index, row, def))
            @if !mine.is_empty() {
                ul.problems id={ "row-" (number) "-problems" } {
                    @for message in &mine { li { (message) } }
                }
            }
        }
    }
}

/// The field of a row a validation message is about (`source`, `update` or `property`).
fn field_of(message: &str) -> &'static str {
    if message.starts_with("source") {
        "source"
    } else if message.starts_with("update") {
        "update"
    } else {
        "property"
    }
}

/// The picklist translation table of an enumeration property: source value → internal value.
fn translations(
    index: usize,
    row: &crate::export::mapping::Row,
    def: Option<&PropertyDef>,
) -> Markup {
    let values: Vec<(String, String)> =
        row.values.clone().unwrap_or_default().into_iter().collect();
    let enumeration = def.filter(|def| def.value_type == "enumeration");
    html! {
        @if let Some(def) = enumeration {
            div.values {
                input type="hidden" name={ "values." (index) } value=(values.len() + 1);
                table {
                    caption { "Picklist translation (optional): source values to " (def.label) "'s internal values" }
                    thead { tr { th scope="col" { "Source value" } th scope="col" { "HubSpot value" } } }
                    tbody {
                        @for (j, (from, to)) in values.iter().chain(std::iter::once(&(String::new(), String::new()))).enumerate() {
                            tr {
                                td {
                                    label.sr-only for={ "from-" (index) "-" (j) } { "Source value " (j + 1) }
                                    input id={ "from-" (index) "-" (j) } type="text" name={ "from." (index) "." (j) } value=(from) placeholder="e.g. Software";
                                }
                                td {
                                    label.sr-only for={ "to-" (index) "-" (j) } { "HubSpot value " (j + 1) }
                                    select id={ "to-" (index) "-" (j) } name={ "to." (index) "." (j) } {
                                        option value="" selected[to.is_empty()] { "Choose a value…" }
                                        @if !to.is_empty() && !def.options.iter().any(|(value, _)| value == to) {
                                            option value=(to) selected { (to) " (not a value of this property)" }
                                        }
                                        @for (value, label) in &def.options {
                                            option value=(value) selected[value == to] { (label) " — " (value) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        } @else if let Some(values) = &row.values {
            // Translations kept on a property that is not a picklist (validation ignores them).
            input type="hidden" name={ "values." (index) } value=(values.len());
            @for (j, (from, to)) in values.iter().enumerate() {
                input type="hidden" name={ "from." (index) "." (j) } value=(from);
                input type="hidden" name={ "to." (index) "." (j) } value=(to);
            }
        }
    }
}
