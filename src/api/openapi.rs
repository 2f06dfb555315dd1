//! `GET /openapi.json`: the OpenAPI 3.1 description of the whole HTTP API, kept in the
//! repository (`openapi.json`) and checked against the route table by a test.

use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;

use super::error::{ApiError, Response};
use super::router::Call;
use super::State;

pub const DOCUMENT: &str = include_str!("../../openapi.json");

pub fn document(_: &State, _: &Call<'_>) -> Result<Response, ApiError> {
    Ok(http::Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from_static(DOCUMENT.as_bytes())))
        .expect("static response parts are valid"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::router::ROUTES;
    use super::DOCUMENT;

    /// Every route the router serves is documented, and nothing else is.
    #[test]
    fn document_matches_the_route_table() {
        let document: serde_json::Value =
            serde_json::from_str(DOCUMENT).expect("openapi.json parses");
        assert_eq!(document["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
        let mut documented = BTreeSet::new();
        for (path, item) in document["paths"].as_object().expect("paths") {
            for method in ["get", "put", "post", "delete", "patch"] {
                if item.get(method).is_some() {
                    documented.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        let served: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|route| (route.method.to_string(), route.path.to_string()))
            .collect();
        assert_eq!(
            served.difference(&documented).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "served but undocumented"
        );
        assert_eq!(
            documented.difference(&served).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "documented but not served"
        );
    }
}
