//! Repository hygiene checks that keep the code base readable (rust-analyzer's tidy idea):
//! every file says what it is for, and no layer names one above it.

use std::path::Path;

fn rust_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_source_file_opens_with_its_purpose() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 10);
    let missing: Vec<String> = files
        .iter()
        .filter(|path| !std::fs::read_to_string(path).unwrap().starts_with("//!"))
        .map(|path| path.strip_prefix(root).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! purpose line: {missing:?}"
    );
}

/// Who may not name whom: for each module of `src/` (a directory or a file), the product
/// modules its code may not name (`crate::NAME`, in `use` and in expressions). Lower layers
/// never reach up: the store knows nothing of HubSpot, webhooks, the API or the domain rules
/// above it; the HubSpot client knows nothing of the store.
const MAY_NOT_NAME: &[(&str, &[&str])] = &[
    (
        "store",
        &[
            "hubspot",
            "webhook",
            "api",
            "console",
            "sync",
            "export",
            "ownership",
            "connection",
            "journal",
            "notify",
            "daemon",
            "config",
            "metrics",
            "demo",
        ],
    ),
    (
        "hubspot",
        &[
            "store",
            "webhook",
            "api",
            "console",
            "sync",
            "export",
            "ownership",
            "connection",
            "journal",
            "notify",
            "daemon",
            "config",
            "metrics",
            "demo",
        ],
    ),
    (
        "ownership",
        &[
            "hubspot",
            "webhook",
            "api",
            "console",
            "sync",
            "export",
            "connection",
            "journal",
            "notify",
            "daemon",
            "config",
            "demo",
        ],
    ),
    (
        "webhook",
        &[
            "hubspot",
            "api",
            "console",
            "sync",
            "export",
            "ownership",
            "connection",
            "journal",
            "notify",
            "daemon",
            "demo",
        ],
    ),
    (
        "config",
        &[
            "hubspot",
            "webhook",
            "api",
            "console",
            "sync",
            "export",
            "ownership",
            "connection",
            "journal",
            "notify",
            "daemon",
            "demo",
        ],
    ),
    (
        "connection",
        &["api", "console", "journal", "daemon", "demo"],
    ),
    (
        "journal",
        &["api", "console", "export", "notify", "daemon", "demo"],
    ),
    (
        "notify",
        &[
            "api", "console", "sync", "export", "journal", "daemon", "demo",
        ],
    ),
    (
        "sync",
        &["api", "console", "export", "journal", "daemon", "demo"],
    ),
    ("export", &["api", "console", "daemon", "demo"]),
    // The two faces, side by side: the console uses the API's state, never the reverse.
    ("api", &["console", "daemon", "demo"]),
    ("console", &["daemon", "demo"]),
];

/// Leaf helpers: they name nothing of the product.
const LEAVES: &[&str] = &["time", "object", "secret"];

/// The only modules that may name the simulator (besides the binaries and the tests).
const SIM_USERS: &[&str] = &["sim", "daemon", "demo"];

/// What only some modules may use: taking the mirror's write lock is the `Syncer`'s; the
/// storage engines are the store's (and the test kit starts a PostgreSQL server).
const ONLY_IN: &[(&str, &[&str])] = &[
    ("lock_writes(", &["store", "sync"]),
    ("sled::", &["store"]),
    ("tokio_postgres::", &["store", "kit"]),
    ("deadpool_postgres::", &["store"]),
];

/// The product's modules: what `src/` holds beside `lib.rs`, `main.rs` and the binaries.
fn product_modules(src: &Path) -> Vec<String> {
    let mut modules: Vec<String> = std::fs::read_dir(src)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| {
            let name = path.file_stem()?.to_str()?.to_owned();
            let is_module = path.is_dir() || path.extension().is_some_and(|ext| ext == "rs");
            (is_module && !["lib", "main", "bin"].contains(&name.as_str())).then_some(name)
        })
        .collect();
    modules.sort();
    modules.dedup();
    modules
}

