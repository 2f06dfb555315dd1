//! Reading the config file: TOML parsing section by section, then validation and secrets.

use std::fmt;
use std::path::Path;

use serde::de::DeserializeOwned;

use super::{validate, ApiToken, Config, Scope};
use crate::secret::Secret;

/// One thing wrong with the config, with the key path it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The secrets the config refers to, read once at load time.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    pub client_secret: Option<Secret<String>>,
    pub access_token: Option<Secret<String>>,
    pub refresh_token: Option<Secret<String>>,
    /// `store.secrets_key`, decoded: the key that seals stored HubSpot tokens.
    pub secrets_key: Option<Secret<[u8; 32]>>,
    /// `store.url`: the PostgreSQL database's URL.
    pub database_url: Option<Secret<String>>,
    pub api_tokens: Vec<(String, Secret<String>, Scope)>,
    /// The HMAC key of each `[[notify.targets]]` entry, in order (see `config::signing_key`).
    pub notify_keys: Vec<Secret<Vec<u8>>>,
    /// `notify.email.username` and `password`, when set.
    pub smtp_credentials: Option<(Secret<String>, Secret<String>)>,
}

/// A config that parsed, validated and whose secrets all resolved.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub secrets: Secrets,
    /// Things that work but should not (literal secrets in the file).
    pub warnings: Vec<String>,
}

/// Loads and checks the file at `path`; `env` looks up environment variables.
pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, Vec<Problem>> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        vec![Problem::new(
            path.display().to_string(),
            format!("cannot read: {error}"),
        )]
    })?;
    load_str(&text, env)
}

/// Like [`load`] for config text already in memory.
pub fn load_str(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, Vec<Problem>> {
    let config = parse(text)?;
    let mut problems = validate(&config);
    let mut warnings = super::notify::warnings(&config.notify);
    let secrets = resolve_secrets(&config, env, &mut problems, &mut warnings);
    if problems.is_empty() {
        Ok(Loaded {
            config,
            secrets,
            warnings,
        })
    } else {
        Err(problems)
    }
}

/// Parses each top-level section on its own so that problems in several sections are all
/// reported, not just the first one serde meets.
fn parse(text: &str) -> Result<Config, Vec<Problem>> {
    let table: toml::Table = text.parse().map_err(|error: toml::de::Error| {
        vec![Problem::new("(file)", syntax_error(text, &error))]
    })?;
    let mut config = Config::default();
    let mut problems = Vec::new();
    for (section, value) in table {
        let outcome = match section.as_str() {
            "server" => section_into(value, &mut config.server),
            "hubspot" => section_into(value, &mut config.hubspot),
            "store" => section_into(value, &mut config.store),
            "sync" => section_into(value, &mut config.sync),
            "ownership" => section_into(value, &mut config.ownership),
            "export" => section_into(value, &mut config.export),
            "api" => section_into(value, &mut config.api),
            "notify" => section_into(value, &mut config.notify),
            _ => Err("unknown section; expected one of server, hubspot, store, sync, ownership, export, api, notify".to_string()),
        };
        if let Err(message) = outcome {
            problems.push(Problem::new(field_path(&section, &message), message));
        }
    }
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(problems)
    }
}

fn section_into<T: DeserializeOwned>(value: toml::Value, target: &mut T) -> Result<(), String> {
    *target = value
        .try_into()
        // A value carries no source text, so the error names the key but quotes no line.
        .map_err(|error: toml::de::Error| one_line(&error.to_string()))?;
    Ok(())
}

/// `section.field` when serde's message names the field, else the section.
fn field_path(section: &str, message: &str) -> String {
    let named = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("missing field `"))
        .and_then(|rest| rest.split('`').next());
    match named {
        Some(field) => format!("{section}.{field}"),
        None => section.to_owned(),
    }
}

