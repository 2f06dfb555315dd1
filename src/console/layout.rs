//! The page shell (head, navigation, the message of the last action) and the small pieces
//! every page uses: times, badges, progress bars, form errors.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::assets;
use super::reply::{Page, Section};
use super::session::Flash;
use crate::time::now_ms;

/// The portals a deployment of several mirrors, and the one the pages show.
pub struct Switcher {
    pub portals: Vec<i64>,
    pub shown: Option<i64>,
}

/// The whole document around `page`; `csrf` is `None` on pages shown before signing in.
pub fn document(
    page: &Page,
    csrf: Option<&str>,
    flash: Option<&Flash>,
    switcher: Option<&Switcher>,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (page.title) " · hubspot-gateway" }
                link rel="stylesheet" href=(assets::url("console.css"));
                script src=(assets::url("console.js")) defer {}
                @if page.refresh_without_script {
                    noscript { meta http-equiv="refresh" content="3"; }
                }
            }
            body {
                a.skip href="#main" { "Skip to the page" }
                header.top {
                    a.brand href="/admin" { "hubspot-gateway" span.muted { " admin" } }
                    @if let Some(csrf) = csrf {
                        nav aria-label="Console" {
                            ul {
                                @for section in Section::ALL {
                                    li {
                                        @if page.section == Some(section) {
                                            a href=(section.href()) aria-current="page" { (section.title()) }
                                        } @else {
                                            a href=(section.href()) { (section.title()) }
                                        }
                                    }
                                }
                            }
                        }
                        @if let Some(switcher) = switcher {
                            form.portal method="post" action="/admin/portal" {
                                (csrf_field(csrf))
                                label for="portal" { "HubSpot account" }
                                select #portal name="portal" data-submit-on-change {
                                    @for id in &switcher.portals {
                                        option value=(id) selected[switcher.shown == Some(*id)] { (id) }
                                    }
                                }
                                button.secondary type="submit" { "Show" }
                            }
                        }
                        form.sign-out method="post" action="/admin/sign-out" {
                            (csrf_field(csrf))
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main #main {
                    @if let Some(flash) = flash {
                        div class=(if flash.ok { "flash ok" } else { "flash problem" }) role="status" {
                            (flash.text)
                        }
                    }
                    (page.content)
                }
            }
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// A UTC time with how long ago (or how far ahead) it is.
pub fn time(epoch_ms: i64) -> Markup {
    let text = crate::api::rfc3339(epoch_ms);
    let shown = format!("{} {} UTC", &text[..10], &text[11..19]);
    html! { time datetime=(text) { (shown) } " " span.muted { "(" (relative(epoch_ms)) ")" } }
}

/// A time, or a dash with `never` spelled out for screen readers.
pub fn maybe_time(epoch_ms: Option<i64>, never: &str) -> Markup {
    match epoch_ms {
        Some(ms) => time(ms),
        None => html! { span.muted { (never) } },
    }
}

/// "3 min ago", "in 2 h".
pub fn relative(epoch_ms: i64) -> String {
    let seconds = (now_ms() - epoch_ms) / 1000;
    let (amount, future) = (seconds.unsigned_abs(), seconds < 0);
    let text = match amount {
        0..=4 => return "just now".into(),
        5..=59 => format!("{amount} s"),
        60..=3599 => format!("{} min", amount / 60),
        3600..=172_799 => format!("{} h", amount / 3600),
        _ => format!("{} days", amount / 86_400),
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// A coloured label; `kind` is one of ok, warn, bad, info, muted.
pub fn badge(kind: &str, text: &str) -> Markup {
    html! { span class={ "badge " (kind) } { (text) } }
}

/// A progress bar with its figures in words beside it.
pub fn progress(value: u64, max: u64, label: &str, words: &str) -> Markup {
    html! {
        div.bar {
            progress value=(value) max=(max.max(1)) aria-label=(label) { (words) }
            span.bar-words data-field="words" { (words) }
        }
    }
}

/// A field's error, linked with `aria-describedby` from the field (id `{id}-error`).
pub fn field_error(id: &str, message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p.field-error id={ (id) "-error" } { (message) }
        }
    }
}

/// A boxed message; `kind` is info, warn or problem.
pub fn notice(kind: &str, content: Markup) -> Markup {
    html! { div class={ "notice " (kind) } { (content) } }
}

/// A number with thin grouping (12 345).
pub fn count(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(digit);
    }
    out
}

/// "1 user", "3 users".
pub fn plural(count: usize, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {many}")
    }
}

/// A share as a percentage with one decimal.
pub fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

/// Raw markup of trusted constant text (an inline SVG the server drew).
pub fn trusted(svg: String) -> Markup {
    PreEscaped(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_times_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(12_345), "12\u{202f}345");
        assert_eq!(count(1_234_567), "1\u{202f}234\u{202f}567");
        assert_eq!(percent(0.4567), "45.7 %");
        assert_eq!(relative(now_ms() - 120_000), "2 min ago");
        assert_eq!(relative(now_ms() + 7_300_000), "in 2 h");
        let shown = time(0).into_string();
        assert!(shown.contains("1970-01-01 00:00:00 UTC"), "{shown}");
    }
}
