//! The digest's text: what happened in a period, as plain text and as a simple HTML part.

use std::fmt::Write as _;

use super::super::wire::rfc3339;

/// What a digest reports; gathered from the store by `digest::gather`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Digest {
    pub from_ms: i64,
    pub to_ms: i64,
    /// One per portal the deployment mirrors, the first first.
    pub portals: Vec<PortalDigest>,
}

/// What happened in one portal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PortalDigest {
    pub portal_id: i64,
    pub types: Vec<TypeDigest>,
    /// Owners whose records changed hands, most moved first.
    pub owners: Vec<OwnerMoves>,
}

impl Digest {
    pub fn newly_matched(&self) -> u64 {
        let types = self.portals.iter().flat_map(|portal| &portal.types);
        types.map(|t| t.newly_matched).sum()
    }

    pub fn changed_hands(&self) -> u64 {
        let owners = self.portals.iter().flat_map(|portal| &portal.owners);
        owners.map(|o| o.lost).sum()
    }

    /// A portal's heading, when there are several to tell apart.
    fn heading(&self, portal: &PortalDigest) -> Option<String> {
        (self.portals.len() > 1).then(|| format!("HubSpot account {}", portal.portal_id))
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TypeDigest {
    pub name: String,
    /// Records a lookup matched for the first time in the period.
    pub newly_matched: u64,
    /// A few of them, by display name (oldest first).
    pub examples: Vec<String>,
    pub matched: u64,
    pub count: u64,
    /// The match rate at the previous digest, when there was one.
    pub previous_rate: Option<f64>,
}

impl TypeDigest {
    pub fn rate(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.matched as f64 / self.count as f64
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnerMoves {
    /// The owner's name and id (or "unowned").
    pub owner: String,
    pub lost: u64,
    pub gained: u64,
    /// Where their records went: (owner, records), most first.
    pub to: Vec<(String, u64)>,
}

pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub fn compose(digest: &Digest) -> Email {
    let (new, moved) = (digest.newly_matched(), digest.changed_hands());
    let period = format!(
        "{} to {}",
        &rfc3339(digest.from_ms)[..16].replace('T', " "),
        &rfc3339(digest.to_ms)[..16].replace('T', " ")
    );
    let subject = format!("HubSpot gateway: {new} newly matched, {moved} records changed hands");
    Email {
        subject,
        text: text(digest, &period),
        html: html(digest, &period),
    }
}

fn change(t: &TypeDigest) -> String {
    match t.previous_rate {
        Some(previous) => format!("{:+.1} points", (t.rate() - previous) * 100.0),
        None => "first digest".into(),
    }
}

fn text(digest: &Digest, period: &str) -> String {
    let mut out = format!("What the gateway saw from {period} (UTC).\n");
    for portal in &digest.portals {
        if let Some(heading) = digest.heading(portal) {
            let _ = write!(out, "\n{heading}\n");
        }
        portal_text(&mut out, portal);
    }
    out
}

fn portal_text(out: &mut String, portal: &PortalDigest) {
    out.push_str("\nNewly matched records\n");
    for t in &portal.types {
        let _ = writeln!(
            out,
            "  {}: {} newly matched; match rate {:.1} % ({} of {}), {}",
            t.name,
            t.newly_matched,
            t.rate() * 100.0,
            t.matched,
            t.count,
            change(t)
        );
        for example in &t.examples {
            let _ = writeln!(out, "    - {example}");
        }
    }
    out.push_str("\nOwners whose records changed hands\n");
    if portal.owners.is_empty() {
        out.push_str("  none\n");
    }
    for owner in &portal.owners {
        let to: Vec<String> = owner
            .to
            .iter()
            .map(|(name, count)| format!("{count} to {name}"))
            .collect();
        let _ = writeln!(
            out,
            "  {}: {} moved away{}, {} came in",
            owner.owner,
            owner.lost,
            if to.is_empty() {
                String::new()
            } else {
                format!(" ({})", to.join(", "))
            },
            owner.gained
        );
    }
}

fn html(digest: &Digest, period: &str) -> String {
    let mut out = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\">\
         <p>What the gateway saw from {} (UTC).</p>",
        escape(period)
    );
    for portal in &digest.portals {
        if let Some(heading) = digest.heading(portal) {
            let _ = write!(out, "<h1>{}</h1>", escape(&heading));
        }
        portal_html(&mut out, portal);
    }
    out.push_str("</body></html>");
    out
}

fn portal_html(out: &mut String, portal: &PortalDigest) {
    out.push_str(
        "<h2>Newly matched records</h2><table cellpadding=\"4\">\
         <tr><th align=\"left\">Type</th><th>Newly matched</th><th>Match rate</th>\
         <th>Change</th></tr>",
    );
    for t in &portal.types {
        let _ = write!(
            out,
            "<tr><td>{}</td><td align=\"right\">{}</td><td align=\"right\">{:.1} % ({} of {})</td><td>{}</td></tr>",
            escape(&t.name),
            t.newly_matched,
            t.rate() * 100.0,
            t.matched,
            t.count,
            escape(&change(t))
        );
        if !t.examples.is_empty() {
            let names: Vec<String> = t.examples.iter().map(|e| escape(e)).collect();
            let _ = write!(
                out,
                "<tr><td></td><td colspan=\"3\">{}</td></tr>",
                names.join(", ")
            );
        }
    }
    out.push_str(
        "</table><h2>Owners whose records changed hands</h2><table cellpadding=\"4\">\
         <tr><th align=\"left\">Owner</th><th>Moved away</th><th>Came in</th><th align=\"left\">To</th></tr>",
    );
    for owner in &portal.owners {
        let to: Vec<String> = owner
            .to
            .iter()
            .map(|(name, count)| format!("{count} to {}", escape(name)))
            .collect();
        let _ = write!(
            out,
            "<tr><td>{}</td><td align=\"right\">{}</td><td align=\"right\">{}</td><td>{}</td></tr>",
            escape(&owner.owner),
            owner.lost,
            owner.gained,
            to.join(", ")
        );
    }
    out.push_str("</table>");
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_what_changed_in_both_parts() {
        let email = compose(&digest_of(vec![portal(62515, 3, 5)]));
        assert_eq!(
            email.subject,
            "HubSpot gateway: 3 newly matched, 5 records changed hands"
        );
        assert!(
            email.text.contains("2026-01-01 00:00 to 2026-01-08 00:00"),
            "{}",
            email.text
        );
        assert!(
            email
                .text
                .contains("companies: 3 newly matched; match rate 15.0 % (30 of 200), +5.0 points"),
            "{}",
            email.text
        );
        assert!(email
            .text
            .contains("Ann Lee (101): 5 moved away (5 to Bo Li (102)), 1 came in"));
        assert!(email.html.contains("Acme &lt;Inc&gt;"), "{}", email.html);
        assert!(!email.html.contains("<Inc>"));
        assert!(email.html.contains("<td>+5.0 points</td>"));
        assert!(
            !email.text.contains("HubSpot account"),
            "one portal needs no heading"
        );
    }

    #[test]
    fn several_portals_each_get_their_section_and_the_subject_sums_them() {
        let email = compose(&digest_of(vec![portal(1, 3, 5), portal(2, 4, 0)]));
        assert_eq!(
            email.subject,
            "HubSpot gateway: 7 newly matched, 5 records changed hands"
        );
        let first = email.text.find("HubSpot account 1\n").unwrap();
        let second = email.text.find("HubSpot account 2\n").unwrap();
        assert!(first < second, "{}", email.text);
        assert!(email.text[second..].contains("companies: 4 newly matched"));
        assert!(email.text[second..].contains("  none\n"), "{}", email.text);
        assert!(email.html.contains("<h1>HubSpot account 2</h1>"));
    }

    fn digest_of(portals: Vec<PortalDigest>) -> Digest {
        Digest {
            from_ms: 1_767_225_600_000,
            to_ms: 1_767_830_400_000,
            portals,
        }
    }

    /// A portal where `newly` companies were matched and Ann's `moved` records went to Bo.
    fn portal(portal_id: i64, newly: u64, moved: u64) -> PortalDigest {
        PortalDigest {
            portal_id,
            types: vec![TypeDigest {
                name: "companies".into(),
                newly_matched: newly,
                examples: vec!["Acme <Inc>".into()],
                matched: 30,
                count: 200,
                previous_rate: Some(0.1),
            }],
            owners: (moved > 0)
                .then(|| OwnerMoves {
                    owner: "Ann Lee (101)".into(),
                    lost: moved,
                    gained: 1,
                    to: vec![("Bo Li (102)".into(), moved)],
                })
                .into_iter()
                .collect(),
        }
    }
}
