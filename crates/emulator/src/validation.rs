//! Address validation and country rules, as pure tables so tests can provoke every answer
//! deterministically (docs/emulator.md lists the rules). Partner Center checks states against a
//! list only for US, CA, CN and MX; the emulator does the same, and adds a small US ZIP-prefix
//! table so a ZIP that belongs to another state is refused with 60071 (ZipCityInvalid).

use serde_json::{Value, json};

/// An address as `POST /v1/validations/address` takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostalAddress {
    pub address_line1: String,
    pub address_line2: Option<String>,
    pub city: String,
    pub state: Option<String>,
    pub postal_code: String,
    pub country: String,
}

/// Why an address is invalid: the validation code and reason Partner Center puts in the 2007
/// description, and the address it suggests instead (when it can).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressProblem {
    pub code: u32,
    pub reason: &'static str,
    pub corrected: Option<Box<PostalAddress>>,
}

/// The documented code: the postal code does not belong to the city/state.
pub const ZIP_CITY_INVALID: u32 = 60071;
/// Emulator codes (Partner Center's own numbers for these are not documented).
pub const STATE_INVALID: u32 = 60072;
pub const POSTAL_CODE_FORMAT_INVALID: u32 = 60073;

/// Postal codes refused in every country (no corrected address offered): the fixture list tests use
/// to get an invalid address without a suggestion.
pub const INVALID_POSTAL_CODES: &[&str] = &["00000", "99999"];

const US_STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA",
    "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR",
    "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
];
const CA_PROVINCES: &[&str] = &[
    "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT",
];
const CN_PROVINCES: &[&str] = &[
    "Beijing",
    "Shanghai",
    "Tianjin",
    "Chongqing",
    "Guangdong",
    "Jiangsu",
    "Zhejiang",
    "Shandong",
    "Sichuan",
    "Hubei",
    "Henan",
    "Fujian",
    "Hunan",
    "Anhui",
    "Hebei",
    "Liaoning",
    "Shaanxi",
    "Yunnan",
    "Guangxi",
    "Jiangxi",
];
const MX_STATES: &[&str] = &[
    "AGU", "BCN", "BCS", "CAM", "CHH", "CHP", "CMX", "COA", "COL", "DUR", "GRO", "GUA", "HID", "JAL", "MEX", "MIC",
    "MOR", "NAY", "NLE", "OAX", "PUE", "QUE", "ROO", "SIN", "SLP", "SON", "TAB", "TAM", "TLA", "VER", "YUC", "ZAC",
];

/// US ZIP prefixes (first three digits, inclusive ranges) of a few states. A ZIP in one of these
/// ranges given with another state is 60071; ZIPs outside every range are only format-checked.
const US_ZIP_PREFIXES: &[(&str, u16, u16)] = &[
    ("MA", 10, 27),
    ("NY", 100, 149),
    ("DC", 200, 205),
    ("FL", 320, 349),
    ("IL", 600, 629),
    ("TX", 750, 799),
    ("CA", 900, 961),
    ("OR", 970, 979),
    ("WA", 980, 994),
];

/// Postal code shapes: `9` a digit, `A` a letter, anything else literal; a country may have several.
struct Country {
    iso2: &'static str,
    iso3: &'static str,
    default_culture: &'static str,
    cultures: &'static [&'static str],
    languages: &'static [&'static str],
    states: &'static [&'static str],
    postal_shapes: &'static [&'static str],
    postal_code_regex: &'static str,
    phone_number_regex: &'static str,
    calling_code: &'static str,
    tax_id_format: &'static str,
}

