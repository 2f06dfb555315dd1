//! The `PropertyDef` type and the small builder the per-type tables are written with.

use crate::sim::gen::words;
use crate::sim::kind::ObjectType;

/// HubSpot's property `type`.
/// HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/properties/guide>
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyType {
    String,
    Number,
    Bool,
    Enumeration,
    Date,
    DateTime,
    Phone,
}

impl PropertyType {
    pub fn as_str(self) -> &'static str {
        match self {
            PropertyType::String => "string",
            PropertyType::Number => "number",
            PropertyType::Bool => "bool",
            PropertyType::Enumeration => "enumeration",
            PropertyType::Date => "date",
            PropertyType::DateTime => "datetime",
            PropertyType::Phone => "phone_number",
        }
    }
}

/// How the generator fills a property of a base record.
#[derive(Debug, Clone)]
pub enum Fill {
    /// Computed by type-specific code in `gen::values` (names, emails, ids, timestamps...).
    Special,
    /// One of the enumeration options' internal values.
    Choice,
    Words(&'static [&'static str]),
    Number(u64, u64),
    Phone,
    Date,
    DateTime,
    Bool,
}

#[derive(Debug, Clone)]
pub struct Choice {
    pub label: String,
    pub value: String,
    pub hidden: bool,
}

#[derive(Debug, Clone)]
pub struct PropertyDef {
    pub name: &'static str,
    pub label: &'static str,
    pub ptype: PropertyType,
    pub group: &'static str,
    pub options: Vec<Choice>,
    /// Multi-select checkbox: the value is `;`-joined internal values.
    pub multi: bool,
    pub textarea: bool,
    pub calculated: bool,
    pub read_only: bool,
    pub hidden: bool,
    pub unique: bool,
    pub fill: Fill,
    /// Percentage of base records that have a value.
    pub fill_pct: u8,
}

impl PropertyDef {
    pub fn field_type(&self) -> &'static str {
        match self.ptype {
            _ if self.calculated && self.ptype == PropertyType::Number => "calculation_equation",
            PropertyType::String if self.textarea => "textarea",
            PropertyType::String => "text",
            PropertyType::Number => "number",
            PropertyType::Bool => "booleancheckbox",
            PropertyType::Enumeration if self.multi => "checkbox",
            PropertyType::Enumeration if self.options.len() <= 3 => "radio",
            PropertyType::Enumeration => "select",
            PropertyType::Date | PropertyType::DateTime => "date",
            PropertyType::Phone => "phonenumber",
        }
    }

    pub fn writable(&self) -> bool {
        !self.read_only && !self.calculated
    }

    pub fn number(mut self, low: u64, high: u64) -> Self {
        self.ptype = PropertyType::Number;
        self.fill = Fill::Number(low, high);
        self
    }

    /// Options as (label, internal value) pairs.
    pub fn choices(mut self, pairs: &[(&str, &str)]) -> Self {
        self.ptype = PropertyType::Enumeration;
        self.fill = Fill::Choice;
        self.options = pairs
            .iter()
            .map(|(label, value)| Choice {
                label: label.to_string(),
                value: value.to_string(),
                hidden: false,
            })
            .collect();
        self
    }

    /// Options whose label is derived from the internal value (`COMPUTER_SOFTWARE`).
    pub fn values(self, values: &[&str]) -> Self {
        let labels: Vec<String> = values.iter().map(|value| label_of(value)).collect();
        let pairs: Vec<(&str, &str)> = labels
            .iter()
            .zip(values)
            .map(|(label, value)| (label.as_str(), *value))
            .collect();
        self.choices(&pairs)
    }

    pub fn multi(mut self) -> Self {
        self.multi = true;
        self
    }

    pub fn boolean(self) -> Self {
        let mut def = self.choices(&[("Yes", "true"), ("No", "false")]);
        def.ptype = PropertyType::Bool;
        def.fill = Fill::Bool;
        def
    }

    pub fn date(mut self) -> Self {
        self.ptype = PropertyType::Date;
        self.fill = Fill::Date;
        self
    }

    pub fn datetime(mut self) -> Self {
        self.ptype = PropertyType::DateTime;
        self.fill = Fill::DateTime;
        self
    }

    pub fn phone(mut self) -> Self {
        self.ptype = PropertyType::Phone;
        self.fill = Fill::Phone;
        self
    }

    pub fn words(mut self, words: &'static [&'static str]) -> Self {
        self.fill = Fill::Words(words);
        self
    }

    pub fn textarea(mut self) -> Self {
        self.textarea = true;
        self
    }

    pub fn calc(mut self) -> Self {
        self.calculated = true;
        self.read_only = true;
        self
    }

    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    pub fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    pub fn unique(mut self) -> Self {
        self.unique = true;
        self
    }

    pub fn pct(mut self, fill_pct: u8) -> Self {
        self.fill_pct = fill_pct;
        self
    }

    /// Marks one option hidden: still a valid stored value.
    /// HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/properties/guide>
    pub fn hide_option(mut self, value: &str) -> Self {
        for choice in &mut self.options {
            if choice.value == value {
                choice.hidden = true;
            }
        }
        self
    }
}

