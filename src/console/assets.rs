//! The console's static files, embedded in the binary: one style sheet and one small script
//! (enhancement only: every page works without it). URLs carry a digest of the content, so
//! they can be cached for good and a new build is fetched at once.

use std::sync::LazyLock;

use bytes::Bytes;
use http::StatusCode;
use sha2::{Digest as _, Sha256};

use super::reply::response;
use crate::api::Response;

const FILES: [(&str, &str, &str); 2] = [
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("assets/console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/console.js"),
    ),
];

/// The first 12 hex digits of the SHA-256 of all files together.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hasher = Sha256::new();
    for (_, _, text) in FILES {
        hasher.update(text.as_bytes());
    }
    hex::encode(hasher.finalize())[..12].to_owned()
});

/// The URL of the asset `name`.
pub fn url(name: &str) -> String {
    format!("/admin/assets/{}/{name}", *VERSION)
}

/// `GET /admin/assets/{version}/{name}`: cached for a year when the version is current.
pub fn serve(version: &str, name: &str) -> Option<Response> {
    let (_, content_type, text) = FILES.into_iter().find(|(file, _, _)| *file == name)?;
    let cache = if version == *VERSION {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Some(response(
        StatusCode::OK,
        content_type,
        Bytes::from_static(text.as_bytes()),
        cache,
    ))
}
