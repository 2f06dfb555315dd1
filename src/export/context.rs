//! Everything one export decides with, read once per job or dry run: the settings, the
//! mapping and the property definitions; and the duplicate lookup in the mirror (which holds
//! the gateway's own writes the moment they are made).

use std::collections::BTreeMap;

use super::job::{Outcome, Row};
use super::mapping::Mapping;
use super::plan::{self, Action, Definitions, Mapped, Plan};
use super::settings::{OnDuplicate, Settings, TypeSettings};
use crate::config::Export;
use crate::object::ObjectType;
use crate::ownership::{self, normalize, Fallback, UserMap};
use crate::store::{self, Store, Term, TermKind};

pub struct Context {
    pub kind: ObjectType,
    pub portal: i64,
    pub enabled: bool,
    pub settings: TypeSettings,
    pub mapping: Mapping,
    pub definitions: Definitions,
}

impl Context {
    pub fn load(
        store: &Store,
        portal: i64,
        kind: ObjectType,
        config: &Export,
    ) -> store::Result<Context> {
        let settings = Settings::current(store, Some(portal), config)?;
        Ok(Context {
            kind,
            portal,
            enabled: settings.enabled,
            settings: *settings.of(kind),
            mapping: Mapping::current(store, Some(portal), kind)?,
            definitions: Definitions::new(store.reference().properties(portal, kind)?),
        })
    }

    /// Maps, looks duplicates up in the mirror and decides.
    pub fn plan(
        &self,
        store: &Store,
        fields: &BTreeMap<String, String>,
        on_duplicate: Option<OnDuplicate>,
    ) -> store::Result<Plan> {
        let mapped = plan::map_fields(&self.mapping, fields);
        let matches = ownership::find(store, self.portal, self.kind, &self.terms(&mapped))?;
        Ok(plan::decide(
            &self.settings,
            &self.definitions,
            &mapped,
            on_duplicate,
            &matches,
        ))
    }

    /// A dry run: the outcome each row would get, record by record, writing nothing (not
    /// even the mapping a newly detected user would get).
    pub fn dry_run(
        &self,
        store: &Store,
        user_email: &str,
        fallback: &Fallback,
        rows: &[Row],
    ) -> store::Result<Vec<Outcome>> {
        let owner = UserMap {
            store,
            portal: self.portal,
        }
        .preview(user_email, fallback);
        let mut outcomes = Vec::with_capacity(rows.len());
        for row in rows {
            let plan = self.plan(store, &row.fields, row.on_duplicate)?;
            outcomes.push(match (&plan.action, &owner) {
                (Action::Create, Err(error)) => {
                    Outcome::failed("no_owner", &error.to_string(), None, plan.duplicates)
                }
                _ => Outcome::planned(&plan, owner.as_ref().ok().map(|(id, _)| *id)),
            });
        }
        Ok(outcomes)
    }

    /// The duplicate keys of a record, in the order they are tried. Records sharing one
    /// must not be created in the same batch.
    pub fn keys(&self, fields: &BTreeMap<String, String>) -> Vec<Term> {
        self.terms(&plan::map_fields(&self.mapping, fields))
    }

    fn terms(&self, mapped: &BTreeMap<String, Mapped>) -> Vec<Term> {
        let query = plan::query(self.kind, mapped);
        let mut terms = Vec::new();
        if let Some(domain) = query.domain.as_deref().and_then(normalize::domain) {
            terms.push(Term::new(TermKind::Domain, domain));
        }
        if let Some(email) = query.email.as_deref().and_then(normalize::email) {
            terms.push(Term::new(TermKind::Email, email));
        }
        let name = [&query.first_name, &query.last_name, &query.company]
            .map(|part| part.as_deref().unwrap_or(""));
        if let Some(key) = normalize::name_key(name[0], name[1], name[2]) {
            terms.push(Term::new(TermKind::Name, key));
        }
        terms
    }

    /// Contacts: the company to associate a new contact with (the best match of its
    /// email domain), when `associate_company` is on.
    pub fn company_for(
        &self,
        store: &Store,
        fields: &BTreeMap<String, String>,
    ) -> store::Result<Option<i64>> {
        if self.kind != ObjectType::Contacts || !self.settings.associate_company {
            return Ok(None);
        }
        let mapped = plan::map_fields(&self.mapping, fields);
        let Some(domain) = mapped
            .get("email")
            .and_then(|m| normalize::email_domain(&m.value))
        else {
            return Ok(None);
        };
        let term = Term::new(TermKind::Domain, domain);
        let found = ownership::find_briefs(store, self.portal, ObjectType::Companies, &[term])?;
        Ok(found.first().map(|company| company.id))
    }
}
