//! Exports: jobs newest first with live progress; start one by uploading a CSV file, review
//! its dry run, then confirm (the same `export::submit` the API's `POST /v1/exports` uses).

use http::StatusCode;
use maud::{html, Markup};

use super::super::layout::{badge, csrf_field, field_error, notice, plural, progress, time};
use super::super::reply::{Reply, Section};
use super::super::session::Flash;
use super::super::upload::{self, Draft};
use super::super::Ctx;
use super::job::{outcome_cells, state_badge, Names};
use super::problem::{not_connected, Failure, Outcome};
use super::{export_type, portal};
use crate::export::job::{self, Counts, Effect};
use crate::export::submit::{self, Refusal, Submitted};

/// Jobs listed on the page.
const JOBS_SHOWN: usize = 25;
/// Dry-run rows shown on the review page (the counts cover every row).
const REVIEW_ROWS: usize = 200;

/// What the upload form held, to show it again with its errors.
#[derive(Default)]
struct Upload {
    kind: String,
    user_email: String,
    errors: Vec<(&'static str, String)>,
}

/// `GET /admin/exports`.
pub fn page(ctx: &Ctx) -> Outcome {
    render(ctx, &Upload::default(), StatusCode::OK)
}

/// `POST /admin/exports/upload`: reads the file, runs the dry run, keeps the draft.
pub fn upload(ctx: &Ctx) -> Outcome {
    let mut form = Upload {
        kind: ctx.form.text("type"),
        user_email: ctx.form.text("user_email"),
        errors: Vec::new(),
    };
    let Some(portal) = portal(ctx) else {
        return page(ctx);
    };
    let kind = export_type(&form.kind);
    if kind.is_none() {
        form.errors
            .push(("type", "Choose contacts or companies.".into()));
    }
    let rows = match &ctx.form.file {
        None => Err("Choose a CSV file to upload.".to_owned()),
        Some(file) => upload::rows(&file.bytes),
    };
    let rows = rows
        .map_err(|message| form.errors.push(("file", message)))
        .ok();
    let (Some(kind), Some(rows)) = (kind, rows) else {
        return render(ctx, &form, StatusCode::BAD_REQUEST);
    };
    let state = ctx.state();
    let request = submit::Request {
        kind,
        user_email: form.user_email.clone(),
        rows,
        dry_run: true,
    };
    match submit::submit(
        &state.store,
        &ctx.site().exporter,
        portal.hub_id,
        &state.fallback(&portal),
        ctx.site().connections.preferences().exports_enabled,
        request,
    ) {
        Ok(Submitted::Planned { rows, outcomes }) => {
            let draft = Draft {
                kind,
                user_email: form.user_email,
                file_name: ctx
                    .form
                    .file
                    .as_ref()
                    .map(|f| f.name.clone())
                    .unwrap_or_default(),
                rows,
                outcomes,
            };
            let Some(session) = &ctx.session else {
                return Err(Failure::BadRequest("sign in again".into()));
            };
            let id = ctx.console.sessions.keep_draft(session, draft);
            Ok(Reply::redirect(format!("/admin/exports/drafts/{id}")))
        }
        Ok(Submitted::Queued(_)) => Err(Failure::BadRequest("a dry run was asked for".into())),
        Err(Refusal::Store(error)) => Err(error.into()),
        Err(Refusal::BadUserEmail) => {
            form.errors.push((
                "user_email",
                "Enter the email of the user the export is for.".into(),
            ));
            render(ctx, &form, StatusCode::BAD_REQUEST)
        }
        Err(refusal) => {
            form.errors.push(("file", format!("{refusal}.")));
            render(ctx, &form, StatusCode::BAD_REQUEST)
        }
    }
}

/// `GET /admin/exports/drafts/{draft}`: the dry run of an uploaded file.
pub fn review(ctx: &Ctx) -> Outcome {
    let (id, draft) = draft(ctx)?;
    let Some(portal) = portal(ctx) else {
        return page(ctx);
    };
    let names = Names::load(ctx.state(), &portal)?;
    let planned: Vec<job::Row> = draft
        .rows
        .iter()
        .zip(&draft.outcomes)
        .map(|(row, outcome)| job::Row {
            outcome: Some(outcome.clone()),
            ..row.clone()
        })
        .collect();
    let counts = Counts::of(&planned);
    let csrf = ctx.csrf();
    let content = html! {
        h1 { "Exports" }
        section.card aria-labelledby="review-heading" {
            h2 #review-heading { "Review: " (draft.file_name) }
            p { (draft.rows.len()) " " (draft.kind.name()) " for " strong { (draft.user_email) } ". Nothing has been written yet: this is what the export would do." }
            div.stats {
                (stat("Would create", counts.created)) (stat("Would update", counts.updated))
                (stat("Would skip", counts.skipped)) (stat("Would fail", counts.failed))
            }
            @if counts.failed > 0 {
                (notice("warn", html! { p { (plural(counts.failed, "record", "records")) " would fail; the others are written. Their reasons are in the table." } }))
            }
            form method="post" action={ "/admin/exports/drafts/" (id) } {
                (csrf_field(csrf))
                div.actions {
                    button type="submit" name="decision" value="confirm" { "Confirm export" }
                    button.secondary type="submit" name="decision" value="discard" { "Discard" }
                }
            }
        }
        div.table-wrap {
            table.stack {
                caption { "Dry run" @if planned.len() > REVIEW_ROWS { " (the first " (REVIEW_ROWS) " of " (planned.len()) ")" } }
                thead { tr { th scope="col" { "#" } th scope="col" { "Ref" } th scope="col" { "Action" } th scope="col" { "HubSpot record" } th scope="col" { "Duplicates" } th scope="col" { "Owner" } th scope="col" { "Reason or error" } } }
                tbody {
                    @for (index, row) in planned.iter().enumerate().take(REVIEW_ROWS) {
                        @if let Some(outcome) = &row.outcome {
                            tr class=(if outcome.action == Effect::Failed { "failed" } else { "" }) {
                                td.number data-label="#" { (index + 1) }
                                td data-label="Ref" { (row.reference) }
                                (outcome_cells(outcome, draft.kind, &portal, &names, None))
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(Reply::page(Section::Exports, content))
}

/// `POST /admin/exports/drafts/{draft}`: confirm (queue the reviewed records) or discard.
pub fn decide(ctx: &Ctx) -> Outcome {
    let (id, draft) = draft(ctx)?;
    let Some(session) = &ctx.session else {
        return Err(Failure::BadRequest("sign in again".into()));
    };
    ctx.console.sessions.drop_draft(session, id);
    if ctx.form.get("decision") != Some("confirm") {
        return Ok(Reply::redirect("/admin/exports")
            .with_flash(Flash::ok("The upload was discarded; nothing was exported.")));
    }
    let Some(portal) = portal(ctx) else {
        return page(ctx);
    };
    let state = ctx.state();
    let request = submit::Request {
        kind: draft.kind,
        user_email: draft.user_email,
        rows: draft.rows,
        dry_run: false,
    };
    match submit::submit(
        &state.store,
        &ctx.site().exporter,
        portal.hub_id,
        &state.fallback(&portal),
        ctx.site().connections.preferences().exports_enabled,
        request,
    ) {
        Ok(Submitted::Queued(job)) => Ok(Reply::redirect(format!("/admin/exports/{job}"))
            .with_flash(Flash::ok(format!("Export {job} is queued.")))),
        Ok(Submitted::Planned { .. }) => Err(Failure::BadRequest("not a dry run".into())),
        Err(Refusal::Store(error)) => Err(error.into()),
        Err(refusal) => Ok(Reply::redirect("/admin/exports")
            .with_flash(Flash::problem(format!("Not exported: {refusal}.")))),
    }
}

fn draft(ctx: &Ctx) -> Result<(u64, Draft), Failure> {
    let gone = || {
        Failure::NotFound(
            "This upload is no longer here (drafts live in the session: upload the file again)."
                .into(),
        )
    };
    let id: u64 = ctx.params[0].parse().map_err(|_| gone())?;
    let session = ctx.session.as_ref().ok_or_else(gone)?;
    let draft = ctx.console.sessions.draft(session, id).ok_or_else(gone)?;
    Ok((id, draft))
}

fn stat(label: &str, value: usize) -> Markup {
    html! { div.stat { span.value { (value) } span.label { (label) } } }
}

fn render(ctx: &Ctx, form: &Upload, status: StatusCode) -> Outcome {
    let Some(portal) = portal(ctx) else {
        let content = html! { h1 { "Exports" } (not_connected()) };
        return Ok(Reply::page(Section::Exports, content));
    };
    let state = ctx.state();
    let jobs = job::recent(&state.store, portal.hub_id, JOBS_SHOWN)?;
    let error = |field: &str| {
        form.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    };
    let invalid = |field: &str| error(field).map(|_| "true");
    let csrf = ctx.csrf();
    let content = html! {
        h1 { "Exports" }
        p.lead { "Records pushed into HubSpot by internal services, the CLI or an upload here: duplicates checked against the mirror, fields mapped, owners assigned." }
        section.card aria-labelledby="upload-heading" {
            h2 #upload-heading { "Start an export" }
            form method="post" action="/admin/exports/upload" enctype="multipart/form-data" {
                (csrf_field(csrf))
                div.grid {
                    div.field {
                        label for="type" { "Record type" }
                        select #type name="type" aria-invalid=[invalid("type")] aria-describedby="type-error" {
                            option value="contacts" selected[form.kind != "companies"] { "Contacts" }
                            option value="companies" selected[form.kind == "companies"] { "Companies" }
                        }
                        (field_error("type", error("type")))
                    }
                    div.field {
                        label for="user_email" { "For user (email)" }
                        input #user_email type="email" name="user_email" value=(form.user_email) required aria-invalid=[invalid("user_email")] aria-describedby="user_email-hint user_email-error";
                        p.hint #user_email-hint { "New records get this user's HubSpot owner." }
                        (field_error("user_email", error("user_email")))
                    }
                    div.field {
                        label for="file" { "CSV file" }
                        input #file type="file" name="file" accept=".csv,.jsonl,text/csv" required aria-invalid=[invalid("file")] aria-describedby="file-hint file-error";
                        p.hint #file-hint { "A header row of source field names (as in Field mapping); optional " code { "ref" } " and " code { "on_duplicate" } " columns." }
                        (field_error("file", error("file")))
                    }
                }
                div.actions { button type="submit" { "Upload and review" } }
                p.hint { "Nothing is written until you confirm the dry run." }
            }
        }
        div.table-wrap {
            table.stack {
                caption { "Export jobs, newest first" }
                thead { tr {
                    th scope="col" { "Job" } th scope="col" { "Type" } th scope="col" { "User" } th scope="col" { "Started" }
                    th scope="col" { "State" } th scope="col" { "Progress" } th scope="col" { "Created · updated · skipped · failed" }
                } }
                tbody {
                    @if jobs.is_empty() { tr { td colspan="7" { span.muted { "No exports yet." } } } }
                    @for (id, header) in &jobs {
                        (job_row(ctx, portal.hub_id, *id, header)?)
                    }
                }
            }
        }
    };
    Ok(Reply::page(Section::Exports, content).with_status(status))
}

fn job_row(ctx: &Ctx, portal: i64, id: u64, header: &job::Header) -> Result<Markup, Failure> {
    let rows = job::rows(&ctx.state().store, portal, id)?;
    let counts = Counts::of(&rows);
    let live = !header.state.is_finished();
    let done = counts.done() as u64;
    let total = u64::from(header.total);
    Ok(html! {
        tr data-progress=[live.then(|| format!("/admin/exports/{id}/progress"))] {
            td data-label="Job" { a href={ "/admin/exports/" (id) } { "Export " (id) } }
            td data-label="Type" { (header.kind.name()) }
            td data-label="User" { (header.user_email) }
            td data-label="Started" { (time(header.created_at_ms)) }
            td data-label="State" { (state_badge(header.state)) }
            td data-label="Progress" { (progress(done, total, &format!("Progress of export {id}"), &format!("{done} of {total}"))) }
            td.number data-label="Results" {
                (counts.created) " · " (counts.updated) " · " (counts.skipped) " · "
                @if counts.failed > 0 { (badge("bad", &counts.failed.to_string())) } @else { "0" }
            }
        }
    })
}
