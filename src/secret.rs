//! `Secret<T>`: a value that never prints itself and compares in constant time.

use std::fmt;

use subtle::ConstantTimeEq;

/// Holds a secret (token, client secret). `Debug` and `Display` print `[redacted]`, so a secret
/// that ends up in a log line or an error message by accident still leaks nothing.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The secret itself; call sites are easy to audit with `grep expose`.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: AsRef<[u8]>> Secret<T> {
    /// Constant-time comparison: the time taken does not depend on where the inputs differ.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        self.0.as_ref().ct_eq(candidate).into()
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let secret = Secret::from("hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
    }

    #[test]
    fn matches_only_the_exact_bytes() {
        let secret = Secret::from("token-1");
        assert!(secret.matches(b"token-1"));
        assert!(!secret.matches(b"token-2"));
        assert!(!secret.matches(b"token-10"));
        assert!(!secret.matches(b""));
    }
}
