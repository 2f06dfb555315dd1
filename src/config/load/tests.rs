//! Config loading tests: the shipped example, defaults, and every kind of problem reported.

use super::*;

fn env(name: &str) -> Option<String> {
    Some(format!("value-of-{name}"))
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn problems(text: &str) -> Vec<String> {
    match load_str(text, &env) {
        Ok(_) => Vec::new(),
        Err(problems) => problems.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn example_config_parses_and_documents_every_key() {
    let text = include_str!("../../../config/example.toml");
    let loaded = load_str(text, &env).expect("example.toml is valid");
    assert!(loaded.warnings.is_empty());
    assert_eq!(loaded.secrets.api_tokens.len(), 2);
    assert_eq!(
        loaded.secrets.client_secret.unwrap().expose(),
        "value-of-HUBSPOT_CLIENT_SECRET"
    );
    // Every key the defaults serialise must appear in the example, so it documents them all.
    let defaults = toml::to_string(&Config::default()).unwrap();
    let documented: std::collections::HashSet<&str> = text
        .lines()
        .map(|line| line.trim_start_matches("# ").trim())
        .filter_map(|line| line.split(" = ").next())
        .collect();
    for line in defaults.lines().filter(|line| line.contains(" = ")) {
        let key = line.split(" = ").next().unwrap();
        let as_table = format!("[[api.{key}]]");
        assert!(
            documented.contains(key) || text.contains(&as_table),
            "example.toml does not document {key}"
        );
    }
    for optional in [
        "internal_listen",
        "tls_cert",
        "tls_key",
        "client_id",
        "refresh_token",
        "secrets_key",
        "url",
        "fallback_owner_id",
    ] {
        assert!(
            documented.contains(optional),
            "example.toml does not document {optional}"
        );
    }
}

#[test]
fn minimal_config_gets_defaults() {
    let loaded = load_str(
        "[hubspot]\nclient_secret = \"env:S\"\naccess_token = \"env:T\"\n",
        &env,
    )
    .unwrap();
    assert_eq!(loaded.config.server.listen, "127.0.0.1:8080");
    assert_eq!(loaded.config.hubspot.signature_max_age_secs, 300);
    assert_eq!(loaded.config.sync.objects.len(), 5);
    assert_eq!(loaded.config.export.contacts.associate_company, Some(true));
}

#[test]
fn store_cache_mb_defaults_and_is_bounded() {
    let base = "[hubspot]\nclient_secret = \"env:S\"\naccess_token = \"env:T\"\n[store]\n";
    let loaded = load_str(base, &env).unwrap();
    assert_eq!(loaded.config.store.cache_mb, crate::store::DEFAULT_CACHE_MB);
    let loaded = load_str(&format!("{base}cache_mb = 64\n"), &env).unwrap();
    assert_eq!(loaded.config.store.cache_mb, 64);
    for bad in ["0", "15", "1048577"] {
        let found = problems(&format!("{base}cache_mb = {bad}\n"));
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].starts_with("store.cache_mb: must be between 16 and 1048576"),
            "{found:#?}"
        );
    }
    let found = problems(&format!("{base}cache_mb = \"lots\"\n"));
    // Type errors name the section and the key, as for every other key.
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("store:") && p.contains("`cache_mb`")),
        "{found:#?}"
    );
}

#[test]
fn reports_every_problem_with_its_path() {
    let text = r#"
[server]
listen = "nowhere"
public_url = "ftp://x"
colour = "blue"

[hubspot]
client_secret = "env:S"
signature_max_age_secs = 0

[sync]
objects = ["contacts", "tickets", "contacts"]
poll_interval_secs = 0

[export.companies]
on_duplicate = "merge"
max_records = 100001

[[api.tokens]]
name = "a"
token = "env:A"
scope = "read"

[[api.tokens]]
name = "a"
token = "env:B"
scope = "admin"

[surprise]
x = 1
"#;
    let found = problems(text);
    // `[server]` stops at its unknown key, so its other problems come after that is fixed.
    for expected in [
        "server.colour: unknown field `colour`",
        "surprise: unknown section",
    ] {
        assert!(
            found.iter().any(|p| p.starts_with(expected)),
            "{expected} not in {found:#?}"
        );
    }
    let fixed = text
        .replace("colour = \"blue\"\n", "")
        .replace("[surprise]\nx = 1\n", "");
    let found = problems(&fixed);
    for expected in [
        "server.listen:",
        "server.public_url:",
        "hubspot.signature_max_age_secs:",
        "hubspot.access_token: sync is enabled",
        "sync.objects[1]: unknown object type",
        "sync.objects[2]: \"contacts\" is listed twice",
        "sync.poll_interval_secs:",
        "export.companies.max_records:",
        "export.companies.on_duplicate:",
        "api.tokens[1].name: \"a\" is used twice",
    ] {
        assert!(
            found.iter().any(|p| p.starts_with(expected)),
            "{expected} not in {found:#?}"
        );
    }
    assert_eq!(found.len(), 10, "{found:#?}");
}

