//! HubSpot's webhook payload: a JSON array of events.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/webhooks/guide>

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// One webhook event. Unknown fields are ignored; kind-specific fields are optional.
/// Ids are i64 (many exceed 2^31) and accepted as numbers or numeric strings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(deserialize_with = "id")]
    pub event_id: i64,
    #[serde(
        default,
        deserialize_with = "opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub subscription_id: Option<i64>,
    #[serde(deserialize_with = "id")]
    pub portal_id: i64,
    #[serde(
        default,
        deserialize_with = "opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub app_id: Option<i64>,
    #[serde(deserialize_with = "id")]
    pub occurred_at: i64,
    /// e.g. `contact.propertyChange`, `object.creation`; the docs' table calls it `eventType`.
    #[serde(alias = "eventType")]
    pub subscription_type: String,
    #[serde(
        default,
        deserialize_with = "opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub attempt_number: Option<i64>,
    #[serde(
        default,
        deserialize_with = "opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub object_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_type_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_flag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub property_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_sensitive: Option<bool>,
    #[serde(
        default,
        deserialize_with = "opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub primary_object_id: Option<i64>,
    #[serde(
        default,
        deserialize_with = "opt_ids",
        skip_serializing_if = "Option::is_none"
    )]
    pub merged_object_ids: Option<Vec<i64>>,
    #[serde(
        default,
        deserialize_with = "opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub new_object_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_properties_moved: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub association_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub from_object_id: Option<i64>,
    #[serde(
        default,
        deserialize_with = "opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub to_object_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_object_type_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_object_type_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub association_type_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub association_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub association_removed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_primary_association: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
    /// The Webhooks Journal file this event came from; `None` for a webhook. HubSpot never
    /// sends it: the gateway writes it when it converts a journal event (`journal::format`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_offset: Option<String>,
}

/// Feeds what serde_json writes straight into a hash.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An event as it arrived: its raw JSON text and what it parsed into.
#[derive(Debug, Clone)]
pub struct Received<'a> {
    pub raw: &'a str,
    pub event: Event,
}

/// Why a body is not a HubSpot event batch; the message is safe to return to the sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

/// Parses a batch body, keeping each event's raw text so it can be stored exactly as received.
pub fn parse_batch(body: &[u8]) -> Result<Vec<Received<'_>>, Malformed> {
    let items: Vec<&RawValue> = serde_json::from_slice(body)
        .map_err(|error| Malformed(format!("body is not a JSON array of events: {error}")))?;
    items
        .into_iter()
        .enumerate()
        .map(|(index, raw)| {
            let event = serde_json::from_str::<Event>(raw.get())
                .map_err(|error| Malformed(format!("event [{index}]: {error}")))?;
            Ok(Received {
                raw: raw.get(),
                event,
            })
        })
        .collect()
}

impl Event {
    /// Identifies a delivery's content: equal for redeliveries of the same event (which differ
    /// only in `attemptNumber`), different for distinct events sharing an `eventId`.
    /// The SHA-256 of the event's JSON without `attemptNumber`, streamed into the hash (no
    /// copy of the event, no buffer); the number is put back afterwards. Stored events keep
    /// their digests, so these bytes must never change.
    pub fn dedup_digest(&mut self) -> [u8; 16] {
        let attempt_number = self.attempt_number.take();
        let mut hasher = HashWriter(Sha256::new());
        // Invariant: serialising a struct of plain fields into a hash cannot fail.
        serde_json::to_writer(&mut hasher, &*self).expect("Event serialises");
        self.attempt_number = attempt_number;
        let hash = hasher.0.finalize();
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&hash[..16]);
        digest
    }

    /// The object type this event concerns: `contact`, `company`, `deal`, or for generic
    /// `object.*` events the type id such as `0-27`.
    pub fn object_kind(&self) -> &str {
        match self.subscription_type.split_once('.') {
            Some(("object", _)) => self.object_type_id.as_deref().unwrap_or("object"),
            Some((kind, _)) => kind,
            None => &self.subscription_type,
        }
    }

    /// The change: `creation`, `propertyChange`, `deletion`, `merge`, ...
    pub fn action(&self) -> &str {
        self.subscription_type
            .split_once('.')
            .map_or("", |(_, action)| action)
    }
}

fn id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    Id::deserialize(deserializer)?.into_i64()
}

fn opt_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Option::<Id>::deserialize(deserializer)?
        .map(Id::into_i64)
        .transpose()
}

fn opt_ids<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<i64>>, D::Error> {
    Option::<Vec<Id>>::deserialize(deserializer)?
        .map(|ids| ids.into_iter().map(Id::into_i64).collect())
        .transpose()
}

/// Property values are strings, but a lenient parser also takes numbers and booleans.
fn opt_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        String(String),
        Number(serde_json::Number),
        Bool(bool),
    }
    Ok(
        Option::<Text>::deserialize(deserializer)?.map(|text| match text {
            Text::String(text) => text,
            Text::Number(number) => number.to_string(),
            Text::Bool(flag) => flag.to_string(),
        }),
    )
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Id {
    Number(i64),
    Text(String),
}

impl Id {
    fn into_i64<E: serde::de::Error>(self) -> Result<i64, E> {
        match self {
            Id::Number(number) => Ok(number),
            Id::Text(text) => text
                .parse()
                .map_err(|_| E::custom(format!("id {text:?} is not an integer"))),
        }
    }
}

mod change;

pub use change::Source;

#[cfg(test)]
mod tests;
