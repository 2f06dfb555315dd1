//! Slow and abusive clients over raw sockets: a webhook without a signature is refused before
//! its body, a body must arrive in time, webhook bodies have their own limit, a few slow
//! clients cannot take the service down, and the memory unfinished bodies hold is bounded.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::support::signing::{now_ms, Signing};
use crate::support::{batch, metrics_text, Gateway, READ_TOKEN};

const PATH: &str = "/webhooks/hubspot";

/// The head of a webhook request declaring a body of `length` bytes. `signed` adds headers
/// that pass every check made before the body (a v3 signature the body will not match, a
/// fresh timestamp).
fn webhook_head(signed: bool, length: usize) -> String {
    let mut head = format!(
        "POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\n"
    );
    if signed {
        head.push_str(&format!(
            "X-HubSpot-Signature-v3: bm90IGEgc2lnbmF0dXJl\r\nX-HubSpot-Request-Timestamp: {}\r\n",
            now_ms()
        ));
    }
    head + "\r\n"
}

struct Answer {
    status: u16,
    head: String,
    body: Value,
}

/// Reads one HTTP answer (head and a `Content-Length` body).
async fn read_answer(stream: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Answer> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await?);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .map_or(0, |value| value.trim().parse().unwrap());
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await?;
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Ok(Answer { status, head, body })
}

/// Waits (at most 5 s) for the server to close the connection without sending more.
async fn closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0; 1];
    match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte)).await {
        Ok(Ok(0) | Err(_)) => true,
        Ok(Ok(_)) | Err(_) => false,
    }
}

fn code(answer: &Answer) -> (u16, Option<&str>) {
    (answer.status, answer.body["error"]["code"].as_str())
}

#[tokio::test]
async fn a_webhook_without_signature_is_refused_before_its_body() {
    let gateway = Gateway::start_with("max_in_flight = 1", "").await;
    let mut unsigned = TcpStream::connect(gateway.addr).await.unwrap();
    unsigned
        .write_all(webhook_head(false, 1_000_000).as_bytes())
        .await
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), read_answer(&mut unsigned))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    assert_eq!(code(&answer), (401, Some("missing_signature")));
    assert!(answer.head.contains("connection: close"), "{}", answer.head);
    assert!(
        closed(&mut unsigned).await,
        "the connection is not kept for the body"
    );

    // The in-flight slot is taken before the body too: with one slot held by a request whose
    // body is still coming, the next is refused at once instead of reading its body first.
    let mut holding = TcpStream::connect(gateway.addr).await.unwrap();
    holding
        .write_all(format!("{}[", webhook_head(true, 1000)).as_bytes())
        .await
        .unwrap();
    // Its first body byte is held once it has the slot.
    let deadline = Instant::now() + Duration::from_secs(5);
    while body_memory(&gateway, &gateway.http).await < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the first request was never admitted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut next = TcpStream::connect(gateway.addr).await.unwrap();
    next.write_all(webhook_head(true, 1000).as_bytes())
        .await
        .unwrap();
    let refused = tokio::time::timeout(Duration::from_secs(5), read_answer(&mut next))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    assert_eq!(code(&refused), (503, Some("overloaded")));
    drop(holding);
    gateway.stop().await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_gets_408_and_the_connection_closes() {
    let gateway = Gateway::start_with("body_timeout_secs = 1", "").await;
    let api_head = format!(
        "POST /v1/indicators HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {READ_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    );
    for head in [webhook_head(true, 1000), api_head] {
        let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
        let started = Instant::now();
        stream
            .write_all(format!("{head}[{{\"eventId\"").as_bytes())
            .await
            .unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(5), read_answer(&mut stream))
            .await
            .expect("answered once the body is late")
            .unwrap();
        assert_eq!(code(&answer), (408, Some("body_timeout")), "{head}");
        assert!(started.elapsed() >= Duration::from_millis(900), "{head}");
        assert!(answer.head.contains("connection: close"), "{}", answer.head);
        assert!(closed(&mut stream).await, "{head}");
    }
    // A body that keeps coming does not escape the deadline either: it is for the whole body.
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    stream
        .write_all(webhook_head(true, 1000).as_bytes())
        .await
        .unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        while writer.write_all(b" ").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let answer = tokio::time::timeout(Duration::from_secs(5), read_answer(&mut reader))
        .await
        .expect("answered at the deadline")
        .unwrap();
    assert_eq!(code(&answer), (408, Some("body_timeout")));
    trickle.abort();
    gateway.stop().await;
}