#[test]
fn type_errors_and_syntax_errors_are_reported() {
    let found = problems("[server]\nmax_body_bytes = \"big\"\n");
    assert!(found[0].starts_with("server: invalid type"), "{found:?}");
    let found = problems("[server\n");
    assert!(found[0].starts_with("(file):"), "{found:?}");
    let found =
        problems("[api]\ntokens = [{ name = \"x\", token = \"env:X\", scope = \"root\" }]\n");
    assert!(found[0].contains("unknown variant `root`"), "{found:?}");
}

#[test]
fn unresolvable_secrets_are_problems_and_literals_warnings() {
    let text = "[hubspot]\nclient_secret = \"env:S\"\naccess_token = \"literal-token\"\n";
    let found = match load_str(text, &no_env) {
        Err(problems) => problems,
        Ok(_) => panic!("missing env var must fail"),
    };
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].path, "hubspot.client_secret");
    assert!(!format!("{found:?}").contains("literal-token"));
    let loaded = load_str(text, &env).unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0].starts_with("hubspot.access_token holds a literal secret"));
    assert!(
        !format!("{:?}", loaded).contains("literal-token"),
        "Debug leaks a secret"
    );
}

#[test]
fn oauth_settings_must_come_together() {
    // A client id alone is an OAuth app that connects through the gateway (Connect).
    let app = "[hubspot]\nclient_secret = \"env:S\"\nclient_id = \"abc\"\n";
    assert!(problems(app).is_empty(), "{:?}", problems(app));
    let found = problems("[hubspot]\nclient_secret = \"env:S\"\nrefresh_token = \"env:R\"\n");
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("hubspot.refresh_token: OAuth needs")),
        "{found:?}"
    );
    let both = "[hubspot]\nclient_secret = \"env:S\"\nclient_id = \"abc\"\nrefresh_token = \"env:R\"\naccess_token = \"env:T\"\n";
    assert!(problems(both).iter().any(|p| p.contains("not both")));
    let oauth =
        "[hubspot]\nclient_secret = \"env:S\"\nclient_id = \"abc\"\nrefresh_token = \"env:R\"\n";
    assert!(problems(oauth).is_empty());
}

#[test]
fn syntax_errors_never_echo_a_secret() {
    let secret = "s3cr3t-Zq81";
    for text in [
        format!("[hubspot]\nclient_secret = \"{secret}\naccess_token = \"env:T\"\n"),
        format!("[hubspot]\nclient_secret = {secret}\n"),
        format!("[hubspot]\nclient_secret = \"{secret}\\q\"\n"),
        format!("[hubspot]\nclient_secret = \"env:S\"\nclient_secret = \"{secret}\"\n"),
        format!("[[api.tokens]]\nname = \"x\"\ntoken = '{secret}\nscope = \"read\"\n"),
        format!("[[api.tokens]]\nname = \"x\", token = \"{secret}\"\n"),
        format!("[hubspot]\nclient_secret = 9{}\n", secret.len()),
    ] {
        let found = problems(&text);
        assert!(!found.is_empty(), "{text}");
        let shown = found.join("\n");
        assert!(!shown.contains(secret), "{text}\n{shown}");
        assert!(!shown.contains(&format!("9{}", secret.len())), "{shown}");
    }
    // The position is still given, so the line can be found in the file.
    let found = problems(&format!(
        "[server]\n\n[hubspot]\nclient_secret = {secret}\n"
    ));
    assert!(
        found[0].starts_with("(file): line 4, column 17: "),
        "{found:?}"
    );
}

#[test]
fn two_api_tokens_with_one_value_are_refused_without_showing_it() {
    let text = r#"
[hubspot]
client_secret = "env:S"
access_token = "env:T"

[[api.tokens]]
name = "search"
token = "env:SHARED"
scope = "read"

[[api.tokens]]
name = "other"
token = "env:OTHER"
scope = "read"

[[api.tokens]]
name = "operator"
token = "env:SHARED"
scope = "admin"
"#;
    let found = problems(text);
    assert_eq!(
        found,
        [
            "api.tokens[2].token: has the same value as api.tokens[0].token (\"search\"); every \
             token must be different"
        ]
    );
    // The same value written literally twice, too; the problem never shows it.
    let literal = text.replace("env:SHARED", "same-literal-value");
    let found = problems(&literal);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(!found[0].contains("same-literal-value"));
}

