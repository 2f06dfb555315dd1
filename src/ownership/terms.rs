//! The index terms a record is found by: companies by domain (and additional domains),
//! contacts by email (and additional emails) and by first + last + company name, every
//! record by owner.

use std::collections::BTreeMap;

use super::normalize;
use crate::object::ObjectType;
use crate::store::{Term, TermKind};

/// Terms for a record of `kind` with these properties; duplicates removed.
pub fn terms(kind: ObjectType, properties: &BTreeMap<String, String>) -> Vec<Term> {
    let get = |name: &str| properties.get(name).map(String::as_str).unwrap_or("");
    let mut found = Vec::new();
    match kind {
        ObjectType::Companies => {
            let domains =
                std::iter::once(get("domain")).chain(get("hs_additional_domains").split(';'));
            found.extend(
                domains
                    .filter_map(normalize::domain)
                    .map(|d| Term::new(TermKind::Domain, d)),
            );
        }
        ObjectType::Contacts => {
            let emails =
                std::iter::once(get("email")).chain(get("hs_additional_emails").split(';'));
            found.extend(
                emails
                    .filter_map(normalize::email)
                    .map(|e| Term::new(TermKind::Email, e)),
            );
            if let Some(key) =
                normalize::name_key(get("firstname"), get("lastname"), get("company"))
            {
                found.push(Term::new(TermKind::Name, key));
            }
        }
        ObjectType::Deals | ObjectType::Tasks => {}
    }
    let owner = get("hubspot_owner_id").trim();
    if !owner.is_empty() && owner.bytes().all(|b| b.is_ascii_digit()) {
        found.push(Term::new(TermKind::Owner, owner));
    }
    let mut unique = Vec::with_capacity(found.len());
    for term in found {
        if !unique.contains(&term) {
            unique.push(term);
        }
    }
    unique
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn terms_per_type() {
        let company = props(&[
            ("domain", "https://www.Acme.com/"),
            ("hs_additional_domains", "acme.de;acme.com;;"),
            ("hubspot_owner_id", "101"),
        ]);
        let values: Vec<(TermKind, String)> = terms(ObjectType::Companies, &company)
            .into_iter()
            .map(|t| (t.kind, t.value))
            .collect();
        assert_eq!(
            values,
            [
                (TermKind::Domain, "acme.com".into()),
                (TermKind::Domain, "acme.de".into()),
                (TermKind::Owner, "101".into())
            ]
        );
        let contact = props(&[
            ("email", "Ann@Acme.com"),
            ("firstname", "Ann"),
            ("lastname", "Lee"),
            ("company", "Acme"),
        ]);
        let kinds: Vec<TermKind> = terms(ObjectType::Contacts, &contact)
            .into_iter()
            .map(|t| t.kind)
            .collect();
        assert_eq!(kinds, [TermKind::Email, TermKind::Name]);
        assert!(terms(ObjectType::Deals, &props(&[("hubspot_owner_id", "x1")])).is_empty());
    }
}
