//! The `[notify]` checks through the binary: a secret shorter than 24 bytes is a config
//! error naming its key (never showing it); `http://` outside loopback is warned about
//! unless allowed.

use crate::support::process::command;

fn check(sections: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let options = crate::support::Options {
        sections: sections.to_owned(),
        ..Default::default()
    };
    let text = crate::support::config_with(
        "127.0.0.1:0",
        "https://h.example",
        &dir.path().join("store"),
        &options,
    );
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    let output = command(&path).arg("check-config").output().unwrap();
    let printed = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), printed)
}

fn target(url: &str, secret: &str, extra: &str) -> String {
    format!("[[notify.targets]]\nname = \"t\"\nurl = \"{url}\"\nsecret = \"{secret}\"\n{extra}\n")
}

#[test]
fn a_secret_shorter_than_24_bytes_is_a_config_error_naming_the_key() {
    let short = "twenty-three-bytes-long";
    let (ok, printed) = check(&target("https://a.example/", short, ""));
    assert!(!ok, "{printed}");
    assert!(printed.contains("notify.targets[0].secret"), "{printed}");
    assert!(printed.contains("found 23"), "{printed}");
    assert!(
        !printed.contains(short),
        "the secret was printed: {printed}"
    );
    // 24 bytes, and a whsec_ secret decoding to 24, pass.
    let (ok, printed) = check(&target(
        "https://a.example/",
        "twenty-four-bytes-long!!",
        "",
    ));
    assert!(ok, "{printed}");
    let (ok, printed) = check(&target("https://a.example/", super::SECRET, ""));
    assert!(ok, "{printed}");
}

#[test]
fn http_outside_loopback_is_warned_about_unless_allowed() {
    let secret = super::SECRET;
    let (ok, printed) = check(&target("http://search.internal/hooks", secret, ""));
    assert!(ok, "{printed}");
    assert!(
        printed.contains("warning: notify.targets[0].url is http://"),
        "{printed}"
    );
    for quiet in [
        target("http://search.internal/hooks", secret, "allow_http = true"),
        target("http://127.0.0.1:9/hooks", secret, ""),
        target("https://search.internal/hooks", secret, ""),
    ] {
        let (ok, printed) = check(&quiet);
        assert!(ok && !printed.contains("is http://"), "{quiet}: {printed}");
    }
}
