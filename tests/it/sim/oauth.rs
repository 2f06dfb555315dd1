//! OAuth install over real sockets: the authorize pages by hand (the exact form posts a
//! browser makes) up to the code exchange; helpers for the other OAuth tests.

use hubspot_gateway::sim::browser::Browser;
use hubspot_gateway::sim::{hub_domain, SimConfig, User};
use serde_json::Value;

use super::{read, Sim};

pub const REDIRECT: &str = "http://127.0.0.1:9/oauth/callback";
pub const SCOPES: &str = "oauth crm.objects.contacts.read crm.objects.contacts.write";

/// The app's authorize URL for `scope` and `optional_scope`.
pub fn authorize_url(sim: &Sim, scope: &str, optional: &str, state: &str) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &sim.handle.config().client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("optional_scope", optional)
        .append_pair("state", state)
        .finish();
    format!("{}?{query}", sim.handle.authorize_url())
}

/// A query parameter of a URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    let url = url::Url::parse(url).expect("a URL");
    let value = url.query_pairs().find(|(key, _)| key == name)?.1;
    Some(value.into_owned())
}

/// `POST /oauth/v1/token` with these fields plus the app's client id and secret.
pub async fn token_request(sim: &Sim, fields: &[(&str, &str)]) -> (u16, Value) {
    let config = sim.handle.config();
    let mut form = vec![
        ("client_id", config.client_id.as_str()),
        ("client_secret", config.client_secret.as_str()),
    ];
    form.extend_from_slice(fields);
    let response = sim.http.post(sim.url("/oauth/v1/token")).form(&form).send();
    read(response.await.expect("token request")).await
}

pub async fn exchange(sim: &Sim, code: &str, redirect_uri: &str) -> (u16, Value) {
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ];
    token_request(sim, &fields).await
}

/// Signs in as `user`, consents in `portal_id`, exchanges the code: the token response.
pub async fn connect(sim: &Sim, user: &User, portal_id: i64, scope: &str, optional: &str) -> Value {
    let url = authorize_url(sim, scope, optional, "st");
    let callback = Browser::new()
        .authorize(&url, &user.email, Some(portal_id))
        .await
        .expect("the authorize pages end in a redirect");
    let code = param(&callback, "code").expect("a code");
    let (status, tokens) = exchange(sim, &code, REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// The access token of a token response.
pub fn access(tokens: &Value) -> String {
    tokens["access_token"].as_str().unwrap().to_string()
}

pub async fn get_with(sim: &Sim, token: &str, path: &str) -> (u16, Value) {
    let response = sim.http.get(sim.url(path)).bearer_auth(token).send();
    read(response.await.expect("request")).await
}

/// Answers `(status, html, location, set-cookie)`.
async fn page(response: reqwest::Response) -> (u16, String, Option<String>, Option<String>) {
    let header = |name| {
        let value = response.headers().get(name)?;
        Some(value.to_str().ok()?.to_string())
    };
    let (location, cookie) = (header("location"), header("set-cookie"));
    let status = response.status().as_u16();
    (
        status,
        response.text().await.expect("body"),
        location,
        cookie,
    )
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect(name) + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

#[tokio::test]
async fn install_by_hand_with_the_exact_form_posts() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let (main, other) = (sim.handle.config().portal_id, 62_515_002);
    let user = sim.handle.control().users()[0].clone();
    assert_eq!(
        user.portal_ids,
        vec![main, other],
        "the first owner has two accounts"
    );
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = authorize_url(&sim, SCOPES, "crm.objects.deals.read", "s1");
    let (status, html, _, _) = page(browser.get(&url).send().await.unwrap()).await;
    assert!(
        status == 200 && html.contains("data-step=\"sign-in\""),
        "{html}"
    );
    let request = hidden(&html, "request");
    let post = |step: &str, form: Vec<(&str, String)>, cookie: Option<&str>| {
        let mut post = browser
            .post(sim.url(&format!("/oauth/authorize/{step}")))
            .form(&form);
        if let Some(cookie) = cookie {
            post = post.header("cookie", cookie);
        }
        post.send()
    };
    let form = vec![
        ("request", request.clone()),
        ("email", user.email.to_uppercase()),
    ];
    let (status, html, _, cookie) = page(post("sign-in", form, None).await.unwrap()).await;
    assert!(
        status == 200 && html.contains("data-step=\"choose-account\""),
        "{html}"
    );
    let cookie = cookie.expect("sign-in sets a cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let cookie = cookie.split(';').next().unwrap().to_string();
    assert!(html.contains(&hub_domain(main)) && html.contains(&hub_domain(other)));
    let form = vec![
        ("request", request.clone()),
        ("portal_id", main.to_string()),
    ];
    let (status, html, _, _) = page(post("account", form, Some(&cookie)).await.unwrap()).await;
    assert!(
        status == 200 && html.contains("data-step=\"consent\""),
        "{html}"
    );
    assert!(html.contains("crm.objects.contacts.write") && html.contains("crm.objects.deals.read"));
    assert!(html.contains("Connect app") && html.contains("Cancel"));
    let form = vec![
        ("request", request.clone()),
        ("portal_id", main.to_string()),
        ("decision", "connect".to_string()),
    ];
    let (status, _, location, _) = page(post("consent", form, Some(&cookie)).await.unwrap()).await;
    let location = location.expect("Connect redirects to the app");
    assert!(
        status == 302 && location.starts_with(REDIRECT),
        "{location}"
    );
    assert_eq!(param(&location, "state").as_deref(), Some("s1"));
    let code = param(&location, "code").expect("a code");

    let (status, tokens) = exchange(&sim, &code, REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        (
            tokens["token_type"].as_str(),
            tokens["token_use"].as_str(),
            tokens["expires_in"].as_u64()
        ),
        (Some("bearer"), Some("access_token"), Some(1800))
    );
    assert_eq!(
        (tokens["hub_id"].as_i64(), tokens["user_id"].as_u64()),
        (Some(main), Some(user.user_id))
    );
    let scopes: Vec<&str> = tokens["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        scopes,
        [
            "oauth",
            "crm.objects.contacts.read",
            "crm.objects.contacts.write",
            "crm.objects.deals.read"
        ]
    );
    let again = browser
        .get(&url)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let (_, html, _, _) = page(again).await;
    assert!(
        html.contains("data-step=\"choose-account\""),
        "the cookie keeps the browser signed in"
    );
}
