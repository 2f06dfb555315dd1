//! Deal property definitions; `pipeline` and `dealstage` options come from the pipelines.

use super::builder::{last_activity, merged_ids, prop, system, PropertyDef};
use super::pipelines::pipelines;
use crate::sim::gen::words;
use crate::sim::kind::ObjectType;

pub fn table() -> Vec<PropertyDef> {
    let info = "dealinformation";
    let pipeline_choices: Vec<(String, String)> = pipelines()
        .iter()
        .map(|pipeline| (pipeline.label.to_string(), pipeline.id.to_string()))
        .collect();
    let stage_choices: Vec<(String, String)> = pipelines()
        .iter()
        .flat_map(|pipeline| pipeline.stages.iter())
        .map(|stage| (stage.label.to_string(), stage.id.to_string()))
        .collect();
    let mut table = vec![
        prop("dealname", "Deal Name", info),
        prop("amount", "Amount", info).number(500, 250_000).pct(90),
        prop("closedate", "Close Date", info).datetime(),
        prop("pipeline", "Pipeline", info).choices(&as_refs(&pipeline_choices)),
        prop("dealstage", "Deal Stage", info).choices(&as_refs(&stage_choices)),
        prop("dealtype", "Deal Type", info)
            .choices(&[
                ("New Business", "newbusiness"),
                ("Existing Business", "existingbusiness"),
            ])
            .pct(80),
        prop("hubspot_owner_id", "Deal owner", info),
        prop("description", "Deal Description", info)
            .words(words::SENTENCES)
            .textarea()
            .pct(40),
        prop("hs_priority", "Priority", info)
            .choices(&[("Low", "low"), ("Medium", "medium"), ("High", "high")])
            .pct(50),
        prop("deal_currency_code", "Currency", info).choices(&[
            ("US Dollar", "USD"),
            ("Euro", "EUR"),
            ("British Pound", "GBP"),
        ]),
        prop("hs_next_step", "Next step", info)
            .words(words::SENTENCES)
            .pct(40),
        prop("hs_forecast_probability", "Forecast probability", info)
            .number(0, 100)
            .pct(30),
        prop("closed_lost_reason", "Closed Lost Reason", info)
            .words(&["Price", "Timing", "Competitor"])
            .pct(10),
        prop("closed_won_reason", "Closed Won Reason", info)
            .words(&["Product fit", "Relationship"])
            .pct(10),
        prop(
            "hs_analytics_source",
            "Original Source Type",
            "analyticsinformation",
        )
        .values(&[
            "ORGANIC_SEARCH",
            "PAID_SEARCH",
            "EMAIL_MARKETING",
            "REFERRALS",
            "OFFLINE",
        ])
        .read_only()
        .pct(70),
        prop("hs_is_closed", "Is Deal Closed?", info)
            .boolean()
            .calc(),
        prop("hs_is_closed_won", "Is Closed Won", info)
            .boolean()
            .calc(),
        prop("hs_deal_stage_probability", "Deal Stage Probability", info)
            .number(0, 0)
            .calc(),
        prop(
            "amount_in_home_currency",
            "Amount in company currency",
            info,
        )
        .number(0, 0)
        .calc()
        .pct(90),
        prop("days_to_close", "Days to close", info)
            .number(0, 0)
            .calc(),
        prop("num_associated_contacts", "Number of Contacts", info)
            .number(0, 0)
            .calc(),
        last_activity().pct(50),
        merged_ids("Merged Deal IDs", info),
    ];
    table.extend(system(ObjectType::Deals, info));
    table
}

fn as_refs(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(label, value)| (label.as_str(), value.as_str()))
        .collect()
}
