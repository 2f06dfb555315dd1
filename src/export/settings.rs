//! Export settings per object type: the `[export]` config, overridden through the API (per
//! portal) and persisted in the store until reset.

use serde::{Deserialize, Serialize};

use crate::config::{Export, ExportType};
use crate::object::ObjectType;
use crate::store::{self, Store};

const META: &str = "export.settings";

fn meta_name(store: &Store, portal: Option<i64>) -> store::Result<String> {
    crate::connection::portal::setting_name(store, META, portal)
}

/// What an export of one record may do when a duplicate is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDuplicate {
    Update,
    Create,
    Skip,
}

impl OnDuplicate {
    pub fn parse(text: &str) -> Option<OnDuplicate> {
        match text {
            "update" => Some(OnDuplicate::Update),
            "create" => Some(OnDuplicate::Create),
            "skip" => Some(OnDuplicate::Skip),
            _ => None,
        }
    }
}

/// The settings of one object type, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeSettings {
    pub max_records: u64,
    pub create_new: bool,
    pub update_existing: bool,
    pub allow_duplicates: bool,
    pub on_duplicate: OnDuplicate,
    pub associate_company: bool,
}

impl TypeSettings {
    fn from_config(config: &ExportType) -> TypeSettings {
        TypeSettings {
            max_records: config.max_records,
            create_new: config.create_new,
            update_existing: config.update_existing,
            allow_duplicates: config.allow_duplicates,
            // Invariant: config validation admits only the three names; keep the default else.
            on_duplicate: OnDuplicate::parse(&config.on_duplicate).unwrap_or(OnDuplicate::Update),
            associate_company: config.associate_company.unwrap_or(false),
        }
    }
}

/// Settings of both types, as the config spells them (the API's JSON shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub enabled: bool,
    /// Days a finished job is kept (see `export::retention`).
    pub retention_days: u32,
    pub companies: TypeSettings,
    pub contacts: TypeSettings,
}

impl Settings {
    pub fn from_config(config: &Export) -> Settings {
        Settings {
            enabled: config.enabled,
            retention_days: config.retention_days,
            companies: TypeSettings::from_config(&config.companies),
            contacts: TypeSettings::from_config(&config.contacts),
        }
    }

    pub fn of(&self, kind: ObjectType) -> &TypeSettings {
        match kind {
            ObjectType::Companies => &self.companies,
            _ => &self.contacts,
        }
    }

    /// The settings in effect for `portal`: its stored override, else the config.
    pub fn current(store: &Store, portal: Option<i64>, config: &Export) -> store::Result<Settings> {
        let stored = stored(store, portal)?;
        Ok(Settings::from_config(stored.as_ref().unwrap_or(config)))
    }

    /// Validates `export` (same keys and rules as the config) and persists it as `portal`'s.
    pub fn save(
        store: &Store,
        portal: Option<i64>,
        export: &Export,
    ) -> Result<Settings, SaveError> {
        let problems = validate(export);
        if !problems.is_empty() {
            return Err(SaveError::Invalid(problems));
        }
        // Invariant: the config types serialise.
        let bytes = serde_json::to_vec(export).expect("export settings serialise");
        store.set_meta(&meta_name(store, portal)?, &bytes)?;
        store.commit()?;
        Ok(Settings::from_config(export))
    }

    /// Whether an override saved through the API (or the console) is in effect for `portal`.
    pub fn overridden(store: &Store, portal: Option<i64>) -> store::Result<bool> {
        Ok(stored(store, portal)?.is_some())
    }

    /// Drops `portal`'s override: the config applies again.
    pub fn reset(store: &Store, portal: Option<i64>) -> store::Result<()> {
        store.remove_meta(&meta_name(store, portal)?)?;
        store.commit()
    }

    /// The JSON the API answers with (the config's keys).
    pub fn to_config(&self) -> Export {
        let one = |s: &TypeSettings, contacts: bool| ExportType {
            max_records: s.max_records,
            create_new: s.create_new,
            update_existing: s.update_existing,
            allow_duplicates: s.allow_duplicates,
            on_duplicate: match s.on_duplicate {
                OnDuplicate::Update => "update",
                OnDuplicate::Create => "create",
                OnDuplicate::Skip => "skip",
            }
            .into(),
            associate_company: contacts.then_some(s.associate_company),
        };
        Export {
            enabled: self.enabled,
            retention_days: self.retention_days,
            companies: one(&self.companies, false),
            contacts: one(&self.contacts, true),
        }
    }
}

