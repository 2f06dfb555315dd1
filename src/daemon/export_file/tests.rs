//! Cutting a file into jobs: by records, by request body bytes, and smaller after a refusal.

use super::*;

fn csv(rows: usize) -> String {
    let mut text = String::from("email,last_name,ref\n");
    for index in 0..rows {
        // Rows of different lengths, so that body limits fall between records.
        let name = "x".repeat(index % 7 * 5);
        text.push_str(&format!("p{index}@example.com,{name},r{index}\n"));
    }
    text
}

fn jobs(text: &str, limits: Limits) -> Jobs<&[u8]> {
    Jobs::new(file::records(text.as_bytes()).unwrap(), limits)
}

fn references(job: &[Input]) -> Vec<String> {
    job.iter().map(|input| input.reference.clone()).collect()
}

/// Every job of `text` under `limits`, as references.
fn cut(text: &str, limits: Limits) -> Vec<Vec<String>> {
    let mut jobs = jobs(text, limits);
    std::iter::from_fn(|| Some(jobs.next().unwrap()).filter(|job| !job.is_empty()))
        .map(|job| references(&job))
        .collect()
}

#[test]
fn jobs_hold_at_most_max_records() {
    let limits = Limits {
        max_records: 4,
        body: None,
    };
    let sizes: Vec<usize> = cut(&csv(10), limits).iter().map(Vec::len).collect();
    assert_eq!(sizes, [4, 4, 2]);
    assert_eq!(cut(&csv(8), limits).len(), 2);
    assert!(cut("email\n", limits).is_empty());
}

#[test]
fn bodies_fit_in_max_body_bytes_and_are_filled() {
    let envelope = Envelope::new(ObjectType::Contacts, "ann@seller.example", false);
    let text = csv(200);
    let all: Vec<Input> = file::parse(&text).unwrap();
    for max_body_bytes in [300, 1_000, 4_096] {
        let limits = Limits {
            max_records: 1_000,
            body: Some((max_body_bytes, envelope.empty_bytes())),
        };
        let mut jobs = jobs(&text, limits);
        let mut sent = 0;
        loop {
            let job = jobs.next().unwrap();
            if job.is_empty() {
                break;
            }
            let body = envelope.body(&job);
            assert!(
                body.len() <= max_body_bytes,
                "{} > {max_body_bytes}",
                body.len()
            );
            let parsed: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(parsed["records"].as_array().unwrap().len(), job.len());
            assert_eq!(job[..], all[sent..sent + job.len()]);
            sent += job.len();
            if let Some(next) = all.get(sent) {
                let mut bigger = job.clone();
                bigger.push(next.clone());
                assert!(
                    envelope.body(&bigger).len() > max_body_bytes,
                    "the next record would have fitted"
                );
            }
        }
        assert_eq!(sent, all.len(), "every record once, in order");
    }
}

#[test]
fn a_refused_job_goes_again_in_halves() {
    let text = csv(10);
    let mut jobs = jobs(
        &text,
        Limits {
            max_records: 8,
            body: None,
        },
    );
    let first = jobs.next().unwrap();
    assert_eq!(first.len(), 8);
    jobs.refused(first);
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let job = jobs.next().unwrap();
        if job.is_empty() {
            break;
        }
        sizes.push(job.len());
        seen.extend(references(&job));
    }
    assert_eq!(sizes, [4, 4, 2]);
    let expected: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    assert_eq!(seen, expected);
}

#[test]
fn the_scan_counts_records_and_finds_one_too_large_for_any_body() {
    let text = csv(30);
    let records = || file::records(text.as_bytes()).unwrap();
    assert_eq!(scan(records(), None).unwrap(), 30);
    let envelope = Envelope::new(ObjectType::Contacts, "ann@seller.example", false);
    let max_body_bytes = envelope.empty_bytes() + 80;
    let body = Some((max_body_bytes, envelope.empty_bytes()));
    let too_large = file::parse(&text)
        .unwrap()
        .into_iter()
        .find(|input| Envelope::record_bytes(input) > 80)
        .unwrap();
    assert!(too_large.line > 2, "an early record fits");
    let error = scan(records(), body).unwrap_err().to_string();
    let expected = format!(
        "line {}: this record alone makes a request of {} bytes, more than \
         server.max_body_bytes ({max_body_bytes})",
        too_large.line,
        envelope.empty_bytes() + Envelope::record_bytes(&too_large)
    );
    assert_eq!(error, expected);
    assert_eq!(
        envelope.body(std::slice::from_ref(&too_large)).len(),
        envelope.empty_bytes() + Envelope::record_bytes(&too_large),
    );
}