/// A TOML syntax error as "line L, column C: what is wrong". toml's own rendering quotes the
/// offending line, which may be `client_secret = ...` with a literal secret: never shown.
fn syntax_error(text: &str, error: &toml::de::Error) -> String {
    let message = one_line(error.message());
    let Some(before) = error.span().and_then(|span| text.get(..span.start)) else {
        return message;
    };
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .unwrap_or_default()
        .chars()
        .count()
        + 1;
    format!("line {line}, column {column}: {message}")
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn resolve_secrets(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<String>,
) -> Secrets {
    let mut resolve = |path: String, reference: &super::SecretRef| match reference.resolve(env) {
        Ok(resolved) => {
            if resolved.literal {
                warnings.push(format!(
                    "{path} holds a literal secret; use env:, file: or credential: instead"
                ));
            }
            Some(resolved.secret)
        }
        Err(message) => {
            problems.push(Problem::new(path, message));
            None
        }
    };
    let hubspot = &config.hubspot;
    let client_secret = hubspot
        .client_secret
        .as_ref()
        .and_then(|r| resolve("hubspot.client_secret".into(), r));
    let access_token = hubspot
        .access_token
        .as_ref()
        .and_then(|r| resolve("hubspot.access_token".into(), r));
    let refresh_token = hubspot
        .refresh_token
        .as_ref()
        .and_then(|r| resolve("hubspot.refresh_token".into(), r));
    let secrets_key = config
        .store
        .secrets_key
        .as_ref()
        .and_then(|r| resolve("store.secrets_key".into(), r))
        .map(|text| decode_key(text.expose()));
    let database_url = config
        .store
        .url
        .as_ref()
        .and_then(|r| resolve("store.url".into(), r));
    // Each resolved token with the index of its `[[api.tokens]]` entry.
    let (mut indexes, mut api_tokens) = (Vec::new(), Vec::new());
    for (index, ApiToken { name, token, scope }) in config.api.tokens.iter().enumerate() {
        if let Some(secret) = resolve(format!("api.tokens[{index}].token"), token) {
            indexes.push(index);
            api_tokens.push((name.clone(), secret, *scope));
        }
    }
    let (mut notify_keys, mut short_keys) = (Vec::new(), Vec::new());
    for (index, target) in config.notify.targets.iter().enumerate() {
        let path = format!("notify.targets[{index}].secret");
        let Some(secret) = resolve(path.clone(), &target.secret) else {
            continue;
        };
        match super::signing_key(secret.expose()) {
            Ok(key) => notify_keys.push(Secret::new(key)),
            Err(message) => short_keys.push(Problem::new(path, message)),
        }
    }
    let smtp_credentials = config.notify.email.as_ref().and_then(|email| {
        let username = resolve("notify.email.username".into(), email.username.as_ref()?);
        let password = resolve("notify.email.password".into(), email.password.as_ref()?);
        Some((username?, password?))
    });
    problems.extend(short_keys);
    problems.extend(same_token_values(&indexes, &api_tokens));
    let secrets_key = match secrets_key {
        Some(Ok(key)) => Some(Secret::new(key)),
        Some(Err(message)) => {
            problems.push(Problem::new("store.secrets_key", message));
            None
        }
        None => None,
    };
    Secrets {
        client_secret,
        access_token,
        refresh_token,
        secrets_key,
        database_url,
        api_tokens,
        notify_keys,
        smtp_credentials,
    }
}

/// Two API tokens with one value would make the scope a request gets depend on table order.
/// The problem names both keys, never the value.
fn same_token_values(
    indexes: &[usize],
    tokens: &[(String, Secret<String>, Scope)],
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (position, (_, secret, _)) in tokens.iter().enumerate() {
        let value = secret.expose().as_bytes();
        let earlier = tokens[..position]
            .iter()
            .position(|(_, other, _)| other.matches(value));
        if let Some(earlier) = earlier {
            problems.push(Problem::new(
                format!("api.tokens[{}].token", indexes[position]),
                format!(
                    "has the same value as api.tokens[{}].token ({:?}); every token must be \
                     different",
                    indexes[earlier], tokens[earlier].0
                ),
            ));
        }
    }
    problems
}

/// `store.secrets_key`: exactly 32 bytes, base64 (standard alphabet, padding optional).
fn decode_key(text: &str) -> Result<[u8; 32], String> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine
        .decode(text.trim())
        .map_err(|_| "is not base64; make one with `openssl rand -base64 32`".to_string())?;
    bytes.try_into().map_err(|bytes: Vec<u8>| {
        format!(
            "must be 32 bytes (base64), found {}; make one with `openssl rand -base64 32`",
            bytes.len()
        )
    })
}

#[cfg(test)]
mod tests;
