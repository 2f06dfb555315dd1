//! Contact property definitions.

use super::builder::{
    address, last_activity, lead_status, lifecycle_stage, merged_ids, prop, system, PropertyDef,
};
use crate::sim::gen::words;
use crate::sim::kind::ObjectType;

pub fn table() -> Vec<PropertyDef> {
    let info = "contactinformation";
    let analytics = "analyticsinformation";
    let mut table = vec![
        prop("firstname", "First Name", info),
        prop("lastname", "Last Name", info),
        prop("email", "Email", info).unique(),
        prop("company", "Company Name", info),
        prop("jobtitle", "Job Title", info)
            .words(words::JOB_TITLES)
            .pct(85),
        prop("phone", "Phone Number", info).phone().pct(70),
        prop("mobilephone", "Mobile Phone Number", info)
            .phone()
            .pct(40),
        prop("fax", "Fax Number", info).phone().pct(3),
        prop("website", "Website URL", info),
        prop("salutation", "Salutation", info)
            .words(&["Mr.", "Ms.", "Dr.", "Mx."])
            .pct(20),
        prop("date_of_birth", "Date of birth", info).date().pct(5),
        prop("hubspot_owner_id", "Contact owner", "sales_properties"),
        prop(
            "hs_email_optout",
            "Unsubscribed from all email",
            "emailinformation",
        )
        .boolean(),
        lifecycle_stage(info),
        lead_status("sales_properties").pct(60),
        prop("hs_language", "Preferred language", info)
            .choices(&[
                ("English", "en"),
                ("German", "de"),
                ("French", "fr"),
                ("Spanish", "es"),
                ("Japanese", "ja"),
            ])
            .pct(30),
        prop("industry", "Industry", info)
            .words(&["Software", "Retail", "Finance"])
            .pct(20),
        prop("annualrevenue", "Annual Revenue", info)
            .number(10_000, 50_000_000)
            .pct(10),
        prop("hs_analytics_source", "Original Source", analytics)
            .values(&[
                "ORGANIC_SEARCH",
                "PAID_SEARCH",
                "EMAIL_MARKETING",
                "SOCIAL_MEDIA",
                "REFERRALS",
                "OTHER_CAMPAIGNS",
                "DIRECT_TRAFFIC",
                "OFFLINE",
                "PAID_SOCIAL",
            ])
            .read_only(),
        prop(
            "hs_analytics_num_page_views",
            "Number of Pageviews",
            analytics,
        )
        .number(0, 400)
        .calc(),
        prop("hs_analytics_num_visits", "Number of Sessions", analytics)
            .number(0, 90)
            .calc(),
        prop(
            "num_associated_deals",
            "Number of Associated Deals",
            "deal_information",
        )
        .calc(),
        prop("associatedcompanyid", "Primary Associated Company ID", info).read_only(),
        last_activity().pct(60),
        prop(
            "hs_sales_email_last_replied",
            "Recent Sales Email Replied Date",
            "sales_properties",
        )
        .datetime()
        .read_only()
        .pct(25),
        prop(
            "twitterhandle",
            "Twitter Username",
            "socialmediainformation",
        )
        .pct(10),
        prop("hs_linkedin_url", "LinkedIn URL", "socialmediainformation").pct(30),
        prop("message", "Message", info)
            .words(words::SENTENCES)
            .textarea()
            .pct(10),
        prop("hs_persona", "Persona", "sales_properties")
            .choices(&[
                ("Decision Maker", "persona_1"),
                ("Champion", "persona_2"),
                ("End User", "persona_3"),
                ("Legacy", "persona_legacy"),
            ])
            .hide_option("persona_legacy")
            .pct(35),
        prop("hs_buying_role", "Buying Role", "sales_properties")
            .values(&[
                "BUDGET_HOLDER",
                "CHAMPION",
                "DECISION_MAKER",
                "END_USER",
                "INFLUENCER",
            ])
            .multi()
            .pct(20),
        merged_ids("Merged Contact IDs", info),
    ];
    table.extend(address(info, 50, 50));
    table.extend(system(ObjectType::Contacts, info));
    table
}
