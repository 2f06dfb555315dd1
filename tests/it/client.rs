//! The HubSpot client against hubspot-sim over real sockets: paging, search windows, rate
//! limits, faults, OAuth refresh and the startup scope check.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hubspot_gateway::hubspot::{
    Client, ClientConfig, Credentials, Error, Fields, ListCursor, NewRecord, ObjectType, Record,
    RecordUpdate, Requirements, SearchCursor,
};
use hubspot_gateway::secret::Secret;
use hubspot_gateway::sim::{self, RateLimit, SimConfig, SimHandle};

async fn start(config: SimConfig) -> SimHandle {
    sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the simulator starts")
}

fn private_app(handle: &SimHandle) -> ClientConfig {
    let credentials = Credentials::PrivateApp {
        access_token: Secret::new(handle.config().access_token.clone()),
    };
    ClientConfig::new(handle.base_url().parse().unwrap(), credentials).with_max_retry_secs(60)
}

fn oauth(handle: &SimHandle, refresh_token: &str) -> ClientConfig {
    let config = handle.config();
    let credentials = Credentials::OAuth {
        client_id: config.client_id.clone(),
        client_secret: Secret::new(config.client_secret.clone()),
        refresh_token: Secret::new(refresh_token.to_owned()),
    };
    ClientConfig::new(handle.base_url().parse().unwrap(), credentials).with_max_retry_secs(60)
}

fn everything() -> Requirements {
    Requirements {
        read: ObjectType::ALL.to_vec(),
        owners: true,
        write: vec![ObjectType::Contacts, ObjectType::Companies],
    }
}

async fn list_all(client: &Client, object: ObjectType, fields: &Fields) -> Vec<Record> {
    let mut cursor = ListCursor::default();
    let mut records = Vec::new();
    loop {
        let page = client
            .list_page(object, fields, false, &cursor)
            .await
            .expect("a list page");
        records.extend(page.items);
        match page.next {
            Some(next) => cursor = next,
            None => return records,
        }
    }
}

async fn search_all(
    client: &Client,
    object: ObjectType,
    fields: &Fields,
    from: SearchCursor,
) -> (Vec<Record>, SearchCursor) {
    let mut cursor = from;
    let mut records = Vec::new();
    loop {
        let page = client
            .search_page(object, fields, &cursor)
            .await
            .expect("a search page");
        records.extend(page.records);
        cursor = page.next;
        if page.done {
            return (records, cursor);
        }
    }
}

/// The records are the simulator's: same ids, same values of the fetched properties.
fn assert_mirrors(handle: &SimHandle, object: ObjectType, records: &[Record], fields: &Fields) {
    // Per type rather than `snapshot()`, which walks every type of a large portal.
    let control = handle.control();
    let mut expected = Vec::new();
    let mut after = "0".to_owned();
    loop {
        let ids = control.ids(object, &after, 1_000);
        let Some(last) = ids.last() else { break };
        after = (last.parse::<u64>().unwrap() + 1).to_string();
        expected.extend(ids.iter().filter_map(|id| control.record(object, id)));
    }
    let got: BTreeMap<String, BTreeMap<String, String>> = records
        .iter()
        .map(|r| {
            let values = r
                .properties
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.clone().filter(|v| !v.is_empty())?)))
                .collect();
            (r.id.to_string(), values)
        })
        .collect();
    assert_eq!(got.len(), records.len(), "{object}: duplicate records");
    assert_eq!(got.len(), expected.len(), "{object}: record count");
    for record in &expected {
        let mine = got
            .get(&record.id)
            .unwrap_or_else(|| panic!("{object} {} missing", record.id));
        for name in &fields.properties {
            let want = record.properties.get(name).filter(|v| !v.is_empty());
            assert_eq!(
                mine.get(name),
                want,
                "{object} {} property {name}",
                record.id
            );
        }
    }
}

