//! A property value checked against its definition the way HubSpot checks it on write:
//! picklist internal values (case-sensitive), numbers, booleans, dates, emails.

use crate::ownership::normalize;
use crate::store::PropertyDef;

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
        "date" if !is_date(value) && !is_epoch_ms(value) => Err(format!(
            "{value:?} is not a date (YYYY-MM-DD or epoch milliseconds) ({})",
            def.name
        )),
        "datetime" if humantime::parse_rfc3339_weak(value).is_err() && !is_epoch_ms(value) => {
            Err(format!(
                "{value:?} is not a date-time (RFC 3339 or epoch milliseconds) ({})",
                def.name
            ))
        }
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

fn is_date(value: &str) -> bool {
    let bytes = value.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    if !(digits(0..4) && digits(5..7) && digits(8..10)) {
        return false;
    }
    humantime::parse_rfc3339(&format!("{value}T00:00:00Z")).is_ok()
}

fn is_epoch_ms(value: &str) -> bool {
    !value.is_empty() && value.len() <= 15 && value.bytes().all(|b| b.is_ascii_digit())
}
