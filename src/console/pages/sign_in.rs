//! Signing in (an admin token posted in a form, or a one-time link) and out.

use http::StatusCode;
use maud::{html, Markup};

use super::super::layout::{csrf_field, field_error};
use super::super::reply::Reply;
use super::super::request::{cookie, set_cookie};
use super::super::session::{
    random_token, Credential, Flash, LIFETIME, SESSION_COOKIE, SIGN_IN_COOKIE,
};
use super::super::Ctx;
use super::problem::Outcome;
use crate::config::Scope;

/// How long the sign-in form stays valid (its token cookie).
const FORM_SECS: u64 = 3600;

/// `GET /admin/sign-in`: the form (or the console, when signed in already).
pub fn form(ctx: &Ctx) -> Outcome {
    if ctx.session.is_some() {
        return Ok(Reply::redirect(next(ctx.query("next"))));
    }
    let token = random_token();
    let signed_out = ctx.query("signed_out").is_some();
    Ok(Reply::titled(
        "Sign in",
        None,
        page(&token, ctx.query("next"), None, signed_out),
    )
    .with_cookie(set_cookie(SIGN_IN_COOKIE, &token, FORM_SECS, ctx.secure)))
}

/// `POST /admin/sign-in`: an admin-scope token opens a session; anything else is refused
/// saying why.
pub fn submit(ctx: &Ctx) -> Outcome {
    let presented = ctx.form.text("token");
    let form_token = ctx.form.text("csrf");
    let next_page = ctx.form.get("next").map(str::to_owned);
    let refuse = |status: StatusCode, message: &str| {
        Reply::titled(
            "Sign in",
            None,
            page(&form_token, next_page.as_deref(), Some(message), false),
        )
        .with_status(status)
    };
    if presented.is_empty() {
        return Ok(refuse(StatusCode::BAD_REQUEST, "Enter an admin token."));
    }
    let tokens = ctx.state().tokens.read();
    let Some(grant) = tokens.identify(&presented) else {
        return Ok(refuse(
            StatusCode::UNAUTHORIZED,
            "That token is not valid: it is none of the [[api.tokens]] in the config.",
        ));
    };
    if grant.scope < Scope::Admin {
        let message = format!(
            "The token \u{201c}{}\u{201d} has the {} scope; the console needs a token with the admin scope.",
            grant.name,
            grant.scope.as_str()
        );
        return Ok(refuse(StatusCode::FORBIDDEN, &message));
    }
    let credential = Credential::Token {
        digest: grant.digest,
    };
    tracing::info!(token = grant.name, "signed in to the admin console");
    drop(tokens);
    Ok(open(ctx, credential, next(next_page.as_deref())))
}

/// `GET /admin/sign-in/{code}`: a one-time link opens a session once.
pub fn link(ctx: &Ctx) -> Outcome {
    if !ctx.console.sessions.redeem_code(&ctx.params[0]) {
        let content = html! {
            div.card.sign-in {
                h1 { "Sign-in link not valid" }
                p { "This link was used already or has expired: a sign-in link works once, within 15 minutes." }
                p { a.button href="/admin/sign-in" { "Sign in with a token" } }
            }
        };
        return Ok(Reply::titled("Sign-in link not valid", None, content)
            .with_status(StatusCode::BAD_REQUEST));
    }
    tracing::info!("signed in to the admin console with a one-time link");
    Ok(open(ctx, Credential::Link, "/admin/connection".into()))
}

/// `POST /admin/sign-out`.
pub fn sign_out(ctx: &Ctx) -> Outcome {
    if let Some(session) = &ctx.session {
        ctx.console.sessions.close(session);
    }
    Ok(
        Reply::redirect("/admin/sign-in?signed_out=1").with_cookie(set_cookie(
            SESSION_COOKIE,
            "",
            0,
            ctx.secure,
        )),
    )
}

/// A page behind sign-in was asked for without a session.
pub fn required(parts: &http::request::Parts, secure: bool) -> Reply {
    let path = parts.uri.path();
    if path.ends_with("/progress") {
        let body =
            serde_json::json!({"error": {"code": "unauthorized", "message": "sign in again"}});
        return Reply::json(body).with_status(StatusCode::UNAUTHORIZED);
    }
    let next = url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>();
    let reply = Reply::redirect(format!("/admin/sign-in?next={next}"));
    // A session that expired leaves its cookie behind: drop it.
    match cookie(&parts.headers, SESSION_COOKIE) {
        Some(_) => reply.with_cookie(set_cookie(SESSION_COOKIE, "", 0, secure)),
        None => reply,
    }
}

fn open(ctx: &Ctx, credential: Credential, to: String) -> Reply {
    let sessions = &ctx.console.sessions;
    let id = sessions.open(credential);
    if let Some(session) = sessions.find(&id) {
        sessions.set_flash(&session, Flash::ok("Signed in. The session lasts 8 hours."));
    }
    Reply::redirect(to)
        .with_cookie(set_cookie(
            SESSION_COOKIE,
            &id,
            LIFETIME.as_secs(),
            ctx.secure,
        ))
        .with_cookie(set_cookie(SIGN_IN_COOKIE, "", 0, ctx.secure))
}

/// Where to go after signing in: a console path, never another site.
fn next(asked: Option<&str>) -> String {
    match asked {
        Some(path) if path.starts_with("/admin/") && !path.starts_with("//") => path.to_owned(),
        _ => "/admin/connection".into(),
    }
}

fn page(form_token: &str, next: Option<&str>, error: Option<&str>, signed_out: bool) -> Markup {
    html! {
        div.card.sign-in {
            h1 { "Sign in" }
            @if signed_out {
                div.flash.ok role="status" { "You are signed out." }
            }
            p.lead { "The admin console of hubspot-gateway. Sign in with an API token that has the " code { "admin" } " scope (" code { "[[api.tokens]]" } " in the config)." }
            form method="post" action="/admin/sign-in" {
                (csrf_field(form_token))
                @if let Some(next) = next {
                    input type="hidden" name="next" value=(next);
                }
                div.field {
                    label for="token" { "Admin token" }
                    @if error.is_some() {
                        input #token type="password" name="token" autocomplete="current-password" required autofocus aria-invalid="true" aria-describedby="token-error";
                    } @else {
                        input #token type="password" name="token" autocomplete="current-password" required autofocus;
                    }
                    (field_error("token", error))
                }
                div.actions { button type="submit" { "Sign in" } }
            }
            p.hint { "Sessions last 8 hours and end when the daemon restarts or the token is removed from the config." }
        }
    }
}
