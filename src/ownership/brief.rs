//! A record's brief: the few fields lookups, indicators and filters read, derived from its
//! HubSpot properties. The sync hands it to the store with the record; the store keeps it
//! beside the record and knows nothing of the property names it comes from.

use crate::object::ObjectType;
use crate::store::{Brief, Record};
use crate::time::parse_ms;

/// The brief of a record of `kind`.
pub fn brief(kind: ObjectType, record: &Record) -> Brief {
    let get = |name: &str| {
        record
            .properties
            .get(name)
            .map(String::as_str)
            .unwrap_or("")
    };
    let name = match kind {
        ObjectType::Companies => get("name").trim().to_owned(),
        ObjectType::Contacts => {
            let full = format!("{} {}", get("firstname").trim(), get("lastname").trim());
            match full.trim() {
                "" => get("email").trim().to_owned(),
                name => name.to_owned(),
            }
        }
        ObjectType::Deals => get("dealname").trim().to_owned(),
        ObjectType::Tasks => get("hs_task_subject").trim().to_owned(),
    };
    let primary = match kind {
        ObjectType::Companies => get("domain"),
        ObjectType::Contacts => get("email"),
        ObjectType::Deals | ObjectType::Tasks => "",
    };
    Brief {
        id: record.id,
        name,
        primary: primary.to_owned(),
        owner: get("hubspot_owner_id").to_owned(),
        company_type: record.properties.get("type").cloned(),
        email_opt_out: get("hs_email_optout") == "true",
        created_at_ms: parse_ms(get("createdate")).or(record.created_at_ms),
        updated_at_ms: record.updated_at_ms,
        archived: record.archived,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::ObjectType::{Companies, Contacts, Deals};

    #[test]
    fn brief_of_a_record() {
        let record = |pairs: &[(&str, &str)]| Record {
            id: 5,
            updated_at_ms: 9,
            created_at_ms: Some(3),
            properties: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Record::default()
        };
        let company = brief(
            Companies,
            &record(&[
                ("name", " Acme "),
                ("domain", "Acme.com"),
                ("type", "PROSPECT"),
                ("hubspot_owner_id", " 101 "),
            ]),
        );
        assert_eq!(
            company,
            Brief {
                id: 5,
                name: "Acme".into(),
                primary: "Acme.com".into(),
                owner: " 101 ".into(),
                company_type: Some("PROSPECT".into()),
                email_opt_out: false,
                created_at_ms: Some(3),
                updated_at_ms: 9,
                archived: false,
            }
        );
        assert_eq!(company.owner_id(), Some(101));
        // A contact without a name is shown by its email.
        let nameless = brief(Contacts, &record(&[("email", "ann@x.io")]));
        assert_eq!(
            (nameless.name.as_str(), nameless.primary.as_str()),
            ("ann@x.io", "ann@x.io")
        );
        let named = brief(
            Contacts,
            &record(&[("firstname", "Ann"), ("lastname", "Lee")]),
        );
        assert_eq!(named.name, "Ann Lee");
        let opted_out = brief(Contacts, &record(&[("hs_email_optout", "true")]));
        assert!(opted_out.email_opt_out);
        // A deal's `createdate` wins over the creation time; an unparsable owner is none.
        let deal = brief(
            Deals,
            &record(&[
                ("dealname", "Big"),
                ("createdate", "2026-01-02T00:00:00Z"),
                ("hubspot_owner_id", "x1"),
            ]),
        );
        assert_eq!(deal.created_at_ms, Some(1_767_312_000_000));
        assert_eq!(deal.owner_id(), None);
        assert_eq!(deal.name, "Big");
    }
}
