//! A scripted person at the simulator's authorize pages: opens an app's authorize URL, signs
//! in, picks the account, connects or cancels, with the same form posts a browser makes (see
//! the authorize module of `sim::http::oauth`). For tests and demos of an app's Connect flow.
//!
//! ```no_run
//! # async fn demo(authorize_url: &str) -> anyhow::Result<()> {
//! use hubspot_gateway::sim::browser::Browser;
//! let mut browser = Browser::new();
//! // The URL the app's redirect URI receives: `...?code=...&state=...`.
//! let callback = browser.authorize(authorize_url, "ann@sellerco.example", Some(62_515_001)).await?;
//! # Ok(()) }
//! ```

use anyhow::{anyhow, bail, Context as _};

/// One answer of the authorize pages.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    /// `sign-in`, `choose-account`, `consent`, `error`, or `redirect` (a 302 to the app).
    pub step: String,
    pub html: String,
    /// Where a 302 sends the browser: the app's redirect URI with `code` or `error`.
    pub location: Option<String>,
}

impl Page {
    /// The value of the first hidden field `name` (`request`, `portal_id`, `email`).
    pub fn field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.html.find(&marker)? + marker.len();
        let end = self.html[start..].find('"')? + start;
        Some(unescape(&self.html[start..end]))
    }

    /// The page's alert: an error page's reason, or a sign-in problem.
    pub fn alert(&self) -> Option<String> {
        let marker = "<p role=\"alert\">";
        let start = self.html.find(marker)? + marker.len();
        let end = self.html[start..].find("</p>")? + start;
        Some(unescape(&self.html[start..end]))
    }

    /// Every hidden `portal_id` on the page: the accounts a chooser offers.
    pub fn portal_ids(&self) -> Vec<i64> {
        let marker = "name=\"portal_id\" value=\"";
        self.html
            .match_indices(marker)
            .filter_map(|(at, _)| {
                let rest = &self.html[at + marker.len()..];
                rest[..rest.find('"')?].parse().ok()
            })
            .collect()
    }
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// A browser with a cookie jar of one cookie (the sign-in session) that does not follow
/// redirects, so the app's callback URL can be read instead of fetched.
pub struct Browser {
    http: reqwest::Client,
    origin: String,
    cookie: Option<String>,
}

impl Default for Browser {
    fn default() -> Self {
        Browser::new()
    }
}

impl Browser {
    pub fn new() -> Browser {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            // Invariant: a client without TLS roots or proxies to load always builds.
            .expect("a plain reqwest client builds");
        Browser {
            http,
            origin: String::new(),
            cookie: None,
        }
    }

    /// `GET` an authorize URL.
    pub async fn open(&mut self, url: &str) -> anyhow::Result<Page> {
        let parsed = url::Url::parse(url).with_context(|| format!("authorize URL {url:?}"))?;
        self.origin = parsed.origin().ascii_serialization();
        let mut request = self.http.get(url);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        self.read(request.send().await?).await
    }

    /// Posts the page's form for `step` (`sign-in`, `account`, `consent`, `sign-out`) with
    /// the page's `request` and these fields.
    pub async fn post(
        &mut self,
        page: &Page,
        step: &str,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<Page> {
        let request_id = page
            .field("request")
            .ok_or_else(|| anyhow!("the {} page has no form", page.step))?;
        let mut form = vec![("request", request_id.as_str())];
        form.extend_from_slice(fields);
        let mut request = self
            .http
            .post(format!("{}/oauth/authorize/{step}", self.origin))
            .form(&form);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        self.read(request.send().await?).await
    }

    pub async fn sign_in(&mut self, page: &Page, email: &str) -> anyhow::Result<Page> {
        self.post(page, "sign-in", &[("email", email)]).await
    }

    pub async fn choose_account(&mut self, page: &Page, portal_id: i64) -> anyhow::Result<Page> {
        let portal_id = portal_id.to_string();
        self.post(page, "account", &[("portal_id", &portal_id)])
            .await
    }

    /// "Connect app" (`true`) or "Cancel" on the consent page.
    pub async fn decide(&mut self, page: &Page, connect: bool) -> anyhow::Result<Page> {
        let portal_id = page.field("portal_id").unwrap_or_default();
        let decision = if connect { "connect" } else { "cancel" };
        let fields = [("portal_id", portal_id.as_str()), ("decision", decision)];
        self.post(page, "consent", &fields).await
    }

    /// The whole flow: open, sign in as `email` if asked, choose `portal_id` if asked (else
    /// the first account), connect. Returns the URL the app is redirected to.
    pub async fn authorize(
        &mut self,
        url: &str,
        email: &str,
        portal_id: Option<i64>,
    ) -> anyhow::Result<String> {
        let mut page = self.open(url).await?;
        for _ in 0..4 {
            page = match page.step.as_str() {
                "sign-in" => self.sign_in(&page, email).await?,
                "choose-account" => {
                    let first = page.portal_ids().first().copied();
                    let chosen = portal_id.or(first).context("no account to choose")?;
                    self.choose_account(&page, chosen).await?
                }
                "consent" => self.decide(&page, true).await?,
                "redirect" => return page.location.context("a redirect without a location"),
                _ => break,
            };
        }
        bail!(
            "the authorize pages stopped at {} ({}): {}",
            page.step,
            page.status,
            page.alert().unwrap_or_default()
        )
    }

    async fn read(&mut self, response: reqwest::Response) -> anyhow::Result<Page> {
        let status = response.status().as_u16();
        if let Some(set) = response
            .headers()
            .get("set-cookie")
            .and_then(|value| value.to_str().ok())
        {
            let pair = set.split(';').next().unwrap_or_default();
            self.cookie = (!set.contains("Max-Age=0")).then(|| pair.to_string());
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let html = response.text().await?;
        let step = match &location {
            Some(_) => "redirect".to_string(),
            None => {
                let marker = "data-step=\"";
                let start = html.find(marker).map(|at| at + marker.len());
                start
                    .and_then(|start| {
                        Some(html[start..start + html[start..].find('"')?].to_string())
                    })
                    .unwrap_or_default()
            }
        };
        Ok(Page {
            status,
            step,
            html,
            location,
        })
    }
}
