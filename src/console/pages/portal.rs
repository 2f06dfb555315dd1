//! `POST /admin/portal`: the header's portal switcher, in a deployment of several portals.
//! The session's pages show the chosen portal from then on.

use super::super::reply::{Reply, Section};
use super::super::session::Flash;
use super::super::Ctx;
use super::problem::{Failure, Outcome};

pub fn choose(ctx: &Ctx) -> Outcome {
    let named = crate::api::sites::named(ctx.form.get("portal"))
        .map_err(|unselected| Failure::BadRequest(unselected.to_string()))?
        .ok_or_else(|| Failure::BadRequest("choose a HubSpot account".into()))?;
    let site = ctx
        .state()
        .site(Some(named))
        .map_err(|unselected| Failure::NotFound(unselected.to_string()))?;
    if let (Some(session), Some(hub_id)) = (&ctx.session, site.hub_id()) {
        ctx.console.sessions.choose_portal(session, hub_id);
    }
    Ok(Reply::redirect(back(ctx))
        .with_flash(Flash::ok(format!("Showing HubSpot account {named}."))))
}

/// The section the switch was made from (a page of one record belongs to the portal left).
fn back(ctx: &Ctx) -> &'static str {
    let from = ctx
        .headers
        .get(http::header::REFERER)
        .and_then(|value| value.to_str().ok())
        .and_then(|referer| url::Url::parse(referer).ok())
        .map(|url| url.path().to_owned())
        .unwrap_or_default();
    Section::ALL
        .into_iter()
        .map(Section::href)
        .find(|href| from == *href || from.starts_with(&format!("{href}/")))
        .unwrap_or("/admin")
}