#[tokio::test]
async fn connect_names_the_portal_user_and_record_urls() {
    let handle = start(SimConfig::default()).await;
    let client = Client::new(private_app(&handle)).unwrap();
    let info = client
        .connect(&everything())
        .await
        .expect("all scopes are granted");
    assert_eq!(info.hub_id, handle.config().portal_id);
    let first_owner = &handle.control().owners()[0];
    assert_eq!(info.user_email.as_deref(), Some(first_owner.email.as_str()));
    assert_eq!(info.user_id, Some(first_owner.user_id as i64));
    assert_eq!(
        info.record_url(ObjectType::Deals, 42),
        format!(
            "https://app.hubspot.com/contacts/{}/record/0-3/42",
            info.hub_id
        )
    );
    assert_eq!(client.token_info(), Some(&info));
    handle.shutdown().await;
}

#[tokio::test]
async fn a_missing_scope_is_reported_at_startup_with_its_purpose() {
    let mut config = SimConfig::default();
    config
        .scopes
        .retain(|s| s != "crm.objects.deals.read" && s != "crm.objects.owners.read");
    let handle = start(config).await;
    let client = Client::new(private_app(&handle)).unwrap();
    let error = client.connect(&everything()).await.unwrap_err();
    let Error::MissingScopes { missing } = &error else {
        panic!("{error:?}");
    };
    let named: Vec<_> = missing
        .iter()
        .map(|m| (m.scope.as_str(), m.needed_for.as_str()))
        .collect();
    assert_eq!(
        named,
        [
            ("crm.objects.deals.read", "reading deals"),
            ("crm.objects.owners.read", "reading owners")
        ]
    );
    // A call made anyway is refused with the same kind of error, naming the call.
    let error = client.deal_pipelines().await.unwrap_err();
    assert!(
        matches!(&error, Error::MissingScopes { missing } if missing[0].scope == "crm.objects.deals.read"),
        "{error:?}"
    );
    assert!(
        !error.to_string().contains(&handle.config().access_token),
        "{error}"
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn every_reader_pages_through_the_whole_portal() {
    let config = SimConfig {
        contacts: 730,
        companies: 260,
        deals: 120,
        tasks: 130,
        owners: 230,
        ..SimConfig::default()
    };
    let handle = start(config).await;
    let archived_owner = handle.control().owners()[5].id.to_string();
    handle.control().archive_owner(&archived_owner).unwrap();
    let client = Client::new(private_app(&handle)).unwrap();

    let owners = client.all_owners().await.unwrap();
    let expected: BTreeMap<String, bool> = handle
        .control()
        .owners()
        .iter()
        .map(|o| (o.id.to_string(), o.archived))
        .collect();
    let got: BTreeMap<String, bool> = owners
        .iter()
        .map(|o| (o.id.to_string(), o.archived))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(owners.len(), 230);
    let archived = owners
        .iter()
        .find(|o| o.id.to_string() == archived_owner)
        .unwrap();
    assert!(archived.archived);
    assert_eq!(archived.user_id, None);
    assert!(archived.user_id_including_inactive.is_some());

    for object in ObjectType::ALL {
        let names = client.property_names(object).await.unwrap();
        assert!(
            names.iter().any(|n| n == object.modified_property()),
            "{object}: {names:?}"
        );
        let fields = Fields::properties(names);
        let records = list_all(&client, object, &fields).await;
        assert_mirrors(&handle, object, &records, &fields);
    }

    let pipelines = client.deal_pipelines().await.unwrap();
    assert!(pipelines
        .iter()
        .any(|p| p.stages.iter().any(|s| s.is_closed())));
    handle.shutdown().await;
}

#[tokio::test]
async fn long_property_lists_are_split_and_merged_per_record() {
    let handle = start(SimConfig::default()).await;
    let mut config = private_app(&handle);
    // Force the split path: only a few names fit in the URL, the rest come by batch read.
    config.url_properties_budget = 60;
    config.search_body_budget = 300;
    let client = Client::new(config).unwrap();
    let names = client.property_names(ObjectType::Contacts).await.unwrap();
    let fields = Fields::properties(names);
    let records = list_all(&client, ObjectType::Contacts, &fields).await;
    assert_mirrors(&handle, ObjectType::Contacts, &records, &fields);
    let calls = handle.stats().calls;
    assert_eq!(calls["GET /crm/v3/objects/{type}"], 5);
    assert_eq!(calls["POST /crm/v3/objects/{type}/batch/read"], 5);

    // Search hydrates wide records by batch read too.
    let (found, _) = search_all(
        &client,
        ObjectType::Contacts,
        &fields,
        SearchCursor::since(0),
    )
    .await;
    assert_mirrors(&handle, ObjectType::Contacts, &found, &fields);
    handle.shutdown().await;
}

#[tokio::test]
async fn batch_read_reports_missing_ids_and_deal_stage_history() {
    let handle = start(SimConfig::default()).await;
    let client = Client::new(private_app(&handle)).unwrap();
    let ids: Vec<i64> = handle
        .control()
        .ids(ObjectType::Deals, "0", 100)
        .iter()
        .map(|id| id.parse().unwrap())
        .collect();
    let gone = ids[3];
    handle
        .control()
        .archive(ObjectType::Deals, &gone.to_string())
        .unwrap();
    let mut wanted = ids.clone();
    wanted.push(9_000_000_000_001);
    let fields = Fields::properties(["dealname", "dealstage"]).with_history(["dealstage"]);
    let read = client
        .batch_read(ObjectType::Deals, &wanted, &fields)
        .await
        .unwrap();
    assert_eq!(read.missing, [gone, 9_000_000_000_001]);
    let got: Vec<i64> = read.records.iter().map(|r| r.id).collect();
    let expected: Vec<i64> = ids.iter().copied().filter(|id| *id != gone).collect();
    assert_eq!(got, expected, "records come back in the order asked");
    // At most 50 inputs per call with history.
    assert_eq!(
        handle.stats().calls["POST /crm/v3/objects/{type}/batch/read"],
        3
    );
    for deal in &read.records {
        let history = &deal.history["dealstage"];
        assert!(!history.is_empty());
        assert_eq!(
            history.last().unwrap().value.as_deref(),
            deal.property("dealstage"),
            "deal {}",
            deal.id
        );
    }

    // Listing with history pages by 50.
    let page = client
        .list_page(ObjectType::Deals, &fields, false, &ListCursor::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 50);
    assert!(page
        .items
        .iter()
        .all(|d| d.history.contains_key("dealstage")));
    handle.shutdown().await;
}

#[tokio::test]
async fn associations_follow_per_input_paging() {
    let handle = start(SimConfig::default()).await;
    let control = handle.control();
    let companies = control.ids(ObjectType::Companies, "0", 100);
    let hub = &companies[0];
    // More than one association page (500) for a single company.
    let contacts = control.ids(ObjectType::Contacts, "0", 500);
    for contact in &contacts {
        control
            .associate(
                (sim::ObjectType::Companies, hub),
                (sim::ObjectType::Contacts, contact),
                true,
            )
            .unwrap();
    }
    let extra = control
        .create(
            sim::ObjectType::Contacts,
            [("email", "extra@assoc.example")],
        )
        .unwrap();
    control
        .associate(
            (sim::ObjectType::Companies, hub),
            (sim::ObjectType::Contacts, &extra),
            true,
        )
        .unwrap();
    let client = Client::new(private_app(&handle)).unwrap();
    let ids: Vec<i64> = companies.iter().map(|id| id.parse().unwrap()).collect();
    let links = client
        .associations(ObjectType::Companies, ObjectType::Contacts, &ids)
        .await
        .unwrap();
    for company in &companies {
        let expected: BTreeSet<String> = control
            .associations(
                sim::ObjectType::Companies,
                company,
                sim::ObjectType::Contacts,
            )
            .unwrap()
            .into_iter()
            .collect();
        let got: BTreeSet<String> = links
            .get(&company.parse::<i64>().unwrap())
            .into_iter()
            .flatten()
            .map(|a| a.to_id.to_string())
            .collect();
        assert_eq!(got, expected, "company {company}");
    }
    assert!(links[&hub.parse::<i64>().unwrap()].len() > 500);
    handle.shutdown().await;
}

#[tokio::test]
async fn search_walks_past_the_10000_cap_even_when_10000_share_one_timestamp() {
    let handle = start(SimConfig {
        contacts: 12_500,
        ..SimConfig::default()
    })
    .await;
    let stamped = handle
        .control()
        .bulk_touch(sim::ObjectType::Contacts, 10_400);
    let client = Client::new(private_app(&handle)).unwrap();
    let fields = Fields::properties(["email"]);
    let (records, cursor) = search_all(
        &client,
        ObjectType::Contacts,
        &fields,
        SearchCursor::since(0),
    )
    .await;
    let ids: BTreeSet<i64> = records.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), records.len(), "no record twice");
    assert_eq!(ids.len(), 12_500, "every record");
    let at_stamp = records
        .iter()
        .filter(|r| r.modified_ms(ObjectType::Contacts) == Some(stamped))
        .count();
    assert_eq!(at_stamp, 10_400);
    let stats = handle.stats();
    assert_eq!(stats.statuses.get(&400), None, "never paged past the cap");
    let searches = stats.calls["POST /crm/v3/objects/{type}/search"];
    assert!(searches <= 12_500 / 200 + 5, "{searches} searches");

    // The final cursor resumes: records changed afterwards are all it finds.
    let changed = [
        records[0].id.to_string(),
        records.last().unwrap().id.to_string(),
    ];
    for id in &changed {
        handle
            .control()
            .update(sim::ObjectType::Contacts, id, [("jobtitle", "Resumer")])
            .unwrap();
    }
    let (again, _) = search_all(&client, ObjectType::Contacts, &fields, cursor).await;
    let again: BTreeSet<String> = again.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(again, changed.into_iter().collect());
    handle.shutdown().await;
}

