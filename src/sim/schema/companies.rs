//! Company property definitions.

use super::builder::{
    address, last_activity, lead_status, lifecycle_stage, merged_ids, prop, system, PropertyDef,
};
use crate::sim::gen::words;
use crate::sim::kind::ObjectType;

/// Industry internal values (a subset of HubSpot's 150): labels differ from values, so a
/// client that validates against labels fails just like against HubSpot.
pub const INDUSTRIES: &[&str] = &[
    "COMPUTER_SOFTWARE",
    "INFORMATION_TECHNOLOGY_AND_SERVICES",
    "INTERNET",
    "RETAIL",
    "FINANCIAL_SERVICES",
    "BANKING",
    "HOSPITAL_HEALTH_CARE",
    "PHARMACEUTICALS",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "AUTOMOTIVE",
    "CONSTRUCTION",
    "FOOD_BEVERAGES",
    "MARKETING_AND_ADVERTISING",
    "MANAGEMENT_CONSULTING",
    "TELECOMMUNICATIONS",
    "RENEWABLES_ENVIRONMENT",
    "MACHINERY",
    "EDUCATION_MANAGEMENT",
    "APPAREL_FASHION",
    "REAL_ESTATE",
];

pub fn table() -> Vec<PropertyDef> {
    let info = "companyinformation";
    let mut table = vec![
        prop("name", "Company name", info),
        prop("domain", "Company Domain Name", info),
        prop("website", "Website URL", info),
        prop("phone", "Phone Number", info).phone().pct(80),
        prop("industry", "Industry", info)
            .values(INDUSTRIES)
            .pct(85),
        prop("type", "Type", info)
            .choices(&[
                ("Prospect", "PROSPECT"),
                ("Partner", "PARTNER"),
                ("Reseller", "RESELLER"),
                ("Vendor", "VENDOR"),
                ("Customer", "CUSTOMER"),
                ("Other", "OTHER"),
            ])
            .pct(90),
        prop("hubspot_owner_id", "Company owner", info),
        lifecycle_stage(info),
        lead_status("sales_properties").pct(50),
        prop("numberofemployees", "Number of Employees", info)
            .number(1, 20_000)
            .pct(75),
        prop("annualrevenue", "Annual Revenue", info)
            .number(50_000, 900_000_000)
            .pct(60),
        prop("founded_year", "Year Founded", info)
            .number(1890, 2024)
            .pct(50),
        prop("description", "Description", info)
            .words(words::SENTENCES)
            .textarea()
            .pct(40),
        prop("timezone", "Time Zone", info)
            .words(&[
                "Europe/Berlin",
                "America/New_York",
                "Europe/London",
                "Asia/Tokyo",
            ])
            .pct(50),
        prop("is_public", "Is Public", info).boolean().pct(60),
        prop(
            "linkedin_company_page",
            "LinkedIn Company Page",
            "socialmediainformation",
        )
        .pct(55),
        prop("twitterhandle", "Twitter Handle", "socialmediainformation").pct(25),
        prop(
            "facebook_company_page",
            "Facebook Company Page",
            "socialmediainformation",
        )
        .pct(15),
        prop("web_technologies", "Web Technologies", info)
            .values(&[
                "GOOGLE_ANALYTICS",
                "HUBSPOT",
                "SALESFORCE",
                "SHOPIFY",
                "WORDPRESS",
                "ZENDESK",
            ])
            .multi()
            .pct(40),
        prop(
            "num_associated_contacts",
            "Number of Associated Contacts",
            info,
        )
        .number(0, 0)
        .calc(),
        prop(
            "num_associated_deals",
            "Number of Associated Deals",
            "deal_information",
        )
        .number(0, 0)
        .calc(),
        prop("hs_num_child_companies", "Number of child companies", info)
            .number(0, 0)
            .calc(),
        prop("total_revenue", "Total Revenue", "deal_information")
            .number(0, 0)
            .calc()
            .pct(0),
        last_activity().pct(70),
        merged_ids("Merged Company IDs", info),
    ];
    table.extend(address(info, 70, 60));
    table.extend(system(ObjectType::Companies, info));
    table
}
