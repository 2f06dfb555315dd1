//! A property value checked against its definition the way HubSpot checks it on write:
//! picklist internal values (case-sensitive), numbers, booleans, dates, emails.

use crate::ownership::normalize;
use crate::store::PropertyDef;
use crate::time;

/// `Err` carries the message naming the value and what the property accepts.
pub fn check(def: &PropertyDef, value: &str) -> Result<(), String> {
    if def.calculated || def.read_only_value {
        return Err(format!("property {:?} is read-only", def.name));
    }
    match def.value_type.as_str() {
        "enumeration" => check_options(def, value),
        "number" => match value.parse::<f64>() {
            Ok(number) if number.is_finite() => Ok(()),
            _ => Err(format!("{value:?} is not a number ({})", def.name)),
        },
        "bool" => match value {
            "true" | "false" => Ok(()),
            _ => Err(format!("{value:?} is not true or false ({})", def.name)),
        },
        "date" if time::parse_date_ms(value).is_none() && !is_epoch_ms(value) => Err(format!(
            "{value:?} is not a date (YYYY-MM-DD or epoch milliseconds) ({})",
            def.name
        )),
        "datetime" if time::parse_ms(value).is_none() => Err(format!(
            "{value:?} is not a date-time (RFC 3339 or epoch milliseconds) ({})",
            def.name
        )),
        _ if def.name == "email" && normalize::email(value).is_none() => {
            Err(format!("{value:?} is not an email address"))
        }
        _ => Ok(()),
    }
}

fn check_options(def: &PropertyDef, value: &str) -> Result<(), String> {
    // Multi-select (`checkbox`) values are `;`-joined; a leading `;` appends.
    let parts: Vec<&str> = if def.field_type == "checkbox" {
        value.split(';').filter(|part| !part.is_empty()).collect()
    } else {
        vec![value]
    };
    for part in parts {
        if !def.options.iter().any(|(internal, _)| internal == part) {
            let allowed: Vec<&str> = def
                .options
                .iter()
                .take(20)
                .map(|(internal, _)| internal.as_str())
                .collect();
            return Err(format!(
                "{part:?} was not one of the allowed options of {}: [{}{}]",
                def.name,
                allowed.join(", "),
                if def.options.len() > 20 { ", ..." } else { "" }
            ));
        }
    }
    Ok(())
}

fn is_epoch_ms(value: &str) -> bool {
    !value.is_empty() && value.len() <= 15 && value.bytes().all(|b| b.is_ascii_digit())
}
