//! Signing in and out, the session cookie's flags, CSRF and origin checks on every form, the
//! security headers on every response, one-time sign-in links, and the confirmation page a
//! destructive form gets when no script asked first.

use std::time::Duration;

use reqwest::redirect::Policy;

use super::Setup;
use crate::support::{ADMIN_TOKEN, EXPORT_TOKEN, READ_TOKEN};

const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_refuses_wrong_and_lower_scope_tokens_and_signs_out() {
    let setup = Setup::start().await;
    let browser = setup.browser().await;
    browser.open("/admin/users").await;
    let url = browser.client.current_url().await.unwrap();
    assert_eq!(
        url.path(),
        "/admin/sign-in",
        "a page behind sign-in sends to the form"
    );
    assert_eq!(browser.heading().await, "Sign in");

    browser.fill("#token", "not-a-token").await;
    browser.press("form", "Sign in").await;
    let error = browser.text("#token-error").await;
    assert!(error.contains("not valid"), "{error}");
    assert_eq!(
        browser
            .find("#token")
            .await
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    browser.screenshot("console-sign-in-refused").await;
    for (token, scope) in [(READ_TOKEN, "read"), (EXPORT_TOKEN, "export")] {
        browser.fill("#token", token).await;
        browser.press("form", "Sign in").await;
        let error = browser.text("#token-error").await;
        assert!(
            error.contains(&format!("has the {scope} scope")) && error.contains("admin scope"),
            "{error}"
        );
    }

    browser.fill("#token", ADMIN_TOKEN).await;
    browser.press("form", "Sign in").await;
    assert_eq!(
        browser.heading().await,
        "User mapping",
        "back to the page asked for"
    );
    assert!(browser.text(".flash").await.contains("Signed in"));
    let cookies = browser.client.get_all_cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|cookie| cookie.name() == "hg_session")
        .expect("a session cookie");
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(format!("{:?}", session.same_site()), "Some(Strict)");
    assert_eq!(session.path(), Some("/admin"));
    assert_ne!(
        session.secure(),
        Some(true),
        "plain HTTP here (Secure under TLS)"
    );

    browser.open("/admin/connection").await;
    assert_eq!(browser.heading().await, "Connection");
    assert!(browser.text("main").await.contains("Connected"));
    browser.screenshot("console-connection").await;
    browser.press("header", "Sign out").await;
    assert!(browser.text("main").await.contains("You are signed out"));
    browser.open("/admin/sync").await;
    assert_eq!(browser.heading().await, "Sign in");
    browser.close().await;
    setup.stop().await;
}

/// A client that sees redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn hidden_csrf(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[start..start + 64].to_owned()
}

fn cookie_value(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
        .map(|value| {
            let id = value[name.len() + 1..]
                .split(';')
                .next()
                .unwrap()
                .to_owned();
            (id, value.to_owned())
        })
}

/// Signs in with plain HTTP requests; the session cookie header and the session's CSRF token.
pub async fn session(base: &str) -> (String, String) {
    let http = client();
    let form = http
        .get(format!("{base}/admin/sign-in"))
        .send()
        .await
        .unwrap();
    let (sign_in, _) = cookie_value(&form, "hg_sign_in").expect("a sign-in cookie");
    let token = hidden_csrf(&form.text().await.unwrap());
    let signed = http
        .post(format!("{base}/admin/sign-in"))
        .header("cookie", format!("hg_sign_in={sign_in}"))
        .form(&[("csrf", token.as_str()), ("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    let (id, _) = cookie_value(&signed, "hg_session").expect("a session cookie");
    let cookie = format!("hg_session={id}");
    let page = http
        .get(format!("{base}/admin/sync"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csrf = hidden_csrf(&page.text().await.unwrap());
    (cookie, csrf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_need_their_csrf_token_and_every_response_is_locked_down() {
    let setup = Setup::start().await;
    let base = setup.base();
    let http = client();

    // The sign-in form: headers, its own token in a cookie, refused without it.
    let form = http
        .get(format!("{base}/admin/sign-in"))
        .send()
        .await
        .unwrap();
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(form.headers()[name], value, "{name}");
    }
    let (_, flags) = cookie_value(&form, "hg_sign_in").unwrap();
    assert!(
        flags.contains("HttpOnly; SameSite=Strict") && flags.contains("Path=/admin"),
        "{flags}"
    );
    let html = form.text().await.unwrap();
    assert!(
        !html.contains("style=") && !html.contains("<script>"),
        "no inline style or script"
    );
    let refused = http
        .post(format!("{base}/admin/sign-in"))
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("Form refused"));

    // The session cookie's flags.
    let sign_in = http
        .get(format!("{base}/admin/sign-in"))
        .send()
        .await
        .unwrap();
    let (pre, _) = cookie_value(&sign_in, "hg_sign_in").unwrap();
    let token = hidden_csrf(&sign_in.text().await.unwrap());
    let signed = http
        .post(format!("{base}/admin/sign-in"))
        .header("cookie", format!("hg_sign_in={pre}"))
        .form(&[("csrf", token.as_str()), ("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    let (_, flags) = cookie_value(&signed, "hg_session").unwrap();
    assert!(
        flags.ends_with("; Max-Age=28800; Path=/admin; HttpOnly; SameSite=Strict"),
        "{flags}"
    );

    // Every post of a signed-in session needs the session's token and this origin.
    let (cookie, csrf) = session(&base).await;
    let run = format!("{base}/admin/sync/contacts/run");
    /// (form fields, Origin header, expected status).
    type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>, u16);
    let cases: [Case; 4] = [
        (&[], None, 403),
        (&[("csrf", "0000")], None, 403),
        (
            &[("csrf", csrf.as_str())],
            Some("https://evil.example"),
            403,
        ),
        (&[("csrf", csrf.as_str())], None, 303),
    ];
    for (fields, origin, expected) in cases {
        let mut request = http.post(&run).header("cookie", &cookie).form(fields);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), expected, "{fields:?} {origin:?}");
        assert_eq!(response.headers()["content-security-policy"], CSP);
        if expected == 403 {
            assert!(response
                .text()
                .await
                .unwrap()
                .contains("Nothing was changed"));
        }
    }

    // Without a script, a destructive form gets a confirmation page, which posts confirmed.
    let confirm = http
        .post(format!("{base}/admin/sync/contacts/clear-matches"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 200);
    let page = confirm.text().await.unwrap();
    assert!(
        page.contains("Clear the recorded matches of contacts?"),
        "{page}"
    );
    assert!(page.contains("name=\"confirmed\" value=\"yes\""));
    assert!(page.contains("action=\"/admin/sync/contacts/clear-matches\""));

    // Assets: same origin, cached for good, locked down like pages.
    let css_path = {
        let start = page.find("/admin/assets/").unwrap();
        let end = start + page[start..].find('"').unwrap();
        page[start..end].to_owned()
    };
    let css = http.get(format!("{base}{css_path}")).send().await.unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(
        css.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(css.headers()["content-security-policy"], CSP);

    // A one-time sign-in link works once.
    let link = setup.gateway.console.sign_in_link(&base);
    let opened = http.get(&link).send().await.unwrap();
    assert_eq!(opened.status(), 303);
    assert_eq!(opened.headers()["location"], "/admin/connection");
    assert!(cookie_value(&opened, "hg_session").is_some());
    let again = http.get(&link).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(cookie_value(&again, "hg_session").is_none());

    // Unknown console paths are the console's 404, not the API's JSON.
    let missing = http
        .get(format!("{base}/admin/nothing"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    tokio::time::timeout(Duration::from_secs(30), setup.stop())
        .await
        .unwrap();
}