#[tokio::test]
async fn pacing_keeps_429s_rare_and_a_429_storm_loses_nothing() {
    let handle = start(SimConfig {
        contacts: 2_000,
        rate_limit: Some(RateLimit {
            max: 40,
            interval_ms: 2_000,
        }),
        ..SimConfig::default()
    })
    .await;
    let mut config = private_app(&handle);
    config.rate_limits.rolling_429_pause = Some(Duration::from_millis(300));
    let client = Client::new(config).unwrap();
    let fields = Fields::properties(["email", "firstname"]);
    // Four walkers share the budget: about 80 list calls plus owners, over 40 per 2 s.
    let walks = (0..4).map(|_| {
        let client = client.clone();
        let fields = fields.clone();
        tokio::spawn(async move { list_all(&client, ObjectType::Contacts, &fields).await })
    });
    for walk in futures_util::future::join_all(walks).await {
        assert_mirrors(&handle, ObjectType::Contacts, &walk.unwrap(), &fields);
    }
    let paced = handle.stats();
    assert!(
        paced.rate_limited <= 1,
        "{} 429s while pacing",
        paced.rate_limited
    );

    // A storm: the next 12 calls all answer 429. Every page still arrives.
    handle.control().force_429s(12);
    let records = list_all(&client, ObjectType::Contacts, &fields).await;
    assert_mirrors(&handle, ObjectType::Contacts, &records, &fields);
    let stats = client.stats();
    assert!(stats.rate_limited >= 12, "{stats:?}");
    assert_eq!(stats.failures, 0, "{stats:?}");
    handle.shutdown().await;
}

