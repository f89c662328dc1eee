//! Region table (docs/rules.md, rule 9): every two-letter code is an ISO-3166 country that maps to itself;
//! composite regions (3–5 letters, so they never collide with a country) map to the countries they
//! cover. The composites are overridable by the operator's configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// ISO 3166-1 alpha-2, officially assigned codes.
pub const ISO_COUNTRIES: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", "BA", "BB", "BD",
    "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA",
    "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE",
    "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA",
    "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK",
    "HM", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP",
    "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT",
    "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS",
    "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ",
    "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS",
    "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST",
    "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW",
    "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI", "VN", "VU", "WF", "WS", "YE", "YT", "ZA",
    "ZM", "ZW",
];

/// EU member states + EEA (IS, LI, NO) + Switzerland + United Kingdom.
const EUR: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT",
    "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO", "CH", "GB",
];
/// United States (with its territories) and Canada.
const NAM: &[&str] = &["US", "CA", "PR", "VI", "GU", "AS", "MP", "UM"];
/// Mexico, Central and South America, the Caribbean.
const LATAM: &[&str] = &[
    "MX", "GT", "BZ", "SV", "HN", "NI", "CR", "PA", "CU", "DO", "HT", "JM", "TT", "BB", "BS", "AG", "DM", "GD", "KN",
    "LC", "VC", "AR", "BO", "BR", "CL", "CO", "EC", "GY", "PE", "PY", "SR", "UY", "VE", "AW", "CW", "SX", "BQ", "KY",
    "TC", "VG", "AI", "MS", "GP", "MQ", "BL", "MF", "GF", "FK",
];
/// Asia and the Pacific.
const APAC: &[&str] = &[
    "AU", "NZ", "JP", "KR", "CN", "HK", "MO", "TW", "SG", "MY", "ID", "TH", "VN", "PH", "IN", "PK", "BD", "LK", "NP",
    "BT", "MV", "MM", "KH", "LA", "BN", "TL", "MN", "PG", "FJ", "SB", "VU", "NC", "PF", "WS", "TO", "KI", "TV", "NR",
    "FM", "MH", "PW", "CK", "NU", "TK", "WF", "NF", "CX", "CC",
];
/// Australia and New Zealand.
const ANZ: &[&str] = &["AU", "NZ"];
/// Middle East and Africa.
const MEA: &[&str] = &[
    "AE", "SA", "QA", "KW", "BH", "OM", "YE", "IQ", "IR", "JO", "LB", "SY", "IL", "PS", "TR", "AF", "DZ", "AO", "BJ",
    "BW", "BF", "BI", "CV", "CM", "CF", "TD", "KM", "CG", "CD", "CI", "DJ", "EG", "GQ", "ER", "SZ", "ET", "GA", "GM",
    "GH", "GN", "GW", "KE", "LS", "LR", "LY", "MG", "MW", "ML", "MR", "MU", "YT", "MA", "MZ", "NA", "NE", "NG", "RE",
    "RW", "SH", "ST", "SN", "SC", "SL", "SO", "ZA", "SS", "SD", "TZ", "TG", "TN", "UG", "EH", "ZM", "ZW",
];

/// Why a configured region override was refused; names the key and the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionTableError {
    pub region: String,
    pub message: String,
}

impl fmt::Display for RegionTableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "regions.{}: {}", self.region, self.message)
    }
}

impl std::error::Error for RegionTableError {}

/// Region code → the ISO countries it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionTable {
    regions: BTreeMap<String, BTreeSet<String>>,
}

impl Default for RegionTable {
    fn default() -> Self {
        let mut regions: BTreeMap<String, BTreeSet<String>> = ISO_COUNTRIES
            .iter()
            .map(|c| (c.to_string(), BTreeSet::from([c.to_string()])))
            .collect();
        for (code, countries) in [
            ("EUR", EUR),
            ("NAM", NAM),
            ("LATAM", LATAM),
            ("APAC", APAC),
            ("ANZ", ANZ),
            ("MEA", MEA),
        ] {
            regions.insert(code.to_string(), countries.iter().map(|c| c.to_string()).collect());
        }
        RegionTable { regions }
    }
}

fn is_region_code(code: &str) -> bool {
    (2..=5).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_uppercase())
}

pub fn is_iso_country(code: &str) -> bool {
    ISO_COUNTRIES.binary_search(&code).is_ok()
}

impl RegionTable {
    /// The default table with composite regions added, replaced or (with an empty list) removed
    /// by configuration. Two-letter codes are ISO countries and cannot be redefined.
    pub fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> Result<Self, RegionTableError> {
        let mut table = RegionTable::default();
        for (code, countries) in overrides {
            let err = |message: String| RegionTableError {
                region: code.clone(),
                message,
            };
            if !is_region_code(code) || code.len() == 2 {
                return Err(err(format!(
                    "'{code}' is not a composite region code: use 3 to 5 upper-case letters \
                     (two-letter codes are ISO-3166 countries and always map to themselves)"
                )));
            }
            if countries.is_empty() {
                table.regions.remove(code);
                continue;
            }
            let mut set = BTreeSet::new();
            for c in countries {
                if !is_iso_country(c) {
                    return Err(err(format!(
                        "'{c}' is not an ISO-3166 alpha-2 country code: list countries as \
                         upper-case two-letter codes such as DE or NZ"
                    )));
                }
                set.insert(c.clone());
            }
            table.regions.insert(code.clone(), set);
        }
        Ok(table)
    }

