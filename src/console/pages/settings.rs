//! Export settings: the `[export]` settings per type, saved as the API's override (the same
//! validation, each message next to the field it concerns), or reset to the config's values.

use http::StatusCode;
use maud::{html, Markup};

use super::super::layout::{badge, csrf_field, field_error, notice};
use super::super::reply::{Reply, Section};
use super::super::session::Flash;
use super::super::Ctx;
use super::problem::Outcome;
use crate::config::{Export, ExportType};
use crate::export::settings::{validate, Problem, SaveError};
use crate::export::Settings;

/// `GET /admin/settings`.
pub fn page(ctx: &Ctx) -> Outcome {
    let state = ctx.state();
    let current = Settings::current(
        &state.store,
        super::hub_id(ctx),
        state.sites.export_config(),
    )?
    .to_config();
    render(ctx, &current, &[], StatusCode::OK)
}

/// `POST /admin/settings`.
pub fn save(ctx: &Ctx) -> Outcome {
    let (export, mut problems) = read(ctx);
    if problems.is_empty() {
        match Settings::save(&ctx.state().store, super::hub_id(ctx), &export) {
            Ok(_) => {
                return Ok(Reply::redirect("/admin/settings").with_flash(Flash::ok(
                    "Export settings saved; they apply to the next export.",
                )))
            }
            Err(SaveError::Invalid(found)) => problems = found,
            Err(SaveError::Store(error)) => return Err(error.into()),
        }
    }
    render(ctx, &export, &problems, StatusCode::BAD_REQUEST)
}

/// `POST /admin/settings/reset`: the config's values apply again.
pub fn reset(ctx: &Ctx) -> Outcome {
    Settings::reset(&ctx.state().store, super::hub_id(ctx))?;
    Ok(Reply::redirect("/admin/settings").with_flash(Flash::ok(
        "Export settings reset to the config file's values.",
    )))
}

/// The posted settings, and the problems of fields that are not even numbers.
fn read(ctx: &Ctx) -> (Export, Vec<Problem>) {
    let form = &ctx.form;
    let mut problems = Vec::new();
    let mut one = |name: &str, contacts: bool| {
        let key = |field: &str| format!("{name}.{field}");
        let text = form.text(&key("max_records"));
        let max_records = text.parse::<u64>().unwrap_or_else(|_| {
            problems.push(Problem {
                key: key("max_records"),
                message: format!("{text:?} is not a whole number"),
            });
            0
        });
        ExportType {
            max_records,
            create_new: form.checked(&key("create_new")),
            update_existing: form.checked(&key("update_existing")),
            allow_duplicates: form.checked(&key("allow_duplicates")),
            on_duplicate: form.text(&key("on_duplicate")),
            associate_company: contacts.then(|| form.checked(&key("associate_company"))),
        }
    };
    let companies = one("companies", false);
    let contacts = one("contacts", true);
    let text = form.text("retention_days");
    let retention_days = text.parse::<u32>().unwrap_or_else(|_| {
        problems.push(Problem {
            key: "retention_days".into(),
            message: format!("{text:?} is not a whole number"),
        });
        0
    });
    let export = Export {
        enabled: form.checked("enabled"),
        retention_days,
        companies,
        contacts,
    };
    // Every problem at once: the rules' too, except a second one on a field that is not a number.
    for problem in validate(&export) {
        if !problems.iter().any(|known| known.key == problem.key) {
            problems.push(problem);
        }
    }
    (export, problems)
}