#[test]
fn admission_keys_have_defaults_and_bounds() {
    let base = "[hubspot]\nclient_secret = \"env:S\"\naccess_token = \"env:T\"\n";
    let server = &load_str(base, &env).unwrap().config.server;
    assert_eq!(server.webhook_max_body_bytes, 2 << 20);
    assert_eq!(server.body_timeout_secs, 10);
    assert_eq!(server.max_connections_per_ip, 256);
    assert_eq!(server.max_body_memory_bytes, 64 << 20);
    assert_eq!(server.internal_listen, None);
    let hubspot = &load_str(base, &env).unwrap().config.hubspot;
    assert!(!hubspot.accept_legacy_signatures, "legacy is opt-in");
    for (keys, expected) in [
        (
            "max_body_memory_bytes = 1048576\nwebhook_max_body_bytes = 2097152",
            "server.max_body_memory_bytes: must hold at least one largest body (2097152",
        ),
        (
            "webhook_max_body_bytes = 100",
            "server.webhook_max_body_bytes: must be between",
        ),
        (
            "body_timeout_secs = 0",
            "server.body_timeout_secs: must be between 1 and 3600",
        ),
        (
            "max_connections_per_ip = 0",
            "server.max_connections_per_ip: must be at least 1",
        ),
        (
            "internal_listen = \"inside\"",
            "server.internal_listen: \"inside\" is not",
        ),
        (
            "listen = \"127.0.0.1:9000\"\ninternal_listen = \"127.0.0.1:9000\"",
            "server.internal_listen: must differ from server.listen",
        ),
    ] {
        let found = problems(&format!("{base}[server]\n{keys}\n"));
        assert_eq!(found.len(), 1, "{keys}: {found:?}");
        assert!(found[0].starts_with(expected), "{keys}: {found:?}");
    }
    let internal = format!("{base}[server]\ninternal_listen = \"127.0.0.1:9001\"\n");
    assert_eq!(
        load_str(&internal, &env)
            .unwrap()
            .config
            .server
            .internal_listen
            .as_deref(),
        Some("127.0.0.1:9001")
    );
}

#[test]
fn legacy_signatures_need_a_retention_that_outlives_hubspot_retries() {
    let legacy = "[hubspot]\nclient_secret = \"env:S\"\naccess_token = \"env:T\"\n\
                  accept_legacy_signatures = true\n[store]\n";
    assert!(problems(legacy).is_empty());
    let found = problems(&format!("{legacy}inbox_retention_hours = 24\n"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("store.inbox_retention_hours: must be at least 25"));
    let v3_only = legacy.replace("accept_legacy_signatures = true\n", "");
    assert!(problems(&format!("{v3_only}inbox_retention_hours = 24\n")).is_empty());
}

#[test]
fn export_retention_days_defaults_to_30_and_is_bounded() {
    let base = "[hubspot]\nclient_secret = \"env:S\"\naccess_token = \"env:T\"\n";
    let loaded = load_str(base, &env).unwrap();
    assert_eq!(loaded.config.export.retention_days, 30);
    for (days, ok) in [(0, false), (1, true), (3650, true), (3651, false)] {
        let found = problems(&format!("{base}[export]\nretention_days = {days}\n"));
        let refused = found
            .iter()
            .any(|p| p.starts_with("export.retention_days: must be between 1 and 3650"));
        assert_eq!(refused, !ok, "{days}: {found:?}");
    }
}

#[test]
fn secrets_key_must_be_32_bytes_of_base64() {
    let base = "[hubspot]\nclient_secret = \"env:S\"\nclient_id = \"abc\"\n[store]\nsecrets_key = ";
    let key_env = |value: &'static str| {
        move |name: &str| match name {
            "K" => Some(value.to_owned()),
            _ => Some(format!("value-of-{name}")),
        }
    };
    let text = format!("{base}\"env:K\"\n");
    let good = key_env("aXQtc2VjcmV0cy1rZXktMDEyMzQ1Njc4OWFiY2RlZiE=");
    let loaded = load_str(&text, &good).unwrap();
    assert_eq!(
        loaded.secrets.secrets_key.unwrap().expose(),
        b"it-secrets-key-0123456789abcdef!"
    );
    for (value, says) in [
        ("c2hvcnQ=", "must be 32 bytes (base64), found 5"),
        ("not base64!", "is not base64"),
    ] {
        let found = match load_str(&text, &key_env(value)) {
            Err(problems) => problems,
            Ok(_) => panic!("{value} must be refused"),
        };
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, "store.secrets_key");
        assert!(found[0].message.contains(says), "{found:?}");
        assert!(!found[0].message.contains(value), "the key is not echoed");
    }
}
