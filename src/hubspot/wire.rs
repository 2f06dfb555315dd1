//! HubSpot's JSON shapes (camelCase, string ids) and their conversion into `model` types.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer};
use serde::Deserialize;

use super::model::{HistoryEntry, Record};
use crate::time::parse_ms;

/// A HubSpot id: sent as a string (`"512"`) or a number; parsed into `i64` (ids pass 2^31).
pub(crate) fn id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(s) => s.trim().parse().map_err(de::Error::custom),
        serde_json::Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| de::Error::custom("id out of range")),
        other => Err(de::Error::custom(format!("expected an id, got {other}"))),
    }
}

pub(super) fn opt_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    match Option::<serde_json::Value>::deserialize(deserializer)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if s.is_empty() => Ok(None),
        Some(value) => id(value).map(Some).map_err(de::Error::custom),
    }
}

/// Property values are strings; tolerate numbers and booleans from lenient servers.
pub(super) fn lenient_string(value: serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

/// `properties` (`null` or absent: none), each value as [`lenient_string`] reads it, parsed
/// straight into the map: a list page is mostly property values.
pub(super) fn properties<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Option<String>>, D::Error> {
    struct Properties(BTreeMap<String, Option<String>>);
    impl<'de> Deserialize<'de> for Properties {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_map(PropertiesVisitor)
        }
    }
    struct PropertiesVisitor;
    impl<'de> de::Visitor<'de> for PropertiesVisitor {
        type Value = Properties;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of property values")
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Properties, A::Error> {
            let mut properties = BTreeMap::new();
            while let Some((name, value)) = map.next_entry::<String, Lenient>()? {
                properties.insert(name, value.0);
            }
            Ok(Properties(properties))
        }
    }
    Ok(Option::<Properties>::deserialize(deserializer)?.map_or_else(BTreeMap::new, |p| p.0))
}

/// One property value as [`lenient_string`] reads it, without building a `Value` for strings.
struct Lenient(Option<String>);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LenientVisitor)
    }
}

struct LenientVisitor;

impl<'de> de::Visitor<'de> for LenientVisitor {
    type Value = Lenient;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a property value")
    }
    fn visit_str<E: de::Error>(self, value: &str) -> Result<Lenient, E> {
        Ok(Lenient(Some(value.to_owned())))
    }
    fn visit_string<E: de::Error>(self, value: String) -> Result<Lenient, E> {
        Ok(Lenient(Some(value)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Lenient, E> {
        Ok(Lenient(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Lenient, E> {
        Ok(Lenient(None))
    }
    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Lenient, E> {
        Ok(Lenient(lenient_string(value.into())))
    }
    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Lenient, E> {
        Ok(Lenient(lenient_string(value.into())))
    }
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Lenient, E> {
        Ok(Lenient(lenient_string(value.into())))
    }
    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Lenient, E> {
        Ok(Lenient(lenient_string(value.into())))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Lenient, A::Error> {
        let value = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Lenient(lenient_string(value)))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Lenient, A::Error> {
        let value = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Lenient(lenient_string(value)))
    }
}

pub(super) fn time(text: &Option<String>) -> Option<i64> {
    text.as_deref().and_then(parse_ms)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireRecord {
    #[serde(deserialize_with = "id")]
    pub id: i64,
    #[serde(default, deserialize_with = "properties")]
    pub properties: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub properties_with_history: Option<BTreeMap<String, Vec<WireHistory>>>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub archived: Option<bool>,
    #[serde(default)]
    pub archived_at: Option<String>,
    /// Batch upsert only: whether the record was created.
    #[serde(default)]
    pub new: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireHistory {
    #[serde(default)]
    value: serde_json::Value,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    source_type: Option<String>,
    #[serde(default)]
    source_id: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    updated_by_user_id: Option<i64>,
}

impl From<WireRecord> for Record {
    fn from(wire: WireRecord) -> Self {
        let history = wire
            .properties_with_history
            .unwrap_or_default()
            .into_iter()
            .map(|(name, entries)| {
                let mut entries: Vec<HistoryEntry> =
                    entries.into_iter().map(HistoryEntry::from).collect();
                // HubSpot lists newest first; the mirror wants oldest first.
                entries.sort_by_key(|e| e.timestamp_ms);
                (name, entries)
            })
            .collect();
        Record {
            id: wire.id,
            properties: wire.properties,
            history,
            created_at_ms: time(&wire.created_at),
            updated_at_ms: time(&wire.updated_at),
            archived: wire.archived.unwrap_or(false),
            archived_at_ms: time(&wire.archived_at),
        }
    }
}

impl From<WireHistory> for HistoryEntry {
    fn from(wire: WireHistory) -> Self {
        HistoryEntry {
            value: lenient_string(wire.value),
            timestamp_ms: time(&wire.timestamp),
            source_type: wire.source_type,
            source_id: wire.source_id,
            updated_by_user_id: wire.updated_by_user_id,
        }
    }
}

/// `{results, paging: {next: {after}}, total?}`: list, owners, search.
#[derive(Debug, Deserialize)]
pub(crate) struct WirePage<T> {
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
    #[serde(default)]
    pub paging: Option<WirePaging>,
    #[serde(default)]
    pub total: Option<u64>,
}

impl<T> WirePage<T> {
    pub fn next_after(&self) -> Option<String> {
        self.paging.as_ref()?.next.as_ref().map(|n| n.after.clone())
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct WirePaging {
    #[serde(default)]
    pub next: Option<WireNext>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireNext {
    #[serde(deserialize_with = "string_or_number")]
    pub after: String,
}

pub(super) fn string_or_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    Ok(lenient_string(serde_json::Value::deserialize(deserializer)?).unwrap_or_default())
}

/// Batch responses (200 or 207): `{status, results, errors?, numErrors?}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireBatch<T> {
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
    #[serde(default)]
    pub errors: Vec<WireBatchError>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireBatchError {
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub message: String,
    /// e.g. `{"ids": ["512"]}` for ids batch read could not find.
    #[serde(default)]
    pub context: BTreeMap<String, serde_json::Value>,
}

impl WireBatchError {
    /// The ids this error names (batch read puts unknown ids in `context.ids`).
    pub fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.context
            .values()
            .filter_map(|v| v.as_array())
            .flatten()
            .filter_map(|v| match v {
                serde_json::Value::String(s) => s.trim().parse().ok(),
                other => other.as_i64(),
            })
    }
}

mod reference;
pub(crate) use reference::{WireOwner, WirePipeline, WireProperty};

#[cfg(test)]
mod tests;
