//! Normalising lookup keys so that what HubSpot stores and what callers ask for meet:
//! domains, emails, and the (first name, last name, company) triple.

/// `https://WWW.Acme.com./about?x` → `acme.com`; `münchen.de` and `xn--mnchen-3ya.de` both →
/// the punycode form. `None` when nothing domain-like is left.
pub fn domain(input: &str) -> Option<String> {
    let mut text = input.trim();
    if let Some((_, rest)) = text.split_once("://") {
        text = rest;
    }
    // Cut path, query and fragment, then user info and port.
    let text = text.split(['/', '?', '#']).next().unwrap_or("");
    let text = text.rsplit_once('@').map_or(text, |(_, host)| host);
    let text = text.split(':').next().unwrap_or("");
    let text = text.trim_end_matches('.');
    let ascii = idna::domain_to_ascii(text).ok()?.to_ascii_lowercase();
    let bare = ascii.strip_prefix("www.").unwrap_or(&ascii);
    (bare.contains('.') && !bare.starts_with('.') && !bare.contains('\0')).then(|| bare.to_owned())
}

/// Emails match case-insensitively; surrounding space is ignored.
pub fn email(input: &str) -> Option<String> {
    let text = input.trim().to_lowercase();
    let (local, host) = text.rsplit_once('@')?;
    if local.is_empty()
        || host.is_empty()
        || text.contains(char::is_whitespace)
        || text.contains('\0')
    {
        return None;
    }
    // The domain part may be international too.
    let host = idna::domain_to_ascii(host).ok()?;
    Some(format!("{local}@{host}"))
}

/// The duplicate-check key for a person: first name, last name and the exact company name,
/// each trimmed, with inner whitespace collapsed and compared case-insensitively.
pub fn name_key(first_name: &str, last_name: &str, company: &str) -> Option<String> {
    let parts = [first_name, last_name, company].map(|part| {
        part.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
            .replace('\0', "")
    });
    if parts.iter().any(String::is_empty) {
        return None;
    }
    Some(parts.join("\u{1f}"))
}

/// The domain of an email address (for associating a contact with its company).
pub fn email_domain(input: &str) -> Option<String> {
    let normalized = email(input)?;
    domain(normalized.rsplit_once('@')?.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        let cases = [
            ("acme.com", Some("acme.com")),
            ("  ACME.com ", Some("acme.com")),
            ("https://www.acme.com/about?x=1#top", Some("acme.com")),
            ("http://user:pw@www.Acme.com:8080/", Some("acme.com")),
            ("acme.com.", Some("acme.com")),
            ("www.acme.co.uk", Some("acme.co.uk")),
            ("wwwacme.com", Some("wwwacme.com")),
            ("münchen.de", Some("xn--mnchen-3ya.de")),
            ("XN--MNCHEN-3YA.DE", Some("xn--mnchen-3ya.de")),
            (
                "https://www.bücher.example/shop",
                Some("xn--bcher-kva.example"),
            ),
            ("localhost", None),
            ("", None),
            ("https://", None),
            (".com", None),
        ];
        for (input, expected) in cases {
            assert_eq!(domain(input).as_deref(), expected, "{input:?}");
        }
    }

    #[test]
    fn emails_and_names() {
        assert_eq!(email(" Ann@Acme.COM ").as_deref(), Some("ann@acme.com"));
        assert_eq!(
            email("ann@bücher.example").as_deref(),
            Some("ann@xn--bcher-kva.example")
        );
        for bad in ["", "ann", "@acme.com", "ann@", "a nn@acme.com"] {
            assert_eq!(email(bad), None, "{bad:?}");
        }
        assert_eq!(email_domain("bo@www.Acme.com").as_deref(), Some("acme.com"));
        assert_eq!(
            name_key(" Bo ", "LI", "Acme  Inc"),
            name_key("bo", "li", "acme inc")
        );
        assert_ne!(
            name_key("Bo", "Li", "Acme Inc"),
            name_key("Bo", "Li", "Acme Inc.")
        );
        assert_eq!(name_key("Bo", "", "Acme"), None);
    }
}
