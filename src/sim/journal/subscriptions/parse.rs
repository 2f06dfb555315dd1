//! Upsert bodies of journal subscriptions, validated strictly: every field HubSpot's spec
//! marks required must be present, types and properties must exist, the portal must be ours.

use serde_json::Value;

use super::{Action, Subscription, SubscriptionType};
use crate::sim::kind::ObjectType;
use crate::sim::schema;

/// A refused upsert: the message and the field it is about (HubSpot's `errors[].in`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub message: String,
    pub field: &'static str,
}

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        message: message.into(),
        field,
    }
}

/// Parses an upsert body strictly: every field the spec marks required must be present.
pub fn parse(body: &Value, app_id: i64, installed: &[i64]) -> Result<Subscription, Invalid> {
    let kind = match body["subscriptionType"].as_str() {
        Some(text) => serde_json::from_value::<SubscriptionType>(Value::from(text))
            .map_err(|_| invalid("subscriptionType", format!("subscriptionType {text} is not one the simulator serves (OBJECT, ASSOCIATION, GDPR_PRIVACY_DELETION)")))?,
        None => return Err(invalid("subscriptionType", "subscriptionType is required")),
    };
    let field = |name: &'static str| {
        body.get(name)
            .filter(|value| !value.is_null())
            .ok_or_else(|| {
                invalid(
                    name,
                    format!("{name} is required for {kind:?} subscriptions"),
                )
            })
    };
    let portal_id = field("portalId")?
        .as_i64()
        .ok_or_else(|| invalid("portalId", "portalId must be an integer"))?;
    if !installed.contains(&portal_id) {
        return Err(invalid(
            "portalId",
            format!("the app is not installed in portal {portal_id}"),
        ));
    }
    let object_type_id = type_id(field("objectTypeId")?, "objectTypeId")?;
    if kind == SubscriptionType::GdprPrivacyDeletion && object_type_id != "0-1" {
        return Err(invalid(
            "objectTypeId",
            "privacy deletions exist for contacts (0-1) only",
        ));
    }
    let actions: Vec<Action> = serde_json::from_value(field("actions")?.clone())
        .map_err(|_| invalid("actions", "actions must be an array of known actions"))?;
    if actions.is_empty() {
        return Err(invalid("actions", "at least one action is required"));
    }
    if let Some(action) = actions.iter().find(|action| !action.allowed_in(kind)) {
        return Err(invalid(
            "actions",
            format!("{action:?} is not an action of {kind:?} subscriptions"),
        ));
    }
    let ids = |name: &'static str| -> Result<Vec<u64>, Invalid> {
        serde_json::from_value(field(name)?.clone())
            .map_err(|_| invalid(name, format!("{name} must be an array of integers")))
    };
    let strings = |name: &'static str| -> Result<Vec<String>, Invalid> {
        serde_json::from_value(field(name)?.clone())
            .map_err(|_| invalid(name, format!("{name} must be an array of strings")))
    };
    let (mut object_ids, mut properties, mut associated) = (None, None, None);
    if kind != SubscriptionType::GdprPrivacyDeletion {
        object_ids = Some(ids("objectIds")?);
    }
    if kind == SubscriptionType::Object {
        let names = strings("properties")?;
        let kind_of = crate::sim::kind::parse(&object_type_id).expect("validated above");
        if let Some(unknown) = names
            .iter()
            .find(|name| schema::property(kind_of, name).is_none())
        {
            return Err(invalid(
                "properties",
                format!("property {unknown} does not exist on {object_type_id}"),
            ));
        }
        if actions.contains(&Action::Update) && names.is_empty() {
            return Err(invalid("properties", "UPDATE needs at least one property"));
        }
        properties = Some(names);
    }
    if kind == SubscriptionType::Association {
        let types = strings("associatedObjectTypeIds")?;
        for id in &types {
            type_id(&Value::from(id.as_str()), "associatedObjectTypeIds")?;
        }
        associated = Some(types);
    }
    Ok(Subscription {
        id: 0,
        app_id,
        subscription_type: kind,
        portal_id,
        object_type_id,
        actions,
        object_ids,
        properties,
        associated_object_type_ids: associated,
        created_at: String::new(),
        updated_at: String::new(),
    })
}

fn type_id(value: &Value, field: &'static str) -> Result<String, Invalid> {
    let text = value.as_str().unwrap_or_default();
    ObjectType::ALL
        .iter()
        .find(|kind| kind.type_id() == text)
        .map(|kind| kind.type_id().to_string())
        .ok_or_else(|| {
            invalid(
                field,
                format!("{field} {value} is not a known object type id (0-1, 0-2, 0-3, 0-27)"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strict_parse_names_the_field() {
        let ok = json!({"subscriptionType": "OBJECT", "portalId": 7, "objectTypeId": "0-1",
                        "actions": ["CREATE", "UPDATE"], "objectIds": [], "properties": ["email"]});
        let parsed = parse(&ok, 1, &[7]).unwrap();
        assert_eq!(parsed.required_scopes(), vec!["crm.objects.contacts.read"]);
        let field = |body: Value| parse(&body, 1, &[7]).unwrap_err().field;
        let mut body = ok.clone();
        body.as_object_mut().unwrap().remove("objectIds");
        assert_eq!(field(body), "objectIds");
        assert_eq!(
            field(json!({"subscriptionType": "LIST_MEMBERSHIP"})),
            "subscriptionType"
        );
        let mut body = ok.clone();
        body["portalId"] = json!(8);
        assert_eq!(field(body), "portalId");
        let mut body = ok.clone();
        body["properties"] = json!(["no_such_property"]);
        assert_eq!(field(body), "properties");
        let mut body = ok.clone();
        body["actions"] = json!(["ASSOCIATION_ADDED"]);
        assert_eq!(field(body), "actions");
        assert_eq!(
            field(
                json!({"subscriptionType": "GDPR_PRIVACY_DELETION", "portalId": 7,
                         "objectTypeId": "0-2", "actions": ["GDPR_DELETE"]})
            ),
            "objectTypeId"
        );
    }
}