#[tokio::test]
async fn server_errors_and_latency_are_retried_without_losing_a_page() {
    let handle = start(SimConfig {
        contacts: 1_500,
        fault_rate: 0.25,
        latency_ms: 15,
        ..SimConfig::default()
    })
    .await;
    let client = Client::new(private_app(&handle)).unwrap();
    let fields = Fields::properties(["email"]);
    let records = list_all(&client, ObjectType::Contacts, &fields).await;
    assert_mirrors(&handle, ObjectType::Contacts, &records, &fields);
    let faults: u64 = [502, 503, 504]
        .iter()
        .filter_map(|s| handle.stats().statuses.get(s).copied())
        .sum();
    assert!(faults > 0);
    assert_eq!(client.stats().retries, faults);

    // An outage longer than the retry budget fails with a retryable error, in time.
    let mut config = private_app(&handle);
    config.retry.max_total = Duration::from_secs(2);
    let impatient = Client::new(config).unwrap();
    handle.control().set_fault_rate(0.0);
    handle.control().outage(Duration::from_secs(30));
    let started = tokio::time::Instant::now();
    let error = impatient
        .owners_page(false, &ListCursor::default())
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
    assert_eq!(error.details().map(|d| d.status), Some(503));
    assert!(started.elapsed() < Duration::from_secs(3));
    handle.shutdown().await;
}

