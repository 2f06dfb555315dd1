//! Reload on SIGHUP: re-read the config file and apply what can change live (API tokens, log
//! level, the TLS certificate, the sync schedule); report what needs a restart; keep the old config when the new
//! one is invalid.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use super::{logging, tls::Tls};
use crate::api::{State, Tokens};
use crate::config::{self, Loaded, Problem};

/// Keys applied without a restart. The TLS paths only while TLS stays on.
const LIVE_KEYS: [&str; 8] = [
    "api.tokens",
    "server.log_level",
    "server.tls_cert",
    "server.tls_key",
    "sync.poll_interval_secs",
    "sync.reference_interval_secs",
    "sync.reconcile_interval_hours",
    "sync.reconcile_window_utc",
];

/// What a reload did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The new config is in effect (possibly with `restart_needed` keys still old).
    pub applied: bool,
    /// Changed keys that keep their old value until a restart.
    pub restart_needed: Vec<String>,
}

pub struct Reloader {
    path: PathBuf,
    /// The config the daemon started with: what keys that need a restart still run with.
    started: config::Config,
    state: Arc<State>,
    tls: Option<Tls>,
}

impl Reloader {
    pub fn new(path: PathBuf, loaded: Loaded, state: Arc<State>, tls: Option<Tls>) -> Self {
        Reloader {
            path,
            started: loaded.config,
            state,
            tls,
        }
    }

    /// Reads the config file again and applies it.
    pub fn reload(&self) -> Outcome {
        tracing::info!(config = %self.path.display(), "reloading the configuration");
        let loaded = config::load(&self.path, &|name| std::env::var(name).ok());
        self.apply(loaded)
    }

    /// Applies a freshly loaded config, or logs why it cannot be.
    pub fn apply(&self, loaded: Result<Loaded, Vec<Problem>>) -> Outcome {
        let fresh = match loaded {
            Ok(fresh) => fresh,
            Err(problems) => {
                for problem in &problems {
                    tracing::error!(%problem, "invalid configuration");
                }
                tracing::error!(
                    problems = problems.len(),
                    "reload refused: the running configuration stays in effect"
                );
                return Outcome::default();
            }
        };
        for warning in &fresh.warnings {
            tracing::warn!("{warning}");
        }
        let changed = changed_keys(&self.started, &fresh.config);
        let tls_stays = self.tls.is_some() && fresh.config.server.tls_cert.is_some();
        // The certificate is re-read even when its paths did not change: rotation.
        if let (Some(tls), Some(cert), Some(key)) = (
            &self.tls,
            &fresh.config.server.tls_cert,
            &fresh.config.server.tls_key,
        ) {
            match tls.reload(cert, key) {
                Ok(()) => tracing::info!("TLS certificate reloaded"),
                Err(error) => {
                    tracing::error!(
                        "{error:#}; reload refused: the running configuration stays in effect"
                    );
                    return Outcome::default();
                }
            }
        }
        if let Err(error) = logging::set_level(fresh.config.server.log_level.as_deref()) {
            // Validation parsed it already; this only fails if the subscriber went away.
            tracing::warn!(%error, "could not change the log level");
        }
        *self.state.tokens.write() = Tokens::new(fresh.secrets.api_tokens.clone());
        self.state.cycle.send_replace(super::sync::cycle(&fresh));
        let restart_needed: Vec<String> = changed
            .into_iter()
            .filter(|key| {
                let live = LIVE_KEYS.contains(&key.as_str());
                let tls_key = key.starts_with("server.tls_");
                !live || (tls_key && !tls_stays)
            })
            .collect();
        for key in &restart_needed {
            tracing::warn!(key = %key, "changed in the config file; takes effect after a restart");
        }
        tracing::info!(
            restart_needed = restart_needed.len(),
            "configuration reloaded"
        );
        Outcome {
            applied: true,
            restart_needed,
        }
    }
}

/// Key paths ("server.listen", "api.tokens") whose values differ; arrays compare whole.
pub fn changed_keys(old: &config::Config, new: &config::Config) -> Vec<String> {
    let (mut old_leaves, mut new_leaves) = (BTreeMap::new(), BTreeMap::new());
    // Invariant: the config types serialise (plain structs, strings, numbers, arrays).
    flatten(
        "",
        &serde_json::to_value(old).expect("config serialises"),
        &mut old_leaves,
    );
    flatten(
        "",
        &serde_json::to_value(new).expect("config serialises"),
        &mut new_leaves,
    );
    let mut keys: Vec<String> = old_leaves
        .keys()
        .chain(new_leaves.keys())
        .filter(|key| old_leaves.get(*key) != new_leaves.get(*key))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn flatten(prefix: &str, value: &Value, leaves: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, value, leaves);
            }
        }
        leaf => {
            leaves.insert(prefix.to_owned(), leaf.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_keys_name_leaves() {
        let old = config::Config::default();
        let mut new = old.clone();
        new.server.listen = "127.0.0.1:9".into();
        new.server.log_level = Some("debug".into());
        new.sync.poll_interval_secs = 60;
        new.sync.objects.pop();
        assert_eq!(
            changed_keys(&old, &new),
            [
                "server.listen",
                "server.log_level",
                "sync.objects",
                "sync.poll_interval_secs"
            ]
        );
        assert!(changed_keys(&old, &old).is_empty());
    }
}