/// One problem of the settings: the key it concerns (`contacts.max_records`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// `portal`'s stored override, if one is in effect.
fn stored(store: &Store, portal: Option<i64>) -> store::Result<Option<Export>> {
    let bytes = store.meta(&meta_name(store, portal)?)?;
    Ok(bytes.and_then(|bytes| serde_json::from_slice::<Export>(&bytes).ok()))
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("the settings are invalid")]
    Invalid(Vec<Problem>),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// Every problem of `export`, with its key path (the config's rules).
pub fn validate(export: &Export) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |key: String, message: String| problems.push(Problem { key, message });
    for (name, settings) in [
        ("companies", &export.companies),
        ("contacts", &export.contacts),
    ] {
        if !(1..=100_000).contains(&settings.max_records) {
            problem(
                format!("{name}.max_records"),
                "must be between 1 and 100000".into(),
            );
        }
        if OnDuplicate::parse(&settings.on_duplicate).is_none() {
            problem(
                format!("{name}.on_duplicate"),
                format!(
                    "{:?} must be one of update, create, skip",
                    settings.on_duplicate
                ),
            );
        }
    }
    if export.companies.associate_company.is_some() {
        problem(
            "companies.associate_company".into(),
            "only contacts take this key".into(),
        );
    }
    if !(1..=3650).contains(&export.retention_days) {
        problem("retention_days".into(), "must be between 1 and 3650".into());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_contract() {
        let settings = Settings::from_config(&Export::default());
        assert!(settings.enabled);
        assert_eq!(settings.contacts.on_duplicate, OnDuplicate::Update);
        assert!(settings.contacts.associate_company);
        assert!(!settings.companies.associate_company);
        assert!(!settings.companies.allow_duplicates);
        assert_eq!(settings.to_config().contacts.associate_company, Some(true));
    }

    #[test]
    fn every_problem_is_reported() {
        let mut export = Export::default();
        export.companies.max_records = 0;
        export.contacts.max_records = 100_001;
        export.contacts.on_duplicate = "merge".into();
        export.companies.associate_company = Some(true);
        let problems = validate(&export);
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert_eq!(problems[2].key, "contacts.on_duplicate");
        assert!(problems[2]
            .to_string()
            .starts_with("contacts.on_duplicate: "));
    }

    #[test]
    fn override_persists_until_reset() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let config = Export::default();
        let mut changed = config.clone();
        changed.contacts.on_duplicate = "skip".into();
        Settings::save(&store, None, &changed).unwrap();
        let current = Settings::current(&store, None, &config).unwrap();
        assert_eq!(current.contacts.on_duplicate, OnDuplicate::Skip);
        Settings::reset(&store, None).unwrap();
        let current = Settings::current(&store, None, &config).unwrap();
        assert_eq!(current.contacts.on_duplicate, OnDuplicate::Update);
    }

    #[test]
    fn each_portal_has_its_own_override_and_the_first_keeps_the_one_from_before() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let config = Export::default();
        let on_duplicate = |portal| {
            let current = Settings::current(&store, portal, &config).unwrap();
            current.contacts.on_duplicate
        };
        let mut skip = config.clone();
        skip.contacts.on_duplicate = "skip".into();
        // Saved before the gateway knew its portal: the first portal's once it does.
        Settings::save(&store, None, &skip).unwrap();
        crate::connection::portal::remember_sites(&store, 1, &[2]);
        assert_eq!(on_duplicate(Some(1)), OnDuplicate::Skip);
        assert_eq!(on_duplicate(Some(2)), OnDuplicate::Update, "the config's");

        let mut create = config.clone();
        create.contacts.on_duplicate = "create".into();
        Settings::save(&store, Some(2), &create).unwrap();
        assert_eq!(on_duplicate(Some(2)), OnDuplicate::Create);
        assert_eq!(on_duplicate(Some(1)), OnDuplicate::Skip);
        assert!(Settings::overridden(&store, Some(2)).unwrap());
        Settings::reset(&store, Some(2)).unwrap();
        assert_eq!(on_duplicate(Some(2)), OnDuplicate::Update);
        assert!(Settings::overridden(&store, Some(1)).unwrap());
        assert!(!Settings::overridden(&store, Some(2)).unwrap());
    }
}