/// `text` with its comments and the contents of its string and character literals blanked
/// out: what is left is code.
fn code_of(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut code = String::with_capacity(text.len());
    let mut at = 0;
    let blank = |code: &mut String, c: char| code.push(if c == '\n' { '\n' } else { ' ' });
    while at < chars.len() {
        let c = chars[at];
        let next = chars.get(at + 1).copied();
        if c == '/' && next == Some('/') {
            while at < chars.len() && chars[at] != '\n' {
                at += 1;
            }
        } else if c == '/' && next == Some('*') {
            while at < chars.len() && !(chars[at] == '*' && chars.get(at + 1) == Some(&'/')) {
                blank(&mut code, chars[at]);
                at += 1;
            }
            at += 2;
        } else if c == 'r' && matches!(next, Some('"' | '#')) && !word_before(&chars, at) {
            // A raw string: r"…", r#"…"#, …; it ends at a quote and as many hashes.
            let hashes = chars[at + 1..].iter().take_while(|c| **c == '#').count();
            let mut end = at + 1 + hashes + 1;
            while end < chars.len()
                && !(chars[end] == '"' && chars[end + 1..].iter().take(hashes).all(|c| *c == '#'))
            {
                blank(&mut code, chars[end]);
                end += 1;
            }
            at = end + 1 + hashes;
        } else if c == '"' {
            at += 1;
            while at < chars.len() && chars[at] != '"' {
                if chars[at] == '\\' {
                    at += 1;
                }
                blank(&mut code, chars[at.min(chars.len() - 1)]);
                at += 1;
            }
            at += 1;
        } else if c == '\'' && chars.get(at + 2) == Some(&'\'') {
            at += 3;
        } else if c == '\'' && next == Some('\\') {
            // An escaped character literal: '\'', '\\', '\n', '\u{…}'.
            at += 2;
            while at < chars.len() && chars[at] != '\'' {
                at += 1;
            }
            at += 1;
        } else {
            code.push(c);
            at += 1;
        }
    }
    code
}

/// Whether an identifier character stands just before `at` (so `r` is a name's end).
fn word_before(chars: &[char], at: usize) -> bool {
    at > 0 && (chars[at - 1].is_alphanumeric() || chars[at - 1] == '_')
}

/// The top-level product modules the code of `text` names: `crate::a::…` and each item of
/// `crate::{a, b::…}` (also across lines).
fn named(text: &str) -> std::collections::BTreeSet<String> {
    let code = code_of(text);
    let mut names = std::collections::BTreeSet::new();
    let ident = |text: &str| -> String {
        text.trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            names.insert(ident(rest));
            continue;
        };
        let mut depth = 0;
        let mut item = String::new();
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    names.insert(ident(&item));
                    item.clear();
                    continue;
                }
                _ => {}
            }
            item.push(c);
        }
        names.insert(ident(&item));
    }
    names.remove("");
    names
}

/// Every rule broken under `src`, one line each.
fn layer_violations(src: &Path) -> Vec<String> {
    let modules = product_modules(src);
    let mut broken = Vec::new();
    for module in &modules {
        let mut files = Vec::new();
        let dir = src.join(module);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
        let file = src.join(format!("{module}.rs"));
        if file.is_file() {
            files.push(file);
        }
        let mut forbidden: Vec<&str> = MAY_NOT_NAME
            .iter()
            .filter(|(who, _)| who == module)
            .flat_map(|(_, names)| names.iter().copied())
            .collect();
        if LEAVES.contains(&module.as_str()) {
            forbidden.extend(modules.iter().map(String::as_str));
        }
        if !SIM_USERS.contains(&module.as_str()) {
            forbidden.push("sim");
        }
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let shown = path.strip_prefix(src).unwrap().display().to_string();
            for name in named(&text) {
                if name != *module && forbidden.contains(&name.as_str()) {
                    broken.push(format!("src/{shown} ({module}) names crate::{name}"));
                }
            }
            for (call, allowed) in ONLY_IN {
                if code_of(&text).contains(call) && !allowed.contains(&module.as_str()) {
                    broken.push(format!("src/{shown} ({module}) uses {call}…"));
                }
            }
        }
    }
    broken
}

#[test]
fn no_layer_names_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let broken = layer_violations(&src);
    assert!(
        broken.is_empty(),
        "layer rules broken (see MAY_NOT_NAME in tests/it/tidy.rs):\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_layer_check_reads_every_form_of_a_path() {
    let text = r##"//! crate::api in a doc
use crate::{
    object::ObjectType,
    store::{self, Store},
};
fn f() -> char { let _ = crate::time::now_ms(); '"' } // crate::daemon
/* crate::export */ let s = "// crate::sync \" crate::metrics";
let raw = r#"crate::demo "quoted" "#; let c = '\''; crate::connection::portal::save();
"##;
    let found: Vec<String> = named(text).into_iter().collect();
    assert_eq!(found, ["connection", "object", "store", "time"]);
    // Every rule names real modules, so a renamed module cannot empty a rule silently.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = product_modules(&src);
    let ruled = MAY_NOT_NAME
        .iter()
        .flat_map(|(who, names)| std::iter::once(who).chain(names.iter()))
        .chain(LEAVES)
        .chain(SIM_USERS);
    for name in ruled {
        assert!(
            modules.iter().any(|m| m == name),
            "no module {name} in src/"
        );
    }
}
