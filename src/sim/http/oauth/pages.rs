//! The authorize pages' HTML: plain forms, no script, every value escaped. `<main
//! data-step="…">` names the page (`sign-in`, `choose-account`, `consent`, `error`) for tests.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;

use crate::sim::accounts::{hub_domain, User};
use crate::sim::http::reply::Reply;

/// Known users listed as one-click sign-ins (the field takes any email).
const LISTED_USERS: usize = 20;

pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn page(status: u16, step: &str, title: &str, body: &str) -> Reply {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} | HubSpot (simulated)</title></head>\n<body><main data-step=\"{step}\">\n<h1>{title}</h1>\n{body}</main></body></html>\n",
        title = escape(title),
    );
    // Invariant: a valid status code and static header values make a valid response.
    Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .header(
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        )
        .body(Full::new(Bytes::from(html)))
        .expect("static response parts are valid")
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        escape(name),
        escape(value)
    )
}

fn form(step: &str, request: &str, fields: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/oauth/authorize/{step}\">{}{fields}</form>\n",
        hidden("request", request)
    )
}

fn sign_out(request: &str) -> String {
    form(
        "sign-out",
        request,
        "<button type=\"submit\">Use another HubSpot user</button>",
    )
}

/// HubSpot's error page: nothing is sent back to the app.
pub fn error(status: u16, message: &str) -> Reply {
    let body = format!(
        "<p role=\"alert\">{}</p>\n<p>Nothing was sent back to the app. Start again from the app once this is fixed.</p>\n",
        escape(message)
    );
    page(status, "error", "Authorization failed", &body)
}

/// Sign-in: type an email, or pick one of the known users (no password: simulated login).
pub fn sign_in(status: u16, request: &str, problem: Option<&str>, users: &[User]) -> Reply {
    let mut body = String::new();
    if let Some(problem) = problem {
        body.push_str(&format!("<p role=\"alert\">{}</p>\n", escape(problem)));
    }
    body.push_str(&form(
        "sign-in",
        request,
        "<label for=\"email\">Email address</label> <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required> <button type=\"submit\">Sign in</button>",
    ));
    let listed = users.iter().filter(|user| !user.portal_ids.is_empty());
    let listed: Vec<&User> = listed.take(LISTED_USERS).collect();
    if !listed.is_empty() {
        body.push_str("<h2>Users of this simulator</h2>\n");
        for user in listed {
            let button = format!(
                "{}<button type=\"submit\">Sign in as {}</button>",
                hidden("email", &user.email),
                escape(&user.email)
            );
            body.push_str(&form("sign-in", request, &button));
        }
    }
    page(status, "sign-in", "Sign in to HubSpot", &body)
}

/// The account chooser: one button per account the user belongs to.
pub fn choose_account(request: &str, app: &str, user: &User) -> Reply {
    let mut body = format!(
        "<p>Signed in as {}. Choose the HubSpot account to connect {} to.</p>\n",
        escape(&user.email),
        escape(app)
    );
    for portal_id in &user.portal_ids {
        let button = format!(
            "{}<button type=\"submit\">{} ({portal_id})</button>",
            hidden("portal_id", &portal_id.to_string()),
            escape(&hub_domain(*portal_id))
        );
        body.push_str(&form("account", request, &button));
    }
    body.push_str(&sign_out(request));
    page(200, "choose-account", "Choose an account", &body)
}

/// What the consent page shows.
pub struct Consent<'a> {
    pub request: &'a str,
    pub app: &'a str,
    pub user: &'a User,
    pub portal_id: i64,
    pub required: &'a [String],
    pub optional: &'a [String],
}

/// The consent page: the scopes, "Connect app" and "Cancel".
pub fn consent(consent: &Consent) -> Reply {
    let list = |scopes: &[String]| -> String {
        let items: Vec<String> = scopes
            .iter()
            .map(|scope| format!("<li><code>{}</code></li>", escape(scope)))
            .collect();
        format!("<ul>{}</ul>\n", items.join(""))
    };
    let mut body = format!(
        "<p>{} wants to connect to the HubSpot account {} ({}), as {}.</p>\n<h2>Required access</h2>\n{}",
        escape(consent.app),
        escape(&hub_domain(consent.portal_id)),
        consent.portal_id,
        escape(&consent.user.email),
        list(consent.required)
    );
    if !consent.optional.is_empty() {
        body.push_str("<h2>Optional access</h2>\n");
        body.push_str(&list(consent.optional));
    }
    let buttons = format!(
        "{}<button type=\"submit\" name=\"decision\" value=\"connect\">Connect app</button> <button type=\"submit\" name=\"decision\" value=\"cancel\">Cancel</button>",
        hidden("portal_id", &consent.portal_id.to_string())
    );
    body.push_str(&form("consent", consent.request, &buttons));
    body.push_str(&sign_out(consent.request));
    page(200, "consent", "Connect app", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(
            hidden("state", "\"><script>"),
            r#"<input type="hidden" name="state" value="&quot;&gt;&lt;script&gt;">"#
        );
    }
}
