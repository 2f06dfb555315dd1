//! Real headless Chromium through WebDriver: a chromedriver per test on a free port (in its own
//! process group, killed with the browser when the test ends, pass or fail), a fresh profile,
//! and helpers to act as a person would: fill, click, read, screenshot.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::support::process::free_port;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

pub struct Browser {
    pub client: Client,
    /// The gateway's base URL (`http://127.0.0.1:PORT`).
    pub base: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// Where screenshots go: `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    /// Starts chromedriver and a headless Chromium at 1280×800 for the gateway at `base`.
    pub async fn start(base: &str) -> Browser {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "the console's browser tests need Debian's chromium and chromium-driver \
             (apt-get install chromium chromium-driver; .ci/run installs them)"
        );
        let port = free_port();
        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command.spawn().expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,800",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("an object literal")
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let client = loop {
            match ClientBuilder::new(connector.clone())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(error) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "no WebDriver session: {error}"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        let browser = Browser {
            client,
            base: base.trim_end_matches('/').to_owned(),
            driver,
            _profile: profile,
        };
        browser.resize(1280, 800).await;
        browser
    }

    /// Sets the viewport (the window's inner size) to `width` × `height`.
    pub async fn resize(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.unwrap();
        // The window's frame takes some of it: grow the window until the viewport fits.
        let inner = self
            .client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .unwrap();
        let (w, h) = (
            inner[0].as_u64().unwrap() as u32,
            inner[1].as_u64().unwrap() as u32,
        );
        if (w, h) != (width, height) {
            self.client
                .set_window_size(2 * width - w, 2 * height - h)
                .await
                .unwrap();
        }
    }

    pub async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    pub async fn find(&self, css: &str) -> Element {
        self.wait_for(css).await
    }

    /// Waits (up to 10 s) until `css` matches an element.
    pub async fn wait_for(&self, css: &str) -> Element {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                return element;
            }
            if tokio::time::Instant::now() >= deadline {
                let url = self.client.current_url().await.unwrap();
                let page = self
                    .client
                    .execute(
                        "return document.body ? document.body.innerText : '';",
                        vec![],
                    )
                    .await
                    .unwrap();
                panic!(
                    "no element matches {css:?} on {url}; the page says:\n{}",
                    page.as_str().unwrap_or("")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn all(&self, css: &str) -> Vec<Element> {
        self.client.find_all(Locator::Css(css)).await.unwrap()
    }

    /// The visible text of the first element matching `css` (retried while the page is being
    /// replaced, e.g. by a reload the page's script started).
    pub async fn text(&self, css: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match self.find(css).await.text().await {
                Ok(text) => return text,
                Err(error) => assert!(
                    tokio::time::Instant::now() < deadline,
                    "cannot read {css:?}: {error}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Types `text` into the field `css` (cleared first).
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    /// Takes the script's confirm prompts off this page's forms, so pressing a button that
    /// asks first shows the confirmation page a browser without scripts gets.
    pub async fn without_confirm_prompts(&self) {
        self.client
            .execute(
                "for (const f of document.querySelectorAll('[data-confirm]')) f.removeAttribute('data-confirm');",
                vec![],
            )
            .await
            .unwrap();
    }

    /// Clicks the button or link whose visible text is `text` (inside `scope`, a CSS
    /// selector), and waits for the page it leads to.
    pub async fn press(&self, scope: &str, text: &str) {
        self.mark_page().await;
        self.press_only(scope, text).await;
        self.wait_for_new_page().await;
    }

    /// Marks the current document, so that [`Browser::wait_for_new_page`] sees it replaced.
    pub async fn mark_page(&self) {
        self.client
            .execute("window.__previous_page = true;", vec![])
            .await
            .unwrap();
    }

    /// Waits until the marked document has been replaced and the new one has loaded.
    pub async fn wait_for_new_page(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let replaced = self
                .client
                .execute(
                    "return window.__previous_page !== true && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            if let Ok(Value::Bool(true)) = replaced {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "no new page loaded");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Clicks the button or link whose visible text is `text`, waiting for nothing (e.g. it
    /// opens a dialog).
    pub async fn press_only(&self, scope: &str, text: &str) {
        let xpath = format!("//*[self::button or self::a][normalize-space(.)={text:?}]",);
        let container = self.find(scope).await;
        let target = container
            .find(Locator::XPath(&format!(".{xpath}")))
            .await
            .unwrap_or_else(|_| panic!("no button or link {text:?} in {scope}"));
        target.click().await.unwrap();
    }

    /// The page's `<h1>`.
    pub async fn heading(&self) -> String {
        self.text("h1").await
    }

    /// Saves the whole page (its full height, at the current width) as
    /// `target/screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) {
        let size = self
            .client
            .execute(
                "return [window.innerWidth, window.innerHeight, document.documentElement.scrollHeight];",
                vec![],
            )
            .await
            .unwrap();
        let (width, height, full) = (
            size[0].as_u64().unwrap() as u32,
            size[1].as_u64().unwrap() as u32,
            size[2].as_u64().unwrap() as u32,
        );
        if full > height {
            self.resize(width, full.min(4000)).await;
        }
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
        if full > height {
            self.resize(width, height).await;
        }
    }

    /// Whether the page scrolls sideways (it must not: wide tables scroll inside their box).
    pub async fn overflows_sideways(&self) -> bool {
        self.client
            .execute(
                "return document.documentElement.scrollWidth > window.innerWidth + 1;",
                vec![],
            )
            .await
            .unwrap()
            .as_bool()
            .unwrap()
    }

    /// Form fields without a label, and tables without `<th>` (described, for the message).
    pub async fn accessibility_gaps(&self) -> Vec<String> {
        let script = r#"
            const gaps = [];
            for (const field of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
              if (field.labels.length === 0 && !field.getAttribute('aria-label')) {
                gaps.push('unlabelled ' + field.outerHTML.slice(0, 120));
              }
            }
            for (const table of document.querySelectorAll('table')) {
              if (table.querySelectorAll('th').length === 0) gaps.push('table without th');
            }
            if (document.querySelectorAll('h1').length !== 1) gaps.push('not exactly one h1');
            return gaps;"#;
        let gaps = self.client.execute(script, vec![]).await.unwrap();
        serde_json::from_value(gaps).unwrap()
    }

    /// Signs in through the form with `token`.
    pub async fn sign_in(&self, token: &str) {
        self.open("/admin/sign-in").await;
        self.fill("#token", token).await;
        self.press("form", "Sign in").await;
    }

    /// Ends the WebDriver session (Chromium exits) and chromedriver.
    pub async fn close(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        self.kill();
    }

    fn kill(&mut self) {
        // The whole process group: chromedriver and the Chromium it started.
        unsafe { libc::kill(-(self.driver.id() as i32), libc::SIGKILL) };
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(None) = self.driver.try_wait() {
            self.kill();
        }
    }
}
