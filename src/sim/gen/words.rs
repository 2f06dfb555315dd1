//! Word lists the generator draws names, places and texts from.

pub const FIRST_NAMES: &[&str] = &[
    "Ann", "Bo", "Carla", "Dev", "Elif", "Finn", "Greta", "Hiro", "Ines", "Jonas", "Kira", "Liam",
    "Maya", "Nils", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wei",
    "Xenia", "Yusuf", "Zoe", "Amir", "Bea", "Chen", "Dana", "Emil", "Fatima", "Gael", "Hanna",
    "Ivan", "Julia", "Kofi", "Lena", "Marco", "Nora", "Omar", "Priya", "Raj", "Sara", "Tom",
    "Uma", "Victor", "Wanda", "Yara", "Zeno", "José", "Zoë",
];

pub const LAST_NAMES: &[&str] = &[
    "Li", "Smith", "Müller", "Garcia", "Kowalski", "Nguyen", "Okafor", "Rossi", "Svensson",
    "Tanaka", "Dubois", "Ivanova", "Khan", "Larsen", "Moreau", "Novak", "OBrien", "Patel",
    "Quist", "Reyes", "Schmidt", "Takahashi", "Usman", "Varga", "Weber", "Xu", "Yilmaz",
    "Zimmermann", "Andersen", "Becker", "Costa", "Dahl", "Eriksen", "Fischer", "Gomez",
    "Hoffmann", "Jensen", "Kim", "Lopez", "Meyer",
];

pub const BRAND_HEADS: &[&str] = &[
    "Acme", "Blue", "Crest", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juniper",
    "Kestrel", "Lumen", "Maple", "Nimbus", "Orbit", "Pioneer", "Quartz", "Rapid", "Summit",
    "Tidal", "Umbra", "Vertex", "Willow", "Xylo", "Yonder", "Zenith", "Atlas", "Beacon",
    "Cobalt", "Drift", "Echo", "Falcon", "Globe", "Helix", "Indigo", "Jade", "Kinetic", "Lotus",
    "Meridian", "Nova", "Onyx", "Polar", "Quest", "Raven", "Solar", "Titan", "Unity", "Vivid",
    "Wave", "Zephyr", "Alpen", "Brück", "Côte", "Nord",
];

pub const BRAND_TAILS: &[&str] = &[
    "Robotics", "Logistics", "Labs", "Systems", "Foods", "Energy", "Health", "Analytics",
    "Capital", "Media", "Works", "Networks", "Motors", "Textiles", "Pharma", "Software",
    "Consulting", "Studios", "Bank", "Freight", "Dynamics", "Solutions", "Outdoor", "Security",
    "Cloud", "Bio", "Retail", "Partners", "Holdings", "Technik",
];

/// (city, state, country, tld) — a company's tld follows its country.
pub const PLACES: &[(&str, &str, &str, &str)] = &[
    ("Boston", "MA", "United States", "com"),
    ("Austin", "TX", "United States", "com"),
    ("Seattle", "WA", "United States", "io"),
    ("New York", "NY", "United States", "com"),
    ("Chicago", "IL", "United States", "net"),
    ("Toronto", "ON", "Canada", "ca"),
    ("London", "England", "United Kingdom", "co.uk"),
    ("Manchester", "England", "United Kingdom", "co.uk"),
    ("Berlin", "Berlin", "Germany", "de"),
    ("München", "Bayern", "Germany", "de"),
    ("Paris", "Île-de-France", "France", "fr"),
    ("Madrid", "Madrid", "Spain", "es"),
    ("Amsterdam", "Noord-Holland", "Netherlands", "nl"),
    ("Stockholm", "Stockholm", "Sweden", "se"),
    ("Tokyo", "Tokyo", "Japan", "co.jp"),
    ("Sydney", "NSW", "Australia", "com.au"),
    ("Dublin", "Leinster", "Ireland", "ie"),
    ("Zürich", "ZH", "Switzerland", "ch"),
];

pub const FREE_MAIL: &[&str] = &["gmail.com", "outlook.com", "yahoo.com", "gmx.de", "proton.me"];

pub const JOB_TITLES: &[&str] = &[
    "CEO", "CTO", "VP Sales", "Head of Marketing", "Account Executive", "Software Engineer",
    "Procurement Manager", "Office Manager", "Founder", "Operations Lead", "CFO",
    "Product Manager", "Data Analyst", "Buyer", "Sales Director",
];

pub const STREETS: &[&str] = &[
    "1 Main St", "25 Harbor Rd", "300 Market Street", "Hauptstraße 12", "10 Rue de Rivoli",
    "Calle Mayor 5", "77 King St W", "Kungsgatan 3", "2-1 Marunouchi", "9 George St",
];

pub const SENTENCES: &[&str] = &[
    "Follow up after the demo.",
    "Send the revised quote.",
    "Check budget for next quarter.",
    "Intro call went well; wants a trial.",
    "Renewal coming up, discuss volume discount.",
    "Asked for security documentation.",
    "Waiting on legal review.",
];

pub const TASK_SUBJECTS: &[&str] = &[
    "Call back", "Send proposal", "Book demo", "Follow up on quote", "Renewal check-in",
    "Collect feedback", "Share case study", "Confirm meeting",
];

pub const TEAMS: &[(&str, &str)] = &[
    ("Sales EMEA", "41001"),
    ("Sales Americas", "41002"),
    ("SDR", "41003"),
    ("Customer Success", "41004"),
];