const COUNTRIES: &[Country] = &[
    Country {
        iso2: "US",
        iso3: "USA",
        default_culture: "en-US",
        cultures: &["en-US", "es-US"],
        languages: &["en", "es"],
        states: US_STATES,
        postal_shapes: &["99999", "99999-9999"],
        postal_code_regex: r"^\d{5}(-\d{4})?$",
        phone_number_regex: r"^\d{10}$",
        calling_code: "1",
        tax_id_format: "",
    },
    Country {
        iso2: "CA",
        iso3: "CAN",
        default_culture: "en-CA",
        cultures: &["en-CA", "fr-CA"],
        languages: &["en", "fr"],
        states: CA_PROVINCES,
        postal_shapes: &["A9A 9A9", "A9A9A9"],
        postal_code_regex: r"^[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d$",
        phone_number_regex: r"^\d{10}$",
        calling_code: "1",
        tax_id_format: "",
    },
    Country {
        iso2: "CN",
        iso3: "CHN",
        default_culture: "zh-CN",
        cultures: &["zh-CN"],
        languages: &["zh-hans"],
        states: CN_PROVINCES,
        postal_shapes: &["999999"],
        postal_code_regex: r"^\d{6}$",
        phone_number_regex: r"^\d{11}$",
        calling_code: "86",
        tax_id_format: "",
    },
    Country {
        iso2: "MX",
        iso3: "MEX",
        default_culture: "es-MX",
        cultures: &["es-MX"],
        languages: &["es"],
        states: MX_STATES,
        postal_shapes: &["99999"],
        postal_code_regex: r"^\d{5}$",
        phone_number_regex: r"^\d{10}$",
        calling_code: "52",
        tax_id_format: "RFC",
    },
    Country {
        iso2: "DE",
        iso3: "DEU",
        default_culture: "de-DE",
        cultures: &["de-DE"],
        languages: &["de"],
        states: &[],
        postal_shapes: &["99999"],
        postal_code_regex: r"^\d{5}$",
        phone_number_regex: "",
        calling_code: "49",
        tax_id_format: "DE999999999",
    },
    Country {
        iso2: "FR",
        iso3: "FRA",
        default_culture: "fr-FR",
        cultures: &["fr-FR"],
        languages: &["fr"],
        states: &[],
        postal_shapes: &["99999"],
        postal_code_regex: r"^\d{5}$",
        phone_number_regex: "",
        calling_code: "33",
        tax_id_format: "FR99999999999",
    },
    Country {
        iso2: "GB",
        iso3: "GBR",
        default_culture: "en-GB",
        cultures: &["en-GB"],
        languages: &["en"],
        states: &[],
        postal_shapes: &[],
        postal_code_regex: r"^[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}$",
        phone_number_regex: "",
        calling_code: "44",
        tax_id_format: "GB999999999",
    },
    Country {
        iso2: "NL",
        iso3: "NLD",
        default_culture: "nl-NL",
        cultures: &["nl-NL"],
        languages: &["nl"],
        states: &[],
        postal_shapes: &["9999 AA", "9999AA"],
        postal_code_regex: r"^\d{4} ?[A-Za-z]{2}$",
        phone_number_regex: "",
        calling_code: "31",
        tax_id_format: "NL999999999B99",
    },
    Country {
        iso2: "NO",
        iso3: "NOR",
        default_culture: "nb-NO",
        cultures: &["nb-NO"],
        languages: &["nb"],
        states: &[],
        postal_shapes: &["9999"],
        postal_code_regex: r"^\d{4}$",
        phone_number_regex: "",
        calling_code: "47",
        tax_id_format: "",
    },
    Country {
        iso2: "NZ",
        iso3: "NZL",
        default_culture: "en-NZ",
        cultures: &["en-NZ"],
        languages: &["en"],
        states: &[],
        postal_shapes: &["9999"],
        postal_code_regex: r"^\d{4}$",
        phone_number_regex: "",
        calling_code: "64",
        tax_id_format: "",
    },
    Country {
        iso2: "AU",
        iso3: "AUS",
        default_culture: "en-AU",
        cultures: &["en-AU"],
        languages: &["en"],
        states: &[],
        postal_shapes: &["9999"],
        postal_code_regex: r"^\d{4}$",
        phone_number_regex: "",
        calling_code: "61",
        tax_id_format: "99999999999",
    },
    Country {
        iso2: "IN",
        iso3: "IND",
        default_culture: "en-IN",
        cultures: &["en-IN", "hi-IN"],
        languages: &["en", "hi"],
        states: &[],
        postal_shapes: &["999999"],
        postal_code_regex: r"^\d{6}$",
        phone_number_regex: r"^\d{10}$",
        calling_code: "91",
        tax_id_format: "99AAAAA9999A9A9",
    },
    Country {
        iso2: "HU",
        iso3: "HUN",
        default_culture: "hu-HU",
        cultures: &["hu-HU"],
        languages: &["hu"],
        states: &[],
        postal_shapes: &["9999"],
        postal_code_regex: r"^\d{4}$",
        phone_number_regex: r"^\d{8,9}$",
        calling_code: "36",
        tax_id_format: "99999999-9-99",
    },
    Country {
        iso2: "RU",
        iso3: "RUS",
        default_culture: "ru-RU",
        cultures: &["ru-RU"],
        languages: &["ru"],
        states: &[],
        postal_shapes: &["999999"],
        postal_code_regex: r"^\d{6}$",
        phone_number_regex: r"^\d{10}$",
        calling_code: "7",
        tax_id_format: "9999999999",
    },
    Country {
        iso2: "UA",
        iso3: "UKR",
        default_culture: "uk-UA",
        cultures: &["uk-UA"],
        languages: &["uk"],
        states: &[],
        postal_shapes: &["99999"],
        postal_code_regex: r"^\d{5}$",
        phone_number_regex: r"^\d{9}$",
        calling_code: "380",
        tax_id_format: "99999999",
    },
];