/// A text property in `group`, filled by the generator's type-specific code unless changed.
pub fn prop(name: &'static str, label: &'static str, group: &'static str) -> PropertyDef {
    PropertyDef {
        name,
        label,
        ptype: PropertyType::String,
        group,
        options: Vec::new(),
        multi: false,
        textarea: false,
        calculated: false,
        read_only: false,
        hidden: false,
        unique: false,
        fill: Fill::Special,
        fill_pct: 100,
    }
}

/// The created, modified, id and author properties every type has, named as HubSpot's search
/// documentation names them. Deals' create date is writable in HubSpot; the others are not.
/// The author ids are set by writes with a user's OAuth token (generated records have none).
/// HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/search-the-crm>
pub fn system(kind: ObjectType, group: &'static str) -> [PropertyDef; 5] {
    let created = prop(kind.created_property(), "Create Date", group).datetime();
    let created = if kind == ObjectType::Deals {
        created
    } else {
        created.read_only()
    };
    [
        created,
        prop(kind.modified_property(), "Last Modified Date", group)
            .datetime()
            .read_only(),
        prop("hs_object_id", "Record ID", group)
            .number(0, 0)
            .read_only(),
        prop("hs_created_by_user_id", "Created by user ID", group)
            .number(0, 0)
            .read_only()
            .pct(0),
        prop("hs_updated_by_user_id", "Updated by user ID", group)
            .number(0, 0)
            .read_only()
            .pct(0),
    ]
}

/// Street, city, state, country (filled to agree with each other) and postal code.
pub fn address(group: &'static str, street_pct: u8, zip_pct: u8) -> [PropertyDef; 5] {
    [
        prop("address", "Street Address", group)
            .words(words::STREETS)
            .pct(street_pct),
        prop("city", "City", group),
        prop("state", "State/Region", group),
        prop("country", "Country/Region", group),
        prop("zip", "Postal Code", group)
            .number(10000, 99999)
            .pct(zip_pct),
    ]
}

/// When the record last had a logged activity (read-only, set by engagements).
pub fn last_activity() -> PropertyDef {
    prop(
        "notes_last_updated",
        "Last Activity Date",
        "sales_properties",
    )
    .datetime()
    .read_only()
}

/// Ids merged into a record, `;`-separated (set by merges only).
pub fn merged_ids(label: &'static str, group: &'static str) -> PropertyDef {
    prop("hs_merged_object_ids", label, group)
        .read_only()
        .hidden()
        .pct(0)
}

pub fn lifecycle_stage(group: &'static str) -> PropertyDef {
    prop("lifecyclestage", "Lifecycle Stage", group).values(&[
        "subscriber",
        "lead",
        "marketingqualifiedlead",
        "salesqualifiedlead",
        "opportunity",
        "customer",
        "evangelist",
        "other",
    ])
}

pub fn lead_status(group: &'static str) -> PropertyDef {
    prop("hs_lead_status", "Lead Status", group).values(&[
        "NEW",
        "OPEN",
        "IN_PROGRESS",
        "OPEN_DEAL",
        "UNQUALIFIED",
        "ATTEMPTED_TO_CONTACT",
        "CONNECTED",
        "BAD_TIMING",
    ])
}

/// `COMPUTER_SOFTWARE` -> `Computer Software`.
fn label_of(value: &str) -> String {
    value
        .split('_')
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            let mut chars = lower.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
