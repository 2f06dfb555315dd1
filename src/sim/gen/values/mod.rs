//! Property values of base records: generic fills from the schema, and the type-specific
//! ones (names, emails, domains, links, deal stages) that must agree with each other.

mod activity;

use super::words::*;
use super::{owners, salt, Gen, ANCHOR_MS};
use crate::sim::kind::ObjectType::{self, *};
use crate::sim::schema::{Fill, PropertyDef};
use crate::time;
pub use activity::stage_history;
use activity::{deal, task};

const DAY_MS: i64 = 86_400_000;

pub fn value(gen: &Gen, kind: ObjectType, index: u64, def: &PropertyDef) -> Option<String> {
    let roll = |extra: u64| gen.hash(kind, index, salt(def.name) ^ extra);
    if def.fill_pct < 100 && roll(0x55) % 100 >= def.fill_pct as u64 {
        return None;
    }
    if let Some(special) = special(gen, kind, index, def.name) {
        return special;
    }
    let created = gen.created_ms(kind, index);
    Some(match &def.fill {
        Fill::Special => return None,
        Fill::Choice if def.multi => {
            let first = roll(1) as usize % def.options.len();
            let second = roll(2) as usize % def.options.len();
            let mut picked = vec![def.options[first].value.as_str()];
            if second != first {
                picked.push(def.options[second].value.as_str());
            }
            picked.join(";")
        }
        Fill::Choice => def.options[roll(1) as usize % def.options.len()]
            .value
            .clone(),
        Fill::Words(words) => words[roll(1) as usize % words.len()].to_string(),
        Fill::Number(low, high) => (low + roll(1) % (high - low + 1)).to_string(),
        Fill::Phone => phone(roll(1)),
        Fill::Date => time::date(ANCHOR_MS - (roll(1) % (20_000 * DAY_MS as u64)) as i64),
        Fill::DateTime => {
            time::iso(created + (roll(1) % (ANCHOR_MS - created).max(1) as u64) as i64)
        }
        Fill::Bool => (roll(1) % 100 < 15).to_string(),
    })
}

/// `Some(value)` when the property is computed here; `None` to use the generic fill.
fn special(gen: &Gen, kind: ObjectType, index: u64, name: &str) -> Option<Option<String>> {
    let id = gen.ids(kind).id(index);
    let value = match name {
        "hs_object_id" => Some(id.to_string()),
        "createdate" | "hs_createdate" => Some(time::iso(gen.created_ms(kind, index))),
        "lastmodifieddate" | "hs_lastmodifieddate" => Some(time::iso(gen.modified_ms(kind, index))),
        "hubspot_owner_id" => owner(gen, kind, index),
        "hs_merged_object_ids" => None,
        _ => return per_type(gen, kind, index, name),
    };
    Some(value)
}

fn per_type(gen: &Gen, kind: ObjectType, index: u64, name: &str) -> Option<Option<String>> {
    match kind {
        Contacts => contact(gen, index, name),
        Companies => company(gen, index, name),
        Deals => deal(gen, index, name),
        Tasks => task(gen, index, name),
    }
}

fn owner(gen: &Gen, kind: ObjectType, index: u64) -> Option<String> {
    let roll = gen.hash(kind, index, 0x0e);
    (gen.owners > 0 && roll % 10 != 0).then(|| owners::owner_id(roll / 10 % gen.owners).to_string())
}

fn pick<'a>(gen: &Gen, kind: ObjectType, index: u64, tag: u64, list: &[&'a str]) -> &'a str {
    list[gen.hash(kind, index, tag) as usize % list.len()]
}

pub fn first_name(gen: &Gen, index: u64) -> &'static str {
    pick(gen, Contacts, index, 0xf1, FIRST_NAMES)
}

pub fn last_name(gen: &Gen, index: u64) -> &'static str {
    pick(gen, Contacts, index, 0xf2, LAST_NAMES)
}

/// Emails embed the index, so they are unique and map back to the record without an index.
pub fn email(gen: &Gen, index: u64) -> String {
    let local = format!(
        "{}.{}{}",
        slug(first_name(gen, index)),
        slug(last_name(gen, index)),
        index
    );
    match gen.links.company_of_contact(index) {
        Some(company) => format!("{local}@{}", bare_domain(gen, company)),
        None => format!("{local}@{}", pick(gen, Contacts, index, 0xf3, FREE_MAIL)),
    }
}

/// The contact index an email of the generated form names, if any (check the email matches).
pub fn email_index(email: &str) -> Option<u64> {
    let local = email.split('@').next()?;
    let digits: String = local
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.chars().rev().collect::<String>().parse().ok()
}