#[tokio::test]
async fn oauth_tokens_are_refreshed_ahead_and_after_expiry_mid_stream() {
    let handle = start(SimConfig {
        contacts: 2_000,
        token_ttl_secs: 2,
        latency_ms: 60,
        ..SimConfig::default()
    })
    .await;
    let refresh_token = handle.config().refresh_token.clone();
    let client = Client::new(oauth(&handle, &refresh_token)).unwrap();
    let info = client.connect(&everything()).await.unwrap();
    assert_eq!(info.hub_id, handle.config().portal_id);

    let expirer = {
        let control = handle.control().clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(700)).await;
            control.expire_tokens();
        })
    };
    // 20 pages at 60 ms+ each: the walk outlives several 2-second tokens.
    let fields = Fields::properties(["email"]);
    let records = list_all(&client, ObjectType::Contacts, &fields).await;
    expirer.await.unwrap();
    assert_mirrors(&handle, ObjectType::Contacts, &records, &fields);
    let stats = client.stats();
    assert!(stats.token_refreshes >= 2, "{stats:?}");
    assert_eq!(stats.failures, 0);

    // Many callers hit by one expiry trigger a single refresh.
    let before = handle.stats().calls["POST /oauth/v1/token"];
    handle.control().expire_tokens();
    let calls = (0..12).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.owners_page(false, &ListCursor::default()).await })
    });
    for call in futures_util::future::join_all(calls).await {
        call.unwrap().expect("owners after a refresh");
    }
    assert_eq!(handle.stats().calls["POST /oauth/v1/token"] - before, 1);
    handle.shutdown().await;
}

#[tokio::test]
async fn a_rejected_refresh_token_says_reinstall() {
    let handle = start(SimConfig::default()).await;
    let client = Client::new(oauth(&handle, "na1-revoked")).unwrap();
    let error = client.connect(&everything()).await.unwrap_err();
    assert!(matches!(error, Error::ReinstallNeeded { .. }), "{error:?}");
    assert!(error.to_string().contains("re-installed"));
    assert!(!error.is_retryable());
    handle.shutdown().await;
}

