//! Pages for what went wrong: not found, a refused form (CSRF, origin), a body too large, the
//! store unavailable, HubSpot not connected yet. Said plainly, with the way back.

use http::StatusCode;
use maud::html;

use super::super::reply::Reply;
use crate::webhook::Rejection;

/// What a page handler answers.
pub type Outcome = Result<Reply, Failure>;

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("the store is unavailable")]
    Store(#[from] crate::store::Error),
    /// A store error another module reported as text (user mappings keep it `Clone`).
    #[error("the store is unavailable: {0}")]
    StoreText(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
}

impl From<crate::ownership::MappingError> for Failure {
    fn from(error: crate::ownership::MappingError) -> Self {
        match error {
            crate::ownership::MappingError::Store(detail) => Failure::StoreText(detail.to_string()),
            other => Failure::BadRequest(other.to_string()),
        }
    }
}

fn page(status: StatusCode, title: &str, text: &str) -> Reply {
    Reply::titled(
        title,
        None,
        html! {
            div.card {
                h1 { (title) }
                p { (text) }
                p { a href="/admin" { "Back to the console" } }
            }
        },
    )
    .with_status(status)
}

pub fn failure(failure: Failure) -> Reply {
    match &failure {
        Failure::Store(_) | Failure::StoreText(_) => {
            tracing::error!(error = %failure, "store error while rendering a console page");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Store unavailable",
                "The gateway could not read or write its store. Retry in a moment; the log says more.",
            )
        }
        Failure::NotFound(text) => page(StatusCode::NOT_FOUND, "Not found", text),
        Failure::BadRequest(text) => bad_request(text),
    }
}

pub fn not_found(status: StatusCode) -> Reply {
    if status == StatusCode::METHOD_NOT_ALLOWED {
        page(
            status,
            "Not allowed",
            "This page does not take that kind of request.",
        )
    } else {
        page(
            status,
            "Not found",
            "There is no console page at this address.",
        )
    }
}

pub fn internal() -> Reply {
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The page could not be built; the log says why.",
    )
}

pub fn bad_request(text: &str) -> Reply {
    page(StatusCode::BAD_REQUEST, "That did not work", text)
}

pub fn csrf() -> Reply {
    page(
        StatusCode::FORBIDDEN,
        "Form refused",
        "This form did not carry the console's security token (it may be older than your \
         session, or come from another site). Nothing was changed. Go back, reload the page \
         and try again.",
    )
}

pub fn forbidden_origin() -> Reply {
    page(
        StatusCode::FORBIDDEN,
        "Form refused",
        "This form was posted from another site. Nothing was changed.",
    )
}

pub fn body(rejection: &Rejection, limit: usize) -> Reply {
    let (status, _) = rejection.status_and_code();
    let text = match rejection {
        Rejection::TooLarge { .. } => format!(
            "The upload is larger than the {} KiB a request may carry (server.max_body_bytes). \
             Split the file, or raise the limit.",
            limit / 1024
        ),
        other => format!("The request could not be read: {other}."),
    };
    page(status, "Upload refused", &text)
}

/// Shown on pages that need the connected portal before the gateway has connected.
pub fn not_connected() -> maud::Markup {
    html! {
        div.notice.warn {
            p { strong { "Not connected to HubSpot yet." } " This page needs the portal the gateway mirrors; it fills in once the gateway has connected (see the Connection page and the log)." }
        }
    }
}