#[tokio::test]
async fn webhook_bodies_have_their_own_limit() {
    let gateway =
        Gateway::start_with("max_body_bytes = 2048\nwebhook_max_body_bytes = 16384", "").await;
    let fits = batch(1, 40, 0);
    assert!(fits.len() > 2048 && fits.len() < 16384);
    assert_eq!(gateway.post(PATH, &fits, Signing::FRESH).await.0, 204);
    let (status, body) = gateway.post(PATH, &batch(100, 80, 0), Signing::FRESH).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("body_too_large"))
    );
    // API bodies keep `max_body_bytes`.
    let companies: Vec<Value> = (0..100)
        .map(|n| serde_json::json!({"ref": format!("c-{n}"), "domain": format!("d{n}.example")}))
        .collect();
    let (status, body) = gateway
        .send(
            reqwest::Method::POST,
            "/v1/indicators",
            READ_TOKEN,
            &serde_json::json!({ "companies": companies }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("body_too_large"))
    );
    gateway.stop().await;
}

/// What the attacking clients saw.
#[derive(Default)]
struct Tally {
    answers: parking_lot::Mutex<Vec<u16>>,
    /// Connections closed without an answer (refused: too many from the address).
    unanswered: AtomicU64,
}

/// One attacker: opens a webhook request and trickles its body a byte every 50 ms until the
/// server answers or closes, then starts over, until `stop`.
async fn trickle(addr: SocketAddr, signed: bool, stop: CancellationToken, tally: Arc<Tally>) {
    while !stop.is_cancelled() {
        let Ok(stream) = TcpStream::connect(addr).await else {
            continue;
        };
        let (mut reader, mut writer) = stream.into_split();
        let head = webhook_head(signed, 1 << 20);
        let answer = read_answer(&mut reader);
        tokio::pin!(answer);
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        if writer.write_all(head.as_bytes()).await.is_err() {
            tally.unanswered.fetch_add(1, Ordering::Relaxed);
        } else {
            loop {
                tokio::select! {
                    answer = &mut answer => {
                        match answer {
                            Ok(answer) => tally.answers.lock().push(answer.status),
                            Err(_) => {
                                tally.unanswered.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        break;
                    }
                    _ = tick.tick() => {
                        if writer.write_all(b" ").await.is_err() {
                            tally.unanswered.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                    }
                    () = stop.cancelled() => return,
                }
            }
        }
        // A slow client, not a connection flood: the point is what slowness costs.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A client on another loopback address (per-address caps are per address).
fn prober() -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Probes `/healthz` and a signed webhook every 100 ms for `window`: the longest answer seen
/// and how many rounds ran.
async fn probe(gateway: &Gateway, client: &reqwest::Client, window: Duration) -> (Duration, i64) {
    let mut slowest = Duration::ZERO;
    let end = Instant::now() + window;
    let mut round = 0;
    while Instant::now() < end {
        round += 1;
        let started = Instant::now();
        let health = client.get(gateway.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        slowest = slowest.max(started.elapsed());

        let body = batch(10_000 + round, 1, 0);
        let uri = format!("{}{PATH}", gateway.public_url);
        let mut request = client.post(gateway.url(PATH)).body(body.clone());
        for (name, value) in Signing::FRESH.headers(&uri, body.as_bytes()) {
            request = request.header(name, value);
        }
        let started = Instant::now();
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 204);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (slowest, round)
}

async fn metric(gateway: &Gateway, client: &reqwest::Client, name: &str) -> f64 {
    let text = client
        .get(gateway.url("/metrics"))
        .bearer_auth(READ_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics_text::parse(&text).unwrap()[name]
}

async fn body_memory(gateway: &Gateway, client: &reqwest::Client) -> f64 {
    metric(gateway, client, "hubspot_gateway_request_body_memory_bytes").await
}

/// The attack from issue 14: with `max_connections = 16`, sixteen connections trickling
/// webhook bodies used to hold every slot, so `/healthz` and real webhooks timed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_slow_clients_do_not_take_the_service_down() {
    for signed in [false, true] {
        let gateway = Gateway::start_with(
            "max_connections = 16\nmax_connections_per_ip = 8\nbody_timeout_secs = 2",
            "",
        )
        .await;
        let stop = CancellationToken::new();
        let tally = Arc::new(Tally::default());
        let attackers: Vec<_> = (0..16)
            .map(|_| tokio::spawn(trickle(gateway.addr, signed, stop.clone(), tally.clone())))
            .collect();
        // The attack is in place once its connections are answered or refused.
        let deadline = Instant::now() + Duration::from_secs(10);
        while tally.answers.lock().len() + (tally.unanswered.load(Ordering::Relaxed) as usize) < 16
        {
            assert!(Instant::now() < deadline, "the attack never got going");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Three body timeouts long: held connections are cut and come back meanwhile.
        let client = prober();
        let (slowest, rounds) = probe(&gateway, &client, Duration::from_secs(6)).await;
        eprintln!("signed {signed}: slowest probe answer {slowest:?} in {rounds} rounds");
        assert!(
            slowest < Duration::from_secs(1),
            "signed {signed}: {slowest:?}"
        );
        assert!(rounds >= 10, "{rounds} rounds");
        let answers = tally.answers.lock().clone();
        if signed {
            assert!(
                answers.iter().filter(|status| **status == 408).count() >= 8,
                "{answers:?}"
            );
            let refused = "hubspot_gateway_connections_refused_total";
            assert!(metric(&gateway, &client, refused).await >= 8.0);
        } else {
            assert!(answers.iter().all(|status| *status == 401), "{answers:?}");
            assert!(answers.len() >= 16, "{answers:?}");
        }
        stop.cancel();
        for attacker in attackers {
            attacker.await.unwrap();
        }
        gateway.stop().await;
    }
}

/// Bodies being read take from `max_body_memory_bytes`; past it a request is refused (503),
/// so unfinished bodies hold at most that much, however many clients send them.
#[tokio::test]
async fn memory_held_by_unfinished_bodies_is_bounded() {
    let budget = 1_048_576.0;
    let gateway = Gateway::start_with(
        "max_body_memory_bytes = 1048576\nwebhook_max_body_bytes = 300000\n\
         max_body_bytes = 300000",
        "",
    )
    .await;
    let client = prober();
    // Each client declares 250,001 bytes and sends all but the last: a body holds at most
    // its declared length, so four fit in the budget and no fifth.
    let part = vec![b' '; 250_000];
    let (mut held, mut refused) = (Vec::new(), 0);
    for _ in 0..6 {
        let before = body_memory(&gateway, &client).await;
        let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
        stream
            .write_all(webhook_head(true, 250_001).as_bytes())
            .await
            .unwrap();
        stream.write_all(&part).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if body_memory(&gateway, &client).await >= before + 250_000.0 {
                held.push(stream);
                break;
            }
            let mut byte = [0; 1];
            let peeked = tokio::time::timeout(Duration::from_millis(20), stream.peek(&mut byte));
            if let Ok(Ok(1)) = peeked.await {
                let answer = read_answer(&mut stream).await.unwrap();
                assert_eq!(code(&answer), (503, Some("overloaded")));
                refused += 1;
                break;
            }
            assert!(Instant::now() < deadline, "neither held nor refused");
        }
        let now = body_memory(&gateway, &client).await;
        assert!(now <= budget, "{now} bytes held");
    }
    assert_eq!((held.len(), refused), (4, 2));
    // Bodies given up give their memory back; webhooks are taken again.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    while body_memory(&gateway, &client).await > 0.0 {
        assert!(Instant::now() < deadline, "memory never given back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        gateway.post(PATH, &batch(1, 1, 0), Signing::FRESH).await.0,
        204
    );
    gateway.stop().await;
}