fn contact(gen: &Gen, index: u64, name: &str) -> Option<Option<String>> {
    let company = gen.links.company_of_contact(index);
    let place = match company {
        Some(company) => place(gen, company),
        None => PLACES[gen.hash(Contacts, index, 0xc1) as usize % PLACES.len()],
    };
    Some(match name {
        "firstname" => Some(first_name(gen, index).to_string()),
        "lastname" => Some(last_name(gen, index).to_string()),
        "email" => Some(email(gen, index)),
        "company" => company.map(|company| company_name(gen, company)),
        "associatedcompanyid" => company.map(|company| gen.ids(Companies).id(company).to_string()),
        "website" => company.map(|company| format!("https://{}", bare_domain(gen, company))),
        "city" => Some(place.0.to_string()),
        "state" => Some(place.1.to_string()),
        "country" => Some(place.2.to_string()),
        "num_associated_deals" => Some(gen.links.deals_of_contact(index).len().to_string()),
        "twitterhandle" => Some(format!("{}{}", slug(first_name(gen, index)), index % 1000)),
        "hs_linkedin_url" => Some(format!(
            "https://www.linkedin.com/in/{}-{}",
            slug(first_name(gen, index)),
            index
        )),
        _ => return None,
    })
}

fn brand(gen: &Gen, company: u64) -> u64 {
    // Every 17th company (by hash) is another branch of the previous brand: same domain.
    let duplicate = company > 0 && gen.hash(Companies, company, 0xb0) % 17 == 0;
    if duplicate {
        company - 1
    } else {
        company
    }
}

fn place(gen: &Gen, company: u64) -> (&'static str, &'static str, &'static str, &'static str) {
    PLACES[gen.hash(Companies, company, 0xb1) as usize % PLACES.len()]
}

pub fn company_name(gen: &Gen, company: u64) -> String {
    let brand = brand(gen, company);
    let (heads, tails) = (BRAND_HEADS.len() as u64, BRAND_TAILS.len() as u64);
    // The tail shifts with the head so neighbours differ; (head, tail) stays unique per round.
    let (head, step) = (brand % heads, brand / heads);
    let mut name = format!(
        "{} {}",
        BRAND_HEADS[head as usize],
        BRAND_TAILS[((step + head * 7) % tails) as usize]
    );
    let round = brand / (heads * tails);
    if round > 0 {
        name.push_str(&format!(" {}", round + 1));
    }
    name
}

/// Lowercase domain without `www.`: what emails use and what a lookup normalises to.
pub fn bare_domain(gen: &Gen, company: u64) -> String {
    let brand = brand(gen, company);
    let name = company_name(gen, brand);
    let tld = place(gen, brand).3;
    // A few brands keep their umlauts: internationalised domain names.
    let label = if brand / BRAND_HEADS.len() as u64 % 2 == 0 && !name.is_ascii() {
        name.to_lowercase().replace(' ', "")
    } else {
        slug(&name)
    };
    format!("{label}.{tld}")
}

fn company(gen: &Gen, index: u64, name: &str) -> Option<Option<String>> {
    let place = place(gen, index);
    Some(match name {
        "name" => Some(company_name(gen, index)),
        "domain" => Some(match gen.hash(Companies, index, 0xd0) % 30 {
            0 => format!("www.{}", bare_domain(gen, index)),
            1 => bare_domain(gen, index).to_uppercase(),
            _ => bare_domain(gen, index),
        }),
        "website" => Some(format!("https://www.{}", bare_domain(gen, index))),
        "city" => Some(place.0.to_string()),
        "state" => Some(place.1.to_string()),
        "country" => Some(place.2.to_string()),
        "linkedin_company_page" => Some(format!(
            "https://www.linkedin.com/company/{}",
            slug(&company_name(gen, index))
        )),
        "twitterhandle" => Some(slug(&company_name(gen, index))),
        "facebook_company_page" => Some(format!(
            "https://facebook.com/{}",
            slug(&company_name(gen, index))
        )),
        "num_associated_contacts" => Some(gen.links.contacts_of_company(index).len().to_string()),
        "num_associated_deals" => Some(gen.links.deals_of_company(index).len().to_string()),
        "hs_num_child_companies" => Some("0".to_string()),
        _ => return None,
    })
}

fn phone(roll: u64) -> String {
    let country = [1, 44, 49, 33, 81][roll as usize % 5];
    format!(
        "+{country} {:03} {:03} {:04}",
        roll / 7 % 1000,
        roll / 7_000 % 1000,
        roll / 7_000_000 % 10_000
    )
}

/// ASCII slug of a name: lowercase letters and digits, umlauts transliterated.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.to_lowercase().chars() {
        match character {
            'a'..='z' | '0'..='9' => out.push(character),
            'ä' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            'é' | 'è' | 'ê' | 'ë' => out.push('e'),
            'ô' | 'ó' => out.push('o'),
            'î' | 'í' => out.push('i'),
            _ => {}
        }
    }
    out
}