    pub fn is_known_region(&self, region: &str) -> bool {
        self.regions.contains_key(region)
    }

    /// Whether `country` (ISO alpha-2, any case) lies in `region`. False for unknown regions.
    pub fn country_in_region(&self, region: &str, country: &str) -> bool {
        let country = country.trim().to_ascii_uppercase();
        self.regions.get(region).is_some_and(|set| set.contains(&country))
    }

    pub fn countries(&self, region: &str) -> Option<&BTreeSet<String>> {
        self.regions.get(region)
    }

    /// Composite region codes (3–5 letters) currently defined.
    pub fn composite_regions(&self) -> impl Iterator<Item = &str> {
        self.regions.keys().filter(|k| k.len() > 2).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_list_is_sorted_unique_and_complete() {
        let mut sorted = ISO_COUNTRIES.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ISO_COUNTRIES, "binary_search needs a sorted list");
        assert_eq!(ISO_COUNTRIES.len(), 249);
    }

    #[test]
    fn composites_only_name_iso_countries() {
        let t = RegionTable::default();
        for code in t.composite_regions() {
            assert!((3..=5).contains(&code.len()), "{code}");
            for c in t.countries(code).unwrap() {
                assert!(is_iso_country(c), "{code} lists {c}");
            }
        }
    }

    #[test]
    fn default_table_lookups() {
        let t = RegionTable::default();
        let cases: &[(&str, &str, bool)] = &[
            ("NZ", "NZ", true),
            ("NZ", "nz", true),
            ("NZ", "AU", false),
            ("EUR", "DE", true),
            ("EUR", "CH", true),
            ("EUR", "GB", true),
            ("EUR", "NO", true),
            ("EUR", "IS", true),
            ("EUR", "US", false),
            ("EUR", "TR", false),
            ("NAM", "US", true),
            ("NAM", "CA", true),
            ("NAM", "MX", false),
            ("LATAM", "MX", true),
            ("LATAM", "BR", true),
            ("APAC", "JP", true),
            ("APAC", "NZ", true),
            ("ANZ", "AU", true),
            ("ANZ", "JP", false),
            ("MEA", "ZA", true),
            ("MEA", "AE", true),
            ("MEA", "DE", false),
            ("XYZ", "DE", false),
            ("ZZ", "ZZ", false),
        ];
        for (region, country, expected) in cases {
            assert_eq!(t.country_in_region(region, country), *expected, "{country} in {region}");
        }
        for known in ["NZ", "US", "EUR", "NAM", "LATAM", "APAC", "MEA"] {
            assert!(t.is_known_region(known), "{known}");
        }
        for unknown in ["ZZ", "XX", "EU", "WORLD", "eur", ""] {
            assert!(!t.is_known_region(unknown), "{unknown}");
        }
    }

    #[test]
    fn overrides_add_replace_and_remove_composites() {
        let overrides = BTreeMap::from([
            ("DACH".to_string(), vec!["DE".into(), "AT".into(), "CH".into()]),
            ("NAM".to_string(), vec!["US".into()]),
            ("MEA".to_string(), vec![]),
        ]);
        let t = RegionTable::with_overrides(&overrides).unwrap();
        assert!(t.country_in_region("DACH", "AT"));
        assert!(!t.country_in_region("DACH", "FR"));
        assert!(t.country_in_region("NAM", "US"));
        assert!(!t.country_in_region("NAM", "CA"), "NAM replaced, not merged");
        assert!(!t.is_known_region("MEA"), "empty list removes the region");
        assert!(t.is_known_region("EUR"), "untouched defaults stay");
        assert!(
            t.is_known_region("ZA"),
            "countries stay even when a composite is removed"
        );
    }

    #[test]
    fn bad_overrides_are_refused_naming_the_key_and_fix() {
        let cases: &[(&str, &[&str], &str)] = &[
            ("NZ", &["AU"], "two-letter codes are ISO-3166 countries"),
            ("eur", &["DE"], "3 to 5 upper-case letters"),
            ("TOOLONG", &["DE"], "3 to 5 upper-case letters"),
            ("E1R", &["DE"], "3 to 5 upper-case letters"),
            ("DACH", &["de"], "'de' is not an ISO-3166 alpha-2 country code"),
            ("DACH", &["XX"], "'XX' is not an ISO-3166 alpha-2 country code"),
            ("DACH", &["DEU"], "'DEU' is not an ISO-3166 alpha-2 country code"),
        ];
        for (code, countries, expected) in cases {
            let overrides = BTreeMap::from([(code.to_string(), countries.iter().map(|c| c.to_string()).collect())]);
            let err = RegionTable::with_overrides(&overrides).unwrap_err();
            assert_eq!(&err.region, code);
            assert!(err.message.contains(expected), "{code}: {}", err.message);
            assert!(err.to_string().starts_with(&format!("regions.{code}: ")));
        }
    }
}