fn country(iso2: &str) -> Option<&'static Country> {
    COUNTRIES.iter().find(|c| c.iso2.eq_ignore_ascii_case(iso2))
}

fn shape_matches(shape: &str, value: &str) -> bool {
    shape.chars().count() == value.chars().count()
        && shape.chars().zip(value.chars()).all(|(s, v)| match s {
            '9' => v.is_ascii_digit(),
            'A' => v.is_ascii_alphabetic(),
            other => other == v,
        })
}

/// `GET /v1/countryvalidationrules/{iso2}` body, or None for a country the emulator has no rules for.
pub fn country_rules(iso2: &str) -> Option<Value> {
    let c = country(iso2)?;
    Some(json!({
        "iso2Code": c.iso2,
        "iso3Code": c.iso3,
        "defaultCulture": c.default_culture,
        "isStateRequired": !c.states.is_empty(),
        "supportedStatesList": c.states,
        "supportedLanguagesList": c.languages,
        "supportedCulturesList": c.cultures,
        "isPostalCodeRequired": true,
        "postalCodeRegex": c.postal_code_regex,
        "isCityRequired": true,
        "isVatIdSupported": !c.tax_id_format.is_empty(),
        "taxIdFormat": c.tax_id_format,
        "taxIdSample": c.tax_id_format,
        "isTaxIdSupported": !c.tax_id_format.is_empty(),
        "isTaxIdOptional": true,
        "phoneNumberRegex": c.phone_number_regex,
        "countryCallingCodesList": [c.calling_code],
        "attributes": {"objectType": "CountryValidationRules"},
    }))
}

/// The state a US ZIP belongs to, from the prefix table.
fn us_zip_state(zip: &str) -> Option<&'static str> {
    let prefix: u16 = zip.get(..3)?.parse().ok()?;
    US_ZIP_PREFIXES
        .iter()
        .find(|(_, lo, hi)| (*lo..=*hi).contains(&prefix))
        .map(|(s, _, _)| *s)
}

/// Validates an address as the emulator's Partner Center does: the fixture list of invalid postal
/// codes, the postal code's shape (countries with rules), the state against the list (US, CA, CN,
/// MX only) and a US ZIP against its state (the prefix table).
pub fn validate_address(a: &PostalAddress) -> Result<(), AddressProblem> {
    let postal = a.postal_code.trim();
    if INVALID_POSTAL_CODES.contains(&postal) {
        return Err(AddressProblem {
            code: ZIP_CITY_INVALID,
            reason: "ZipCityInvalid",
            corrected: None,
        });
    }
    let Some(c) = country(&a.country) else {
        return Ok(());
    };
    if !c.postal_shapes.is_empty() && !c.postal_shapes.iter().any(|s| shape_matches(s, postal)) {
        return Err(AddressProblem {
            code: POSTAL_CODE_FORMAT_INVALID,
            reason: "PostalCodeInvalid",
            corrected: None,
        });
    }
    if !c.states.is_empty() {
        let state = a.state.as_deref().unwrap_or("").trim();
        if !c.states.iter().any(|s| s.eq_ignore_ascii_case(state)) {
            return Err(AddressProblem {
                code: STATE_INVALID,
                reason: "StateInvalid",
                corrected: None,
            });
        }
        if c.iso2 == "US"
            && let Some(zip_state) = us_zip_state(postal)
            && !zip_state.eq_ignore_ascii_case(state)
        {
            return Err(AddressProblem {
                code: ZIP_CITY_INVALID,
                reason: "ZipCityInvalid",
                corrected: Some(Box::new(PostalAddress {
                    state: Some(zip_state.to_string()),
                    ..a.clone()
                })),
            });
        }
    }
    Ok(())
}