fn render(ctx: &Ctx, export: &Export, problems: &[Problem], status: StatusCode) -> Outcome {
    let overridden = Settings::overridden(&ctx.state().store, super::hub_id(ctx))?;
    let csrf = ctx.csrf();
    let content = html! {
        h1 { "Export settings" }
        p.lead { "What an export into HubSpot may do, per record type. Saved here, they override the " code { "[export]" } " section of the config until you reset them." }
        p { "In effect: " @if overridden { (badge("info", "saved for this account")) } @else { (badge("muted", "the config file's values")) } }
        @if !problems.is_empty() {
            (notice("problem", html! { p { strong { "Not saved." } " Fix the " (problems.len()) " field(s) marked below." } }))
        }
        form method="post" action="/admin/settings" {
            (csrf_field(csrf))
            fieldset {
                legend { "All exports" }
                div.field {
                    label.inline for="enabled" {
                        input #enabled type="checkbox" name="enabled" checked[export.enabled];
                        "Exports enabled"
                    }
                    p.hint { "Off: every export is refused (403 export_disabled)." }
                }
                (number_field("retention_days", "Keep finished jobs (days)", export.retention_days.into(),
                    "Finished jobs, and the rows naming the people exported, are deleted this many days after they end (1 to 3650).", problems))
            }
            div.grid {
                (type_fields("companies", "Companies", &export.companies, problems))
                (type_fields("contacts", "Contacts", &export.contacts, problems))
            }
            div.actions { button type="submit" { "Save settings" } }
        }
        form method="post" action="/admin/settings/reset" data-confirm="Reset the export settings to the config file's values?" {
            (csrf_field(csrf))
            div.actions { button.secondary type="submit" { "Reset to the config's values" } }
        }
    };
    Ok(Reply::page(Section::Settings, content).with_status(status))
}

fn type_fields(name: &str, title: &str, settings: &ExportType, problems: &[Problem]) -> Markup {
    let id = |field: &str| format!("{name}.{field}");
    let error = |field: &str| {
        problems
            .iter()
            .find(|problem| problem.key == id(field))
            .map(|problem| problem.message.as_str())
    };
    let checkbox = |field: &str, label: &str, on: bool, hint: &str| {
        html! {
            div.field {
                label.inline for=(id(field)) {
                    input id=(id(field)) type="checkbox" name=(id(field)) checked[on] aria-describedby={ (id(field)) "-hint" };
                    (label)
                }
                p.hint id={ (id(field)) "-hint" } { (hint) }
                (field_error(&id(field), error(field)))
            }
        }
    };
    html! {
        fieldset {
            legend { (title) }
            div.field {
                label for=(id("max_records")) { "Records per export at most" }
                input id=(id("max_records")) type="number" name=(id("max_records")) min="1" max="100000" value=(settings.max_records)
                    aria-invalid=[error("max_records").map(|_| "true")]
                    aria-describedby={ (id("max_records")) "-error" };
                (field_error(&id("max_records"), error("max_records")))
            }
            (checkbox("create_new", "Create records that do not exist yet", settings.create_new, "Off: a record without a duplicate fails with not_allowed."))
            (checkbox("update_existing", "Update the duplicate found", settings.update_existing, "Needed for \u{201c}update\u{201d} when a duplicate exists."))
            (checkbox("allow_duplicates", "Create a record although a duplicate exists", settings.allow_duplicates, "Needed for \u{201c}create\u{201d} when a duplicate exists."))
            div.field {
                label for=(id("on_duplicate")) { "When a duplicate is found" }
                select id=(id("on_duplicate")) name=(id("on_duplicate"))
                    aria-invalid=[error("on_duplicate").map(|_| "true")]
                    aria-describedby={ (id("on_duplicate")) "-error" } {
                    @for (value, label) in [("update", "Update it"), ("create", "Create another"), ("skip", "Skip the record")] {
                        option value=(value) selected[settings.on_duplicate == value] { (label) }
                    }
                }
                (field_error(&id("on_duplicate"), error("on_duplicate")))
            }
            @if let Some(associate) = settings.associate_company {
                (checkbox("associate_company", "Associate a new contact with its company", associate, "The company found for the contact's email domain."))
            }
        }
    }
}

/// A whole-number field of the "All exports" part, with its hint and its problem.
fn number_field(name: &str, label: &str, value: u64, hint: &str, problems: &[Problem]) -> Markup {
    let error = problems
        .iter()
        .find(|problem| problem.key == name)
        .map(|problem| problem.message.as_str());
    html! {
        div.field {
            label for=(name) { (label) }
            input id=(name) type="number" name=(name) min="1" value=(value)
                aria-invalid=[error.map(|_| "true")]
                aria-describedby={ (name) "-hint " (name) "-error" };
            p.hint id={ (name) "-hint" } { (hint) }
            (field_error(name, error))
        }
    }
}
