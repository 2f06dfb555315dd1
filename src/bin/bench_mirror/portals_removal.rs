//! The last step of `bench-mirror portals`: removing portals from the deployment with
//! `DELETE /v1/portals/{id}` (admin token). First one portal in the middle, timed from the
//! request until `GET /v1/status` lists no removal, then every remaining portal's lookup must
//! still answer; then every other portal, one after another (each request waits for the
//! previous removal to finish), until `/v1/status` shows `portals: []`.

use std::time::Duration;

use anyhow::{ensure, Context as _};
use hubspot_gateway::sim::fire::Latencies;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::gateway::{Gateway, ADMIN_TOKEN};
use crate::portals::{lookup_own, Account};
use crate::report::{self, round3};

/// A removal that takes longer than this fails the run.
const WITHIN: Duration = Duration::from_secs(300);

pub async fn run(gw: &Gateway, accounts: &[Account]) -> anyhow::Result<Value> {
    let one = &accounts[accounts.len() / 2];
    let (accepted, finished) = remove(gw, one.portal_id).await?;
    let path = format!("/v1/status?portal={}", one.portal_id);
    let (status_after, _) = gw.get(&path).await?;
    ensure!(
        status_after != 200,
        "{path} still answered 200 after the removal"
    );
    let remaining: Vec<&Account> = accounts
        .iter()
        .filter(|account| account.portal_id != one.portal_id)
        .collect();
    let listed = portals(&gw.status().await?);
    let mut expected: Vec<i64> = remaining.iter().map(|account| account.portal_id).collect();
    expected.sort_unstable();
    ensure!(
        listed == expected,
        "after removing {} /v1/status lists {} portals, not the {} others",
        one.portal_id,
        listed.len(),
        expected.len()
    );
    for account in &remaining {
        lookup_own(gw, account)
            .await
            .with_context(|| format!("portal {} after removing another", account.portal_id))?;
    }
    eprintln!(
        "removed portal {} in {:.3} s; {} others answer their lookup",
        one.portal_id,
        finished.as_secs_f64(),
        remaining.len()
    );

    let started = Instant::now();
    let mut each = Latencies::default();
    for (index, account) in remaining.iter().enumerate() {
        let (_, finished) = remove(gw, account.portal_id)
            .await
            .with_context(|| format!("removing portal {} ({index})", account.portal_id))?;
        each.record(finished);
    }
    let all_secs = started.elapsed().as_secs_f64();
    let status = gw.status().await?;
    let (left, removing) = (&status["portals"], &status["removing"]);
    ensure!(
        *left == json!([]) && *removing == json!([]),
        "after removing every portal /v1/status shows portals {left}, removing {removing}"
    );
    eprintln!(
        "removed the other {} portals in {all_secs:.3} s",
        remaining.len()
    );
    Ok(json!({
        "one": {
            "portal": one.portal_id,
            "accepted_ms": ms(accepted),
            "finished_ms": ms(finished),
            "status_after": status_after,
        },
        "remaining_lookups": remaining.len(),
        "all": {
            "order": "one after another, each until /v1/status lists no removal",
            "portals": remaining.len(),
            "secs": round3(all_secs),
            "each": report::percentiles(&each),
            "status_portals": left,
            "status_removing": removing,
        },
    }))
}

/// `DELETE /v1/portals/{id}`, then `GET /v1/status` every 10 ms until `removing` is empty:
/// (the 202's time, the time until then), both from the request.
async fn remove(gw: &Gateway, portal: i64) -> anyhow::Result<(Duration, Duration)> {
    let began = Instant::now();
    let response = gw
        .http
        .delete(format!("{}/v1/portals/{portal}", gw.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await?;
    let code = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    ensure!(
        code == 202 && body == json!({"portal_id": portal, "state": "removing"}),
        "DELETE /v1/portals/{portal} answered {code}: {body}"
    );
    let accepted = began.elapsed();
    loop {
        let status = gw.status().await?;
        if status["removing"].as_array().is_some_and(Vec::is_empty) {
            ensure!(
                !portals(&status).contains(&portal),
                "portal {portal} is still listed after its removal finished"
            );
            return Ok((accepted, began.elapsed()));
        }
        ensure!(
            began.elapsed() < WITHIN,
            "portal {portal} still being removed after {WITHIN:?}: {}",
            status["removing"]
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `portals` of a `/v1/status` body, sorted.
fn portals(status: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = status["portals"]
        .as_array()
        .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    ids.sort_unstable();
    ids
}

fn ms(duration: Duration) -> f64 {
    round3(duration.as_secs_f64() * 1000.0)
}