/// The `description` of the 400/2007 answer: itself a JSON string.
pub fn problem_description(p: &AddressProblem) -> String {
    let mut v = json!({"code": p.code, "reason": p.reason});
    if let Some(c) = &p.corrected {
        v["corrected_address"] = json!({
            "address_line1": c.address_line1,
            "address_line2": c.address_line2,
            "city": c.city,
            "state": c.state,
            "postal_code": c.postal_code,
            "country": c.country,
        });
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(state: &str, zip: &str) -> PostalAddress {
        PostalAddress {
            address_line1: "1 Microsoft Way".into(),
            address_line2: None,
            city: "Redmond".into(),
            state: Some(state.into()),
            postal_code: zip.into(),
            country: "US".into(),
        }
    }

    #[test]
    fn address_table() {
        // (address, the validation code and the corrected state when refused)
        type Want<'a> = Option<(u32, Option<&'a str>)>;
        let cases: Vec<(PostalAddress, Want)> = vec![
            (us("WA", "98052"), None),
            (us("wa", "98052-6399"), None),
            (us("NY", "98052"), Some((60071, Some("WA")))),
            (us("WA", "10001"), Some((60071, Some("NY")))),
            (us("KS", "66044"), None),
            (us("XX", "98052"), Some((60072, None))),
            (us("WA", "9805"), Some((60073, None))),
            (us("WA", "00000"), Some((60071, None))),
            (
                PostalAddress {
                    state: Some("Anything".into()),
                    postal_code: "10115".into(),
                    country: "DE".into(),
                    ..us("", "")
                },
                None,
            ),
            (
                PostalAddress {
                    state: None,
                    postal_code: "M5V 2T6".into(),
                    country: "CA".into(),
                    ..us("", "")
                },
                Some((60072, None)),
            ),
            (
                PostalAddress {
                    state: Some("ON".into()),
                    postal_code: "M5V 2T6".into(),
                    country: "CA".into(),
                    ..us("", "")
                },
                None,
            ),
            (
                PostalAddress {
                    state: None,
                    postal_code: "anything".into(),
                    country: "ZZ".into(),
                    ..us("", "")
                },
                None,
            ),
        ];
        for (a, want) in cases {
            let got = validate_address(&a)
                .err()
                .map(|p| (p.code, p.corrected.and_then(|c| c.state)));
            let want = want.map(|(c, s)| (c, s.map(str::to_string)));
            assert_eq!(got, want, "{a:?}");
        }
    }

    #[test]
    fn description_is_json_with_the_corrected_address() {
        let p = validate_address(&us("NY", "98052")).unwrap_err();
        let v: Value = serde_json::from_str(&problem_description(&p)).unwrap();
        assert_eq!(v["code"], 60071);
        assert_eq!(v["reason"], "ZipCityInvalid");
        assert_eq!(v["corrected_address"]["state"], "WA");
        assert_eq!(v["corrected_address"]["postal_code"], "98052");
    }

    #[test]
    fn rules_for_known_countries_only() {
        assert_eq!(country_rules("us").unwrap()["isStateRequired"], true);
        assert_eq!(country_rules("DE").unwrap()["isStateRequired"], false);
        assert_eq!(country_rules("DE").unwrap()["defaultCulture"], "de-DE");
        assert!(country_rules("ZZ").is_none());
    }
}
