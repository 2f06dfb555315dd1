//! Error classification against HubSpot's documented error bodies.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};

use super::*;
use crate::hubspot::error::Fault;
use crate::hubspot::test_fixture as fixture;

fn classify(status: u16, retry_after_secs: Option<&str>, body: &[u8]) -> Error {
    let mut headers = HeaderMap::new();
    if let Some(secs) = retry_after_secs {
        headers.insert("retry-after", HeaderValue::from_str(secs).unwrap());
    }
    error_from_response(status, &headers, body)
}

#[test]
fn rate_limit_bodies_name_their_policy() {
    let cases = [
        (
            "error-429-ten-secondly.json",
            RateLimitPolicy::TenSecondlyRolling,
            true,
        ),
        ("error-429-secondly.json", RateLimitPolicy::Secondly, true),
        ("error-429-daily.json", RateLimitPolicy::Daily, false),
    ];
    for (file, want, retryable) in cases {
        let error = classify(429, None, &fixture(file));
        let Error::RateLimited {
            policy, details, ..
        } = &error
        else {
            panic!("{file}: {error:?}");
        };
        assert_eq!(*policy, want, "{file}");
        assert!(details.correlation_id.is_some(), "{file}");
        assert_eq!(error.is_retryable(), retryable, "{file}");
        assert_eq!(error.fault(), Fault::RateLimit);
    }
}

#[test]
fn secondly_waits_at_least_a_second_and_retry_after_wins_when_longer() {
    let secondly = fixture("error-429-secondly.json");
    assert_eq!(
        classify(429, None, &secondly).min_retry_delay(),
        Some(Duration::from_secs(1))
    );
    assert_eq!(
        classify(429, Some("0"), &secondly).min_retry_delay(),
        Some(Duration::from_secs(1))
    );
    assert_eq!(
        classify(429, Some("3"), &secondly).min_retry_delay(),
        Some(Duration::from_secs(3))
    );
}

#[test]
fn locked_and_migrating_and_server_errors_are_retryable_with_their_floors() {
    let cases: [(u16, Option<&str>, Option<Duration>); 5] = [
        (423, None, Some(Duration::from_secs(2))),
        (477, Some("30"), Some(Duration::from_secs(30))),
        (500, None, None),
        (502, None, None),
        (524, Some("1.5"), Some(Duration::from_millis(1500))),
    ];
    for (status, after, floor) in cases {
        let error = classify(status, after, b"");
        assert!(error.is_retryable(), "{status}");
        assert_eq!(error.fault(), Fault::HubSpot, "{status}");
        assert_eq!(error.min_retry_delay(), floor, "{status}");
    }
}

#[test]
fn other_client_errors_are_never_retried() {
    for status in [400, 401, 403, 404, 405, 409, 414, 422] {
        let error = classify(status, Some("1"), b"{\"message\":\"no\"}");
        assert!(!error.is_retryable(), "{status}: {error:?}");
    }
    assert_eq!(classify(401, None, b"").fault(), Fault::Credentials);
    assert_eq!(classify(404, None, b"").fault(), Fault::Request);
}

#[test]
fn conflict_carries_the_existing_contact_id() {
    let error = classify(409, None, &fixture("error-409-contact-exists.json"));
    let Error::Conflict {
        existing_id,
        details,
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(*existing_id, Some(5_125_904_301));
    assert_eq!(details.category.as_deref(), Some("CONFLICT"));
    assert!(error.to_string().contains("5125904301"), "{error}");
    assert_eq!(existing_id_of("Existing ID:"), None);
    assert_eq!(
        existing_id_of("Contact already exists. Existing ID: 51"),
        Some(51)
    );
}

fn existing_id_of(message: &str) -> Option<i64> {
    existing_id(message)
}

#[test]
fn validation_errors_name_each_property() {
    let error = classify(400, None, &fixture("error-400-invalid-properties.json"));
    let Error::InvalidProperties { problems, .. } = &error else {
        panic!("{error:?}");
    };
    let names: Vec<(&str, Option<&str>)> = problems
        .iter()
        .map(|p| (p.name.as_str(), p.error.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            ("industry", Some("INVALID_OPTION")),
            ("favourite_colour", Some("PROPERTY_DOESNT_EXIST"))
        ]
    );
    assert!(problems[0].message.contains("Software"));
    // A 400 of another kind stays a plain bad request.
    let other = classify(400, None, b"{\"message\":\"filterGroups too many\"}");
    assert!(matches!(other, Error::BadRequest { .. }), "{other:?}");
}

#[test]
fn forbidden_lists_the_scopes_hubspot_wants() {
    let body = fixture("error-403-missing-scopes.json");
    assert!(matches!(
        classify(403, None, &body),
        Error::Forbidden { .. }
    ));
    assert_eq!(missing_scopes(&body), ["crm.objects.deals.read"]);
    let platform_form = br#"{"context":{"missingScopes":["a","b"]}}"#;
    assert_eq!(missing_scopes(platform_form), ["a", "b"]);
}

#[test]
fn refresh_rejection_means_reinstall() {
    let body = fixture("error-400-refresh-rejected.json");
    let error = refresh_error(400, &HeaderMap::new(), &body);
    assert!(matches!(error, Error::ReinstallNeeded { .. }), "{error:?}");
    assert!(error.to_string().contains("re-installed"));
    let client = refresh_error(400, &HeaderMap::new(), br#"{"error":"invalid_client"}"#);
    assert!(matches!(client, Error::BadClientCredentials { .. }));
    let outage = refresh_error(503, &HeaderMap::new(), b"");
    assert!(outage.is_retryable());
}

#[test]
fn non_json_bodies_still_classify() {
    let error = classify(502, None, b"<html>Bad Gateway</html>");
    assert_eq!(error.details().unwrap().message, "<html>Bad Gateway</html>");
}
