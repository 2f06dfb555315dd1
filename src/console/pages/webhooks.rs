//! Webhooks: what HubSpot delivered (received, duplicates, rejected), the inbox's depth, a
//! chart of events per minute over the last hour and the latest events as stored.

use maud::{html, Markup};
use serde_json::Value;

use super::super::chart;
use super::super::layout::{count, maybe_time, time, trusted};
use super::super::reply::{Reply, Section};
use super::super::Ctx;
use super::problem::Outcome;
use crate::store::StoredEvent;
use crate::time::now_ms;

/// Events listed at most.
const LATEST: usize = 25;

/// `GET /admin/webhooks`.
pub fn page(ctx: &Ctx) -> Outcome {
    let state = ctx.state();
    let inbox = state.store.inbox();
    let counters = inbox.counters()?;
    let events = inbox.recent(LATEST)?;
    let minutes = state.metrics.webhook_minutes.last_hour(now_ms());
    let since = state.metrics.webhook_minutes.since_ms();
    let content = html! {
        h1 { "Webhooks" }
        p.lead { "HubSpot's deliveries to " code { "POST /webhooks/hubspot" } ": each event is stored before HubSpot gets its answer, then applied to the mirror." }
        div.stats {
            (stat("Events received", &count(counters.received)))
            (stat("Duplicates dropped", &count(counters.duplicates)))
            (stat("Requests rejected", &count(counters.rejected)))
            (stat("Inbox depth (not applied yet)", &count(inbox.pending())))
        }
        p { "Last event received: " (maybe_time(counters.last_received_at_ms, "never")) }
        section.card aria-labelledby="chart-heading" {
            h2 #chart-heading { "Events per minute, last hour" }
            figure.chart {
                // A phone scrolls the chart sideways rather than shrink its labels away.
                div.chart-scroll { (trusted(chart::events_per_minute(&minutes))) }
                figcaption {
                    span.legend { span.swatch.stored {} "stored" }
                    span.legend { span.swatch.duplicate {} "duplicates dropped" }
                    @if now_ms() - since < 3_600_000 { "Counted since the gateway started " (time(since)) "." }
                }
            }
        }
        div.table-wrap {
            table.stack {
                caption { "Latest events, newest first" }
                thead { tr {
                    th scope="col" { "Received" } th scope="col" { "Event id" } th scope="col" { "Subscription" }
                    th scope="col" { "Object" } th scope="col" { "Change" } th scope="col" { "Attempt" }
                } }
                tbody {
                    @if events.is_empty() { tr { td colspan="6" { span.muted { "No events stored yet (or all pruned after their retention)." } } } }
                    @for event in &events { (row(event)) }
                }
            }
        }
    };
    Ok(Reply::page(Section::Webhooks, content))
}

fn stat(label: &str, value: &str) -> Markup {
    html! { div.stat { span.value { (value) } span.label { (label) } } }
}

fn row(event: &StoredEvent) -> Markup {
    let json: Value = serde_json::from_str(&event.raw).unwrap_or(Value::Null);
    let text = |name: &str| match &json[name] {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let change = match (text("propertyName"), text("propertyValue")) {
        (name, _) if name.is_empty() => text("changeSource"),
        (name, value) => format!("{name} = {value}"),
    };
    html! {
        tr {
            td data-label="Received" { (time(event.received_at_ms)) }
            td.mono data-label="Event id" { (text("eventId")) }
            td data-label="Subscription" { (text("subscriptionType")) }
            td.mono data-label="Object" { (text("objectId")) }
            td data-label="Change" { @if json.is_null() || event.raw == crate::store::ERASED { span.muted { "(erased by a privacy deletion)" } } @else { (change) } }
            td.number data-label="Attempt" { (text("attemptNumber")) }
        }
    }
}
