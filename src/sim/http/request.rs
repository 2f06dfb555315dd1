//! A parsed incoming request: method, path segments, query pairs, headers and body.

use bytes::Bytes;
use hyper::http::request::Parts;

pub struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Request {
    pub fn new(parts: Parts, body: Bytes) -> Request {
        let query = parts
            .uri
            .query()
            .map(|query| {
                url::form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        Request {
            method: parts.method.as_str().to_string(),
            path: parts.uri.path().to_string(),
            query,
            headers: parts.headers,
            body,
        }
    }

    pub fn segments(&self) -> Vec<&str> {
        self.path.trim_matches('/').split('/').collect()
    }

    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A list parameter, repeated (`p=a&p=b`) and/or comma-separated (`p=a,b`).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(key, _)| key == name)
            .flat_map(|(_, value)| value.split(','))
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_string)
            .collect()
    }

    pub fn flag(&self, name: &str) -> bool {
        self.param(name)
            .is_some_and(|value| value.eq_ignore_ascii_case("true"))
    }

    pub fn bearer(&self) -> Option<&str> {
        let value = self.headers.get("authorization")?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then_some(token.trim())
    }

    /// Form fields (OAuth token requests): body, falling back to the query string.
    pub fn form(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(&self.body)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .or_else(|| self.param(name).map(str::to_string))
    }
}
