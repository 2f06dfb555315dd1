//! The journal's files behind pre-signed URLs, answered as an S3-like store does: no
//! `Authorization` (the signature is in the query), 403 once expired, 404 once deleted.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;

use super::super::reply::{correlation_id, Reply};
use super::super::Request;
use crate::sim::control::Shared;
use crate::sim::journal::UrlCheck;
use crate::time;

/// Stats label of downloads (they are not API calls).
pub const DOWNLOAD_LABEL: &str = "GET /journal-files/{portalId}/{offset}.json";

/// `http://host:port` as the caller reached us: file URLs point back to this server.
pub fn base_url(request: &Request) -> String {
    let host = request
        .headers
        .get("host")
        .and_then(|host| host.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

pub fn url(base: &str, portal_id: i64, offset: &str, ttl_ms: u64, signature: &str) -> String {
    format!(
        "{base}/journal-files/{portal_id}/{offset}.json?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires={}&X-Amz-Signature={signature}",
        ttl_ms / 1000
    )
}

/// `GET /journal-files/{portalId}/{offset}.json?...&X-Amz-Signature=...`.
pub fn download(shared: &Shared, request: &Request) -> Reply {
    let segments = request.segments();
    let offset = match segments.as_slice() {
        ["journal-files", _, file] => file.strip_suffix(".json").unwrap_or(file),
        _ => return s3_error(404, "NoSuchKey", "The specified key does not exist."),
    };
    if request.method != "GET" {
        return s3_error(
            405,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        );
    }
    if request.headers.contains_key("authorization") {
        return s3_error(400, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified");
    }
    let signature = request.param("X-Amz-Signature").unwrap_or_default();
    let now = time::now_ms();
    let mut guard = shared.journal.lock();
    let journal = &mut *guard;
    journal.tick(now);
    let bytes = match journal.store.check_url(offset, signature, now) {
        UrlCheck::Unknown => {
            return s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        }
        UrlCheck::Expired => return s3_error(403, "AccessDenied", "Request has expired"),
        UrlCheck::Gone => return s3_error(404, "NoSuchKey", "The specified key does not exist."),
        UrlCheck::File(entry) => entry.file(journal.faults.take_download_corruption()),
    };
    // Invariant: a valid status and static header values make a valid response.
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .expect("static response parts are valid")
}

fn s3_error(status: u16, code: &str, message: &str) -> Reply {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{}</RequestId></Error>",
        correlation_id()
    );
    // Invariant: as above.
    Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}
