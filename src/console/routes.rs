//! The console's routes: method, path template, who may call it and its handler.

use http::Method;

use super::pages::{
    connection, connection_forms, exports, job, job_record, mapping, mapping_test, owner_picker,
    portal, problem::Outcome, settings, sign_in, sync, user_connection, users, webhooks,
};
use super::Ctx;

/// The one handler signature. Every page reads the store, so every handler runs on the
/// blocking pool, where it may also wait for HubSpot ([`Ctx::wait`]).
pub type Handler = fn(&Ctx) -> Outcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (the sign-in page and one-time links).
    Public,
    /// The sign-in form's post: its CSRF token is the one in the sign-in cookie.
    SignInForm,
    /// A signed-in session.
    Session,
}

pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub handler: Handler,
}

const fn get(path: &'static str, handler: Handler) -> Route {
    Route {
        method: Method::GET,
        path,
        access: Access::Session,
        handler,
    }
}

const fn post(path: &'static str, handler: Handler) -> Route {
    Route {
        method: Method::POST,
        path,
        access: Access::Session,
        handler,
    }
}

pub const ROUTES: &[Route] = &[
    get("/admin", |_| {
        Ok(super::Reply::redirect("/admin/connection"))
    }),
    Route {
        method: Method::GET,
        path: "/admin/sign-in",
        access: Access::Public,
        handler: sign_in::form,
    },
    Route {
        method: Method::POST,
        path: "/admin/sign-in",
        access: Access::SignInForm,
        handler: sign_in::submit,
    },
    Route {
        method: Method::GET,
        path: "/admin/sign-in/{code}",
        access: Access::Public,
        handler: sign_in::link,
    },
    post("/admin/sign-out", sign_in::sign_out),
    post("/admin/portal", portal::choose),
    get("/admin/connection", connection::page),
    post("/admin/connection/connect", connection_forms::connect),
    post("/admin/connection/disconnect", connection_forms::disconnect),
    post("/admin/connection/remove", connection_forms::remove),
    post(
        "/admin/connection/preferences",
        connection_forms::preferences,
    ),
    post(
        "/admin/connection/exports",
        connection_forms::exports_switch,
    ),
    get("/admin/users", users::page),
    post("/admin/users/auto", users::auto),
    post("/admin/users/reset", users::reset),
    get("/admin/users/{email}", owner_picker::edit),
    post("/admin/users/{email}", owner_picker::save),
    post("/admin/users/{email}/remove", users::remove),
    post("/admin/users/{email}/connect", user_connection::connect),
    post(
        "/admin/users/{email}/disconnect",
        user_connection::disconnect,
    ),
    get("/admin/settings", settings::page),
    post("/admin/settings", settings::save),
    post("/admin/settings/reset", settings::reset),
    get("/admin/mapping", |_| {
        Ok(super::Reply::redirect("/admin/mapping/contacts"))
    }),
    get("/admin/mapping/{type}", mapping::page),
    post("/admin/mapping/{type}", mapping::edit),
    post("/admin/mapping/{type}/test", mapping_test::test),
    get("/admin/sync", sync::page),
    post("/admin/sync/schedule", sync::save_schedule),
    post("/admin/sync/schedule/reset", sync::reset_schedule),
    post("/admin/sync/{type}/run", sync::run_now),
    post("/admin/sync/{type}/clear-matches", sync::clear_matches),
    get("/admin/exports", exports::page),
    post("/admin/exports/upload", exports::upload),
    get("/admin/exports/drafts/{draft}", exports::review),
    post("/admin/exports/drafts/{draft}", exports::decide),
    get("/admin/exports/{id}", job::page),
    get("/admin/exports/{id}/progress", job::progress),
    get("/admin/exports/{id}/results.csv", job_record::results_csv),
    get("/admin/exports/{id}/records/{row}", job_record::record),
    get("/admin/webhooks", webhooks::page),
];

/// The route for this method and path, with its decoded `{placeholders}`.
pub fn find(method: &Method, path: &str) -> Option<(&'static Route, Vec<String>)> {
    ROUTES
        .iter()
        .filter(|route| route.method == method)
        .find_map(|route| Some((route, matches(route.path, path)?)))
}

/// Whether some route has this path (another method then gets 405).
pub fn path_known(path: &str) -> bool {
    ROUTES
        .iter()
        .any(|route| matches(route.path, path).is_some())
}

fn matches(template: &str, path: &str) -> Option<Vec<String>> {
    let parts: Vec<&str> = template.split('/').collect();
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (part, segment) in parts.iter().zip(&segments) {
        if part.starts_with('{') {
            if segment.is_empty() {
                return None;
            }
            let decoded = percent_encoding_decode(segment);
            params.push(decoded);
        } else if part != segment {
            return None;
        }
    }
    Some(params)
}

fn percent_encoding_decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_their_templates() {
        let (route, params) = find(&Method::GET, "/admin/users/ann%40x.test").unwrap();
        assert_eq!(
            (route.path, params),
            ("/admin/users/{email}", vec!["ann@x.test".to_owned()])
        );
        let (route, _) = find(&Method::GET, "/admin/exports/drafts/3").unwrap();
        assert_eq!(route.path, "/admin/exports/drafts/{draft}");
        assert!(find(&Method::DELETE, "/admin/users").is_none());
        assert!(path_known("/admin/users"));
        assert!(!path_known("/admin/nothing/here"));
        assert!(
            find(&Method::GET, "/admin/").is_some(),
            "a trailing slash is the same page"
        );
    }
}
