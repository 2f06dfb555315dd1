//! The config text of a gateway run by the tests, the benchmarks or the demo: a typed
//! [`Config`] written as TOML, with lines written by hand merged in where a test needs them.

use std::path::Path;

use crate::config::{ApiToken, Config, Scope, SecretRef};

/// A gateway's config: the typed settings, and TOML lines added to them.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub config: Config,
    /// Merged over `config` when written; a key here wins over the same key there.
    lines: toml::Table,
}

impl GatewayConfig {
    /// A gateway listening on `listen`, reached by HubSpot at `public_url`, with its store in
    /// `store`; it stops within 5 s. Everything else is the daemon's default.
    pub fn new(listen: impl Into<String>, public_url: impl Into<String>, store: &Path) -> Self {
        let mut config = Config::default();
        config.server.listen = listen.into();
        config.server.public_url = public_url.into();
        config.server.shutdown_grace_secs = 5;
        config.store.path = store.to_owned();
        GatewayConfig {
            config,
            lines: toml::Table::new(),
        }
    }

    /// Adds an API token `name` with `scope`, its value found at `reference` (`env:NAME`).
    pub fn token(mut self, name: &str, reference: &str, scope: Scope) -> Self {
        self.config.api.tokens.push(ApiToken {
            name: name.to_owned(),
            token: SecretRef::new(reference),
            scope,
        });
        self
    }

    /// Adds `lines` (keys, perhaps followed by sub-tables) to `[section]`.
    pub fn lines(self, section: &str, lines: &str) -> Self {
        self.toml(&format!("[{section}]\n{lines}"))
    }

    /// Adds a TOML text of whole sections (e.g. `[[notify.targets]]` entries).
    ///
    /// # Panics
    /// When `text` is not TOML: it is written by the caller's own code.
    pub fn toml(mut self, text: &str) -> Self {
        let table: toml::Table = text
            .parse()
            .unwrap_or_else(|error| panic!("config lines are not TOML: {error}\n{text}"));
        merge(&mut self.lines, table);
        self
    }

    /// The config file's text: the settings that differ from the daemon's defaults, then the
    /// added lines. Short, as a person would write it, so a test can add a section to it.
    pub fn text(&self) -> String {
        let table = |config: &Config| toml::Table::try_from(config).expect("a TOML table");
        let mut written = table(&self.config);
        without_defaults(&mut written, &table(&Config::default()));
        merge(&mut written, self.lines.clone());
        toml::to_string(&written).expect("a TOML table is written")
    }
}

/// Removes from `table` each value equal to its default, and the tables left empty.
fn without_defaults(table: &mut toml::Table, defaults: &toml::Table) {
    table.retain(|key, value| match (value, defaults.get(key)) {
        (toml::Value::Table(inner), Some(toml::Value::Table(default))) => {
            without_defaults(inner, default);
            !inner.is_empty()
        }
        (value, default) => Some(&*value) != default,
    });
}

/// Merges `added` into `into`: tables key by key, `[[tables]]` entries appended, any other
/// value replacing the one there.
fn merge(into: &mut toml::Table, added: toml::Table) {
    for (key, value) in added {
        match (into.get_mut(&key), value) {
            (Some(toml::Value::Table(old)), toml::Value::Table(new)) => merge(old, new),
            (Some(toml::Value::Array(old)), toml::Value::Array(new))
                if !new.is_empty() && new.iter().all(toml::Value::is_table) =>
            {
                old.extend(new)
            }
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_settings_and_added_lines_load_as_one_config() {
        let mut gateway =
            GatewayConfig::new("127.0.0.1:9", "https://h.example", Path::new("/tmp/s"));
        gateway.config.hubspot.client_secret = Some(SecretRef::new("env:SECRET"));
        let text = gateway
            .token("reader", "env:READ", Scope::Read)
            .lines("server", "max_body_bytes = 2048")
            .lines(
                "sync",
                "enabled = false\n[export.contacts]\nmax_records = 30",
            )
            .toml("[[api.tokens]]\nname = \"admin\"\ntoken = \"env:ADMIN\"\nscope = \"admin\"")
            .text();
        let env = |name: &str| Some(format!("{name}-value"));
        let loaded = crate::config::load_str(&text, &env).expect(&text);
        let config = loaded.config;
        assert_eq!(config.server.listen, "127.0.0.1:9");
        assert_eq!(config.server.max_body_bytes, 2048);
        assert_eq!(config.server.shutdown_grace_secs, 5);
        assert_eq!(config.store.path, Path::new("/tmp/s"));
        assert!(!config.sync.enabled);
        assert_eq!(config.export.contacts.max_records, 30);
        let tokens: Vec<_> = config.api.tokens.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(tokens, ["reader", "admin"]);
        assert!(
            !text.contains("[notify]"),
            "defaults are not written:\n{text}"
        );
    }
}
