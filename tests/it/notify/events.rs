//! Every event end to end: changes in the simulated portal reach a local target as signed
//! notifications of the contract's shapes; the first full sync notifies nothing.

use std::time::Duration;

use hubspot_gateway::sim::ObjectType;
use serde_json::{json, Value};

use super::receiver::Receiver;
use super::{notify_section, target, wait_for, Harness, READ};
use crate::mirror::{small_portal, wait_until};

const WITHIN: Duration = Duration::from_secs(30);

fn owned_by(harness: &Harness, kind: ObjectType, owner: &str) -> usize {
    harness.sim.control().snapshot().objects[&kind]
        .iter()
        .filter(|record| {
            record
                .properties
                .get("hubspot_owner_id")
                .map(String::as_str)
                == Some(owner)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_change_notifies_once_signed_and_the_backfill_notifies_nothing() {
    let all = Receiver::start_any().await;
    let merges = Receiver::start_any().await;
    let targets = target("all", &all.url, "")
        + &target(
            "company-merges",
            &merges.url,
            "events = [\"record.merged\"]\ntypes = [\"companies\"]",
        );
    let harness = Harness::start(small_portal(), notify_section("", &targets)).await;
    let control = harness.sim.control();

    // A record created after the first full sync is announced; none of the backfilled ones.
    let created = control
        .create(
            ObjectType::Contacts,
            [("email", "new.person@notify.example")],
        )
        .unwrap();
    let bodies = wait_for(&all, "record.created", 1, WITHIN).await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["data"]["id"], created.as_str());
    assert_eq!(bodies[0]["data"]["object_type"], "contacts");
    assert_eq!(bodies[0]["data"]["portal_id"], control.config().portal_id);

    // owner.changed: before → after.
    let contact = control.ids(ObjectType::Contacts, "0", 1).remove(0);
    let (before, after) = super::reassign(control, ObjectType::Contacts, &contact);
    let changed = wait_for(&all, "owner.changed", 1, WITHIN).await;
    assert_eq!(
        changed[0]["data"],
        json!({"portal_id": control.config().portal_id, "object_type": "contacts",
               "id": contact, "owner_before": before, "owner_after": after})
    );

    // record.merged: loser → survivor, to both targets (the second wants only that).
    let companies = control.ids(ObjectType::Companies, "0", 2);
    control
        .merge(ObjectType::Companies, &companies[0], &companies[1])
        .unwrap();
    for receiver in [&all, &merges] {
        let merged = wait_for(receiver, "record.merged", 1, WITHIN).await;
        assert_eq!(merged[0]["data"]["id"], companies[1].as_str(), "{merged:?}");
        assert_eq!(merged[0]["data"]["merged_into"], companies[0].as_str());
    }

    // record.deleted: an archived deal carries its owner; a privacy deletion only the id.
    let deal = control.ids(ObjectType::Deals, "0", 1).remove(0);
    control.archive(ObjectType::Deals, &deal).unwrap();
    let forgotten = control.ids(ObjectType::Contacts, &contact, 1).remove(0);
    control.privacy_delete(&forgotten).unwrap();
    // HubSpot announces a privacy deletion with a deletion too: the record is erased and
    // notified once, with the id alone (never first as archived, with its owner).
    let erased = json!({"portal_id": control.config().portal_id, "object_type": "contacts",
                        "id": forgotten});
    wait_until("both deletions", WITHIN, || async {
        let deleted = all.of("record.deleted");
        deleted
            .iter()
            .any(|body| body["data"]["id"] == deal.as_str())
            && deleted.iter().any(|body| body["data"] == erased)
    })
    .await;
    let deleted = all.of("record.deleted");
    let archived = deleted
        .iter()
        .find(|body| body["data"]["id"] == deal.as_str())
        .unwrap();
    assert_eq!(archived["data"]["object_type"], "deals");
    assert!(archived["data"]["archived_at"].is_string(), "{archived}");
    let of_forgotten: Vec<&Value> = deleted
        .iter()
        .filter(|body| body["data"]["id"] == forgotten.as_str())
        .collect();
    assert_eq!(of_forgotten.len(), 1, "{of_forgotten:?}");
    assert_eq!(
        of_forgotten[0]["data"], erased,
        "a privacy deletion notifies the id alone"
    );

    // owner.archived: the records the owner still owns, counted per type.
    let owners = control.owners();
    let leaving = owners
        .iter()
        .map(|owner| owner.id.to_string())
        .find(|id| *id != after)
        .unwrap();
    let owned = owned_by(&harness, ObjectType::Contacts, &leaving);
    assert!(owned > 0);
    control.archive_owner(&leaving).unwrap();
    let left = wait_for(&all, "owner.archived", 1, WITHIN).await;
    assert_eq!(left[0]["data"]["id"], leaving.as_str());
    assert_eq!(left[0]["data"]["object_type"], "owners");
    assert_eq!(left[0]["data"]["records"]["contacts"], owned, "{left:?}");
    assert_eq!(
        left[0]["data"]["records"]["companies"],
        owned_by(&harness, ObjectType::Companies, &leaving)
    );

    // match.first: the first lookup to find a record, and only the first.
    let email = "new.person@notify.example";
    for _ in 0..2 {
        let (code, _) = harness
            .gateway
            .get(&format!("/v1/contacts/lookup?email={email}"), Some(READ))
            .await;
        assert_eq!(code, 200);
    }
    let first = wait_for(&all, "match.first", 1, WITHIN).await;
    assert_eq!(first[0]["data"]["id"], created.as_str());
    assert!(first[0]["data"]["matched_at"].is_string());

    // Nothing else was sent: every notification accounted for, each signature valid.
    wait_until("the queue drains", WITHIN, || async {
        harness.status("all").await["pending"] == 0
    })
    .await;
    let status = harness.status("all").await;
    let delivered = all
        .arrivals()
        .iter()
        .map(|arrival| arrival.id.clone())
        .collect::<std::collections::HashSet<_>>();
    assert_eq!(status["delivered"], delivered.len(), "{status}");
    assert_eq!(all.of("record.created").len(), 1, "the backfill notified");
    assert_eq!(all.of("match.first").len(), 1);
    assert_eq!(
        all.state.refused.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert_eq!(merges.of("record.merged").len(), merges.arrivals().len());
    harness.stop().await;
}
