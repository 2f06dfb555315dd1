//! What a console handler answers — a page, a redirect (with a message for the next page), a
//! download or JSON — and the headers every console response carries.

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use http_body_util::Full;
use maud::Markup;

use super::session::Flash;
use crate::api::Response;

/// No inline script or style, nothing from another origin, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
    script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'";

/// The console's sections, in the navigation's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Connection,
    Users,
    Settings,
    Mapping,
    Sync,
    Exports,
    Webhooks,
}

impl Section {
    pub const ALL: [Section; 7] = [
        Section::Connection,
        Section::Users,
        Section::Settings,
        Section::Mapping,
        Section::Sync,
        Section::Exports,
        Section::Webhooks,
    ];

    /// The page's name: its `<h1>` and its link in the navigation.
    pub fn title(self) -> &'static str {
        match self {
            Section::Connection => "Connection",
            Section::Users => "User mapping",
            Section::Settings => "Export settings",
            Section::Mapping => "Field mapping",
            Section::Sync => "Sync and filtering",
            Section::Exports => "Exports",
            Section::Webhooks => "Webhooks",
        }
    }

    pub fn href(self) -> &'static str {
        match self {
            Section::Connection => "/admin/connection",
            Section::Users => "/admin/users",
            Section::Settings => "/admin/settings",
            Section::Mapping => "/admin/mapping",
            Section::Sync => "/admin/sync",
            Section::Exports => "/admin/exports",
            Section::Webhooks => "/admin/webhooks",
        }
    }
}

/// An HTML page: its title, the section it belongs to, its content (starting with `<h1>`).
pub struct Page {
    pub title: String,
    pub section: Option<Section>,
    pub content: Markup,
    /// Reload every few seconds when scripts are off (a running export's progress).
    pub refresh_without_script: bool,
}

pub enum Body {
    Page(Page),
    Redirect(String),
    Download {
        content_type: &'static str,
        file_name: String,
        bytes: Vec<u8>,
    },
    Json(serde_json::Value),
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Body,
    pub cookies: Vec<String>,
    /// Shown once on the next page of the session.
    pub flash: Option<Flash>,
}

impl Reply {
    pub fn page(section: Section, content: Markup) -> Reply {
        Reply::titled(section.title(), Some(section), content)
    }

    pub fn titled(title: &str, section: Option<Section>, content: Markup) -> Reply {
        Reply {
            status: StatusCode::OK,
            body: Body::Page(Page {
                title: title.to_owned(),
                section,
                content,
                refresh_without_script: false,
            }),
            cookies: Vec::new(),
            flash: None,
        }
    }

    /// A 303 to `location` (after a form post: reloading does not post again).
    pub fn redirect(location: impl Into<String>) -> Reply {
        Reply {
            status: StatusCode::SEE_OTHER,
            body: Body::Redirect(location.into()),
            cookies: Vec::new(),
            flash: None,
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> Reply {
        self.status = status;
        self
    }

    pub fn with_flash(mut self, flash: Flash) -> Reply {
        self.flash = Some(flash);
        self
    }

    pub fn with_cookie(mut self, cookie: String) -> Reply {
        self.cookies.push(cookie);
        self
    }

    pub fn refreshing(mut self) -> Reply {
        if let Body::Page(page) = &mut self.body {
            page.refresh_without_script = true;
        }
        self
    }

    pub fn json(value: serde_json::Value) -> Reply {
        Reply {
            status: StatusCode::OK,
            body: Body::Json(value),
            cookies: Vec::new(),
            flash: None,
        }
    }

    pub fn download(content_type: &'static str, file_name: String, bytes: Vec<u8>) -> Reply {
        Reply {
            status: StatusCode::OK,
            body: Body::Download {
                content_type,
                file_name,
                bytes,
            },
            cookies: Vec::new(),
            flash: None,
        }
    }
}

/// A response with the console's security headers; `cache` is its `Cache-Control`.
pub fn response(status: StatusCode, content_type: &str, body: Bytes, cache: &str) -> Response {
    let mut response = http::Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let set = |headers: &mut http::HeaderMap, name: http::HeaderName, value: &str| {
        // Invariant: every value here is ASCII text without control characters.
        headers.insert(
            name,
            HeaderValue::from_str(value).expect("a valid header value"),
        );
    };
    set(headers, http::header::CONTENT_TYPE, content_type);
    set(headers, http::header::CACHE_CONTROL, cache);
    secure(headers);
    response
}

/// The headers every console response carries.
pub fn secure(headers: &mut http::HeaderMap) {
    let pairs = [
        (
            http::header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        ),
        (http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (http::header::REFERRER_POLICY, "same-origin"),
        (http::header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in pairs {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        http::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
}
