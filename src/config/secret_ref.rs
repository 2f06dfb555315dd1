//! Secret references in the config: `env:NAME`, `file:PATH`, `credential:NAME`, or a literal.

use std::fmt;
use std::path::PathBuf;

use serde::{de, Deserialize, Deserializer, Serialize};

use crate::secret::Secret;

/// A config value that names where a secret lives. Neither its `Debug` nor a parse error
/// shows a literal secret.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SecretRef(String);

/// serde's own "invalid type" error quotes the value (`integer `123456``): a secret written
/// without quotes would reach the error output. This one says only what is expected.
impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl de::Visitor<'_> for Text {
            type Value = String;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<String, E> {
                Ok(text.to_owned())
            }
        }
        match deserializer.deserialize_any(Text) {
            Ok(text) => Ok(SecretRef(text)),
            // A string is always accepted, so any error is about another kind of value.
            Err(_) => Err(de::Error::custom(format!("must be a string: {EXPECTED}"))),
        }
    }
}

const EXPECTED: &str = "env:NAME, file:PATH, credential:NAME (or a literal, with a warning)";

/// How a reference resolved: the secret, and whether it was written literally in the config.
pub struct Resolved {
    pub secret: Secret<String>,
    pub literal: bool,
}

impl SecretRef {
    pub fn new(reference: impl Into<String>) -> Self {
        SecretRef(reference.into())
    }

    /// Reads the secret. `env` looks up environment variables (injected so tests need not
    /// mutate the process environment). Trailing newlines of files are dropped.
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Resolved, String> {
        let text = &self.0;
        let value = if let Some(name) = text.strip_prefix("env:") {
            env(name).ok_or_else(|| format!("environment variable {name} is not set"))?
        } else if let Some(path) = text.strip_prefix("file:") {
            read_file(&PathBuf::from(path))?
        } else if let Some(name) = text.strip_prefix("credential:") {
            if name.is_empty() || name.contains('/') {
                return Err(format!(
                    "credential name {name:?} must be a plain file name"
                ));
            }
            let directory = env("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                format!("credential:{name} needs $CREDENTIALS_DIRECTORY (systemd LoadCredential=)")
            })?;
            read_file(&PathBuf::from(directory).join(name))?
        } else {
            return non_empty(text.clone()).map(|secret| Resolved {
                secret,
                literal: true,
            });
        };
        non_empty(value).map(|secret| Resolved {
            secret,
            literal: false,
        })
    }
}

fn read_file(path: &PathBuf) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read secret file {}: {error}", path.display()))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

fn non_empty(value: String) -> Result<Secret<String>, String> {
    if value.is_empty() {
        Err("the secret is empty".into())
    } else {
        Ok(Secret::new(value))
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let is_reference = ["env:", "file:", "credential:"]
            .iter()
            .any(|prefix| self.0.starts_with(prefix));
        if is_reference {
            write!(f, "{:?}", self.0)
        } else {
            f.write_str("[redacted literal]")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("from-env".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn check(reference: &str) -> Result<(String, bool), String> {
        SecretRef::new(reference)
            .resolve(&env)
            .map(|resolved| (resolved.secret.expose().clone(), resolved.literal))
    }

    #[test]
    fn resolves_each_form() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "from-file\n").unwrap();
        let file_ref = format!("file:{}", dir.path().join("token").display());
        assert_eq!(check("env:TOKEN"), Ok(("from-env".into(), false)));
        assert_eq!(check(&file_ref), Ok(("from-file".into(), false)));
        assert_eq!(check("plain-literal"), Ok(("plain-literal".into(), true)));
        assert!(check("env:MISSING").unwrap_err().contains("MISSING"));
        assert!(check("env:EMPTY").unwrap_err().contains("empty"));
        assert!(check("file:/nonexistent/x")
            .unwrap_err()
            .contains("/nonexistent/x"));
        assert!(check("credential:x")
            .unwrap_err()
            .contains("CREDENTIALS_DIRECTORY"));
        assert!(check("credential:../x").is_err());
        assert!(check("").is_err());
    }

    #[test]
    fn credentials_come_from_the_systemd_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hubspot_secret"), "from-credential").unwrap();
        let directory = dir.path().display().to_string();
        let lookup = move |name: &str| (name == "CREDENTIALS_DIRECTORY").then(|| directory.clone());
        let resolved = SecretRef::new("credential:hubspot_secret")
            .resolve(&lookup)
            .unwrap();
        assert_eq!(resolved.secret.expose(), "from-credential");
    }

    #[test]
    fn a_value_of_another_type_is_not_echoed() {
        #[derive(Debug, Deserialize)]
        struct Holder {
            #[allow(dead_code)]
            token: SecretRef,
        }
        for text in [
            "token = 918273645",
            "token = 9182736.45",
            "token = [\"918273645\"]",
            "token = { v = \"918273645\" }",
        ] {
            // The message alone: the config loader never prints toml's quoted source line.
            let error = toml::from_str::<Holder>(text).unwrap_err();
            let message = error.message();
            assert!(!message.contains("918273645"), "{text}: {message}");
            assert!(message.contains("must be a string"), "{text}: {message}");
        }
        let holder: Holder = toml::from_str("token = \"env:X\"").unwrap();
        assert_eq!(holder.token, SecretRef::new("env:X"));
    }

    #[test]
    fn debug_hides_literals_only() {
        assert_eq!(format!("{:?}", SecretRef::new("env:X")), "\"env:X\"");
        assert_eq!(
            format!("{:?}", SecretRef::new("s3cr3t")),
            "[redacted literal]"
        );
    }
}