#[tokio::test]
async fn the_daily_limit_stops_the_portal_without_further_calls() {
    let handle = start(SimConfig {
        daily_limit: Some(3),
        ..SimConfig::default()
    })
    .await;
    let client = Client::new(private_app(&handle)).unwrap();
    for _ in 0..3 {
        client
            .owners_page(false, &ListCursor::default())
            .await
            .unwrap();
    }
    let error = client
        .owners_page(false, &ListCursor::default())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::DailyLimit { .. }), "{error:?}");
    assert!(client.budget().daily_limit_until.is_some());
    let calls_before = handle.stats().calls.values().sum::<u64>();
    let again = client.properties(ObjectType::Contacts).await.unwrap_err();
    assert!(matches!(again, Error::DailyLimit { .. }), "{again:?}");
    assert_eq!(
        handle.stats().calls.values().sum::<u64>(),
        calls_before,
        "no call while stopped"
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn writes_create_detect_duplicates_validate_update_upsert_and_archive() {
    let handle = start(SimConfig::default()).await;
    let client = Client::new(private_app(&handle)).unwrap();
    let contact = |email: &str| NewRecord {
        properties: BTreeMap::from([
            ("email".to_owned(), email.to_owned()),
            ("firstname".to_owned(), "Bo".to_owned()),
        ]),
        associations: Vec::new(),
    };

    let created = client
        .create(ObjectType::Contacts, &contact("bo@acme.example"))
        .await
        .unwrap();
    assert_eq!(created.property("email"), Some("bo@acme.example"));
    let duplicate = client
        .create(ObjectType::Contacts, &contact("bo@acme.example"))
        .await
        .unwrap_err();
    assert!(
        matches!(duplicate, Error::Conflict { existing_id: Some(id), .. } if id == created.id),
        "{duplicate:?}"
    );

    let mut invalid = contact("cy@acme.example");
    invalid
        .properties
        .insert("favourite_colour".into(), "teal".into());
    let error = client
        .create(ObjectType::Contacts, &invalid)
        .await
        .unwrap_err();
    let Error::InvalidProperties { problems, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(problems[0].name, "favourite_colour");

    let batch: Vec<NewRecord> = (0..3)
        .map(|i| contact(&format!("batch{i}@acme.example")))
        .collect();
    let created_batch = client
        .batch_create(ObjectType::Contacts, &batch)
        .await
        .unwrap();
    let emails: BTreeSet<_> = created_batch
        .iter()
        .filter_map(|r| r.property("email"))
        .collect();
    assert_eq!(emails.len(), 3);

    let updates = vec![
        RecordUpdate {
            id: created.id,
            properties: BTreeMap::from([("jobtitle".to_owned(), "CTO".to_owned())]),
        },
        RecordUpdate {
            id: 9_000_000_000_123,
            properties: BTreeMap::from([("jobtitle".to_owned(), "Ghost".to_owned())]),
        },
    ];
    let written = client
        .batch_update(ObjectType::Contacts, &updates)
        .await
        .unwrap();
    assert_eq!(written.records.len(), 1);
    assert_eq!(
        written
            .errors
            .iter()
            .flat_map(|e| e.ids.clone())
            .collect::<Vec<_>>(),
        [9_000_000_000_123]
    );

    let upserts = vec![
        (
            "bo@acme.example".to_owned(),
            BTreeMap::from([("lastname".to_owned(), "Li".to_owned())]),
        ),
        (
            "new@acme.example".to_owned(),
            BTreeMap::from([("lastname".to_owned(), "New".to_owned())]),
        ),
    ];
    let upserted = client
        .batch_upsert_contacts_by_email(&upserts)
        .await
        .unwrap();
    let flags: BTreeMap<_, _> = upserted
        .iter()
        .map(|u| {
            (
                u.record.property("email").unwrap_or_default().to_owned(),
                u.created,
            )
        })
        .collect();
    assert_eq!(
        flags,
        BTreeMap::from([
            ("bo@acme.example".to_owned(), false),
            ("new@acme.example".to_owned(), true)
        ])
    );

    client
        .archive(ObjectType::Contacts, created.id)
        .await
        .unwrap();
    assert!(handle
        .control()
        .record(sim::ObjectType::Contacts, &created.id.to_string())
        .is_none());
    client
        .archive(ObjectType::Contacts, created.id)
        .await
        .unwrap();
    handle.shutdown().await;
}

#[tokio::test]
async fn search_secondly_429s_from_a_shared_budget_are_waited_out() {
    let handle = start(SimConfig {
        contacts: 1_600,
        ..SimConfig::default()
    })
    .await;
    // Two clients (two processes, say) pace separately but share the portal's 5 searches/s.
    let fields = Fields::properties(["email"]);
    let walks = (0..2).map(|_| {
        let client = Client::new(private_app(&handle)).unwrap();
        let fields = fields.clone();
        tokio::spawn(async move {
            let (records, _) = search_all(
                &client,
                ObjectType::Contacts,
                &fields,
                SearchCursor::since(0),
            )
            .await;
            (records, client.stats())
        })
    });
    let mut limited = 0;
    for walk in futures_util::future::join_all(walks).await {
        let (records, stats) = walk.unwrap();
        assert_mirrors(&handle, ObjectType::Contacts, &records, &fields);
        assert_eq!(stats.failures, 0, "{stats:?}");
        limited += stats.rate_limited;
    }
    assert!(limited > 0, "the shared budget was exceeded");
    assert_eq!(handle.stats().rate_limited, limited);
    handle.shutdown().await;
}

#[tokio::test]
async fn oauth_tokens_are_refreshed_before_hubspot_refuses_them() {
    let handle = start(SimConfig {
        contacts: 3_000,
        token_ttl_secs: 2,
        latency_ms: 100,
        ..SimConfig::default()
    })
    .await;
    let refresh_token = handle.config().refresh_token.clone();
    let client = Client::new(oauth(&handle, &refresh_token)).unwrap();
    let started = tokio::time::Instant::now();
    let fields = Fields::properties(["email"]);
    // 30 pages of 100 ms or more: the walk outlives the first token.
    let records = list_all(&client, ObjectType::Contacts, &fields).await;
    assert!(started.elapsed() > Duration::from_secs(3));
    assert_mirrors(&handle, ObjectType::Contacts, &records, &fields);
    // Refreshed at half of each 2-second life, so HubSpot never saw an expired token.
    assert!(client.stats().token_refreshes >= 3, "{:?}", client.stats());
    assert_eq!(handle.stats().statuses.get(&401), None);
    handle.shutdown().await;
}
