//! Rule 1: a plan's display name is `[<ShortName> ]<Region> <Direct|Indirect> <Production|Sandbox>`
//! and its words agree with `spec.region`, `spec.cspType` and `spec.environment`.

use crate::api::{CspType, Environment};
use std::fmt;

/// A display name that follows the convention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanName {
    /// The reseller short name the plan is named for, if any.
    pub short_name: Option<String>,
    pub region: String,
    pub csp_type: CspType,
    pub environment: Environment,
}

/// Why a display name does not follow the convention. All map to reason `InvalidPlanName`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamingError {
    Empty,
    Spacing,
    WordCount(usize),
    ShortName(String),
    Region(String),
    CspType(String),
    Environment(String),
}

impl fmt::Display for NamingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const FORM: &str = "'[<ShortName> ]<Region> <Direct|Indirect> <Production|Sandbox>', e.g. \
                            'EUR Direct Sandbox' or 'CNZ NZ Indirect Production'";
        match self {
            NamingError::Empty => write!(f, "the name is empty; write it as {FORM}"),
            NamingError::Spacing => write!(
                f,
                "words must be separated by single spaces with none leading or trailing; write it as {FORM}"
            ),
            NamingError::WordCount(n) => write!(
                f,
                "it has {n} words but must have 3 (region, type, environment) or 4 (a short name first); write it as {FORM}"
            ),
            NamingError::ShortName(w) => write!(
                f,
                "the first word '{w}' is not a reseller short name (2 to 16 upper-case letters or digits)"
            ),
            NamingError::Region(w) => write!(
                f,
                "'{w}' is not a region code (2 to 5 upper-case letters, e.g. NZ or EUR)"
            ),
            NamingError::CspType(w) => {
                let hint = if w.eq_ignore_ascii_case("IndirectProvider") {
                    " (IndirectProvider is written 'Indirect' in plan names)"
                } else {
                    ""
                };
                write!(f, "'{w}' must be 'Direct' or 'Indirect'{hint}")
            }
            NamingError::Environment(w) => {
                write!(f, "'{w}' must be 'Production' or 'Sandbox'")
            }
        }
    }
}

fn is_short_name(w: &str) -> bool {
    (2..=16).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn is_region_word(w: &str) -> bool {
    (2..=5).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_uppercase())
}

/// Parse a plan display name.
pub fn parse_plan_name(display_name: &str) -> Result<PlanName, NamingError> {
    if display_name.is_empty() {
        return Err(NamingError::Empty);
    }
    let words: Vec<&str> = display_name.split(' ').collect();
    if words.iter().any(|w| w.is_empty() || w.chars().any(char::is_whitespace)) {
        return Err(NamingError::Spacing);
    }
    let (short, rest) = match words.len() {
        3 => (None, &words[..]),
        4 => (Some(words[0]), &words[1..]),
        n => return Err(NamingError::WordCount(n)),
    };
    if let Some(s) = short
        && !is_short_name(s)
    {
        return Err(NamingError::ShortName(s.to_string()));
    }
    let region = rest[0];
    if !is_region_word(region) {
        return Err(NamingError::Region(region.to_string()));
    }
    let csp_type = match rest[1] {
        "Direct" => CspType::Direct,
        "Indirect" => CspType::IndirectProvider,
        other => return Err(NamingError::CspType(other.to_string())),
    };
    let environment = match rest[2] {
        "Production" => Environment::Production,
        "Sandbox" => Environment::Sandbox,
        other => return Err(NamingError::Environment(other.to_string())),
    };
    Ok(PlanName {
        short_name: short.map(str::to_string),
        region: region.to_string(),
        csp_type,
        environment,
    })
}

/// Which spec fields disagree with the name's words; each entry says how to fix it.
pub fn name_disagreements(name: &PlanName, region: &str, csp_type: CspType, environment: Environment) -> Vec<String> {
    let mut out = Vec::new();
    if name.region != region {
        out.push(format!(
            "the name says region '{}' but spec.region is '{region}'",
            name.region
        ));
    }
    if name.csp_type != csp_type {
        out.push(format!(
            "the name says '{}' but spec.cspType is {csp_type:?} (written '{}')",
            name.csp_type.name_word(),
            csp_type.name_word()
        ));
    }
    if name.environment != environment {
        out.push(format!(
            "the name says '{}' but spec.environment is {}",
            name.environment.name_word(),
            environment.name_word()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        let cases: &[(&str, Option<&str>, &str, CspType, Environment)] = &[
            ("EUR Direct Sandbox", None, "EUR", CspType::Direct, Environment::Sandbox),
            (
                "NZ Indirect Production",
                None,
                "NZ",
                CspType::IndirectProvider,
                Environment::Production,
            ),
            (
                "CNZ NZ Indirect Production",
                Some("CNZ"),
                "NZ",
                CspType::IndirectProvider,
                Environment::Production,
            ),
            (
                "LATAM Direct Production",
                None,
                "LATAM",
                CspType::Direct,
                Environment::Production,
            ),
            (
                "R2D2 US Direct Sandbox",
                Some("R2D2"),
                "US",
                CspType::Direct,
                Environment::Sandbox,
            ),
            (
                "AB APAC Indirect Sandbox",
                Some("AB"),
                "APAC",
                CspType::IndirectProvider,
                Environment::Sandbox,
            ),
            (
                "ABCDEFGHIJKLMNOP NZ Direct Sandbox",
                Some("ABCDEFGHIJKLMNOP"),
                "NZ",
                CspType::Direct,
                Environment::Sandbox,
            ),
        ];
        for (name, short, region, t, e) in cases {
            let p = parse_plan_name(name).unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(p.short_name.as_deref(), *short, "{name}");
            assert_eq!(p.region, *region, "{name}");
            assert_eq!(p.csp_type, *t, "{name}");
            assert_eq!(p.environment, *e, "{name}");
        }
    }

    #[test]
    fn invalid_names() {
        let cases: &[(&str, NamingError, &str)] = &[
            ("", NamingError::Empty, "empty"),
            ("EUR  Direct Sandbox", NamingError::Spacing, "single spaces"),
            (" EUR Direct Sandbox", NamingError::Spacing, "single spaces"),
            ("EUR Direct Sandbox ", NamingError::Spacing, "single spaces"),
            ("EUR\tDirect Sandbox", NamingError::Spacing, "single spaces"),
            ("EUR Direct", NamingError::WordCount(2), "has 2 words"),
            ("Sandbox", NamingError::WordCount(1), "has 1 words"),
            ("A B EUR Direct Sandbox", NamingError::WordCount(5), "has 5 words"),
            (
                "cnz NZ Direct Sandbox",
                NamingError::ShortName("cnz".into()),
                "not a reseller short name",
            ),
            ("C NZ Direct Sandbox", NamingError::ShortName("C".into()), "2 to 16"),
            (
                "ABCDEFGHIJKLMNOPQ NZ Direct Sandbox",
                NamingError::ShortName("ABCDEFGHIJKLMNOPQ".into()),
                "2 to 16",
            ),
            (
                "C-NZ NZ Direct Sandbox",
                NamingError::ShortName("C-NZ".into()),
                "short name",
            ),
            (
                "Eur Direct Sandbox",
                NamingError::Region("Eur".into()),
                "not a region code",
            ),
            ("E Direct Sandbox", NamingError::Region("E".into()), "not a region code"),
            (
                "EUROPE Direct Sandbox",
                NamingError::Region("EUROPE".into()),
                "not a region code",
            ),
            (
                "NZ1 Direct Sandbox",
                NamingError::Region("NZ1".into()),
                "not a region code",
            ),
            (
                "EUR direct Sandbox",
                NamingError::CspType("direct".into()),
                "'Direct' or 'Indirect'",
            ),
            (
                "EUR IndirectProvider Sandbox",
                NamingError::CspType("IndirectProvider".into()),
                "written 'Indirect'",
            ),
            (
                "EUR Reseller Sandbox",
                NamingError::CspType("Reseller".into()),
                "'Direct' or 'Indirect'",
            ),
            (
                "EUR Direct Test",
                NamingError::Environment("Test".into()),
                "'Production' or 'Sandbox'",
            ),
            (
                "EUR Direct sandbox",
                NamingError::Environment("sandbox".into()),
                "'Production' or 'Sandbox'",
            ),
            (
                "Direct EUR Sandbox",
                NamingError::Region("Direct".into()),
                "not a region code",
            ),
        ];
        for (name, expected, text) in cases {
            let err = parse_plan_name(name).expect_err(name);
            assert_eq!(&err, expected, "{name:?}");
            assert!(err.to_string().contains(text), "{name:?}: {err}");
        }
    }

    #[test]
    fn agreement_with_spec_fields() {
        let name = parse_plan_name("CNZ NZ Indirect Production").unwrap();
        let cases: &[(&str, CspType, Environment, &[&str])] = &[
            ("NZ", CspType::IndirectProvider, Environment::Production, &[]),
            (
                "AU",
                CspType::IndirectProvider,
                Environment::Production,
                &["spec.region is 'AU'"],
            ),
            (
                "NZ",
                CspType::Direct,
                Environment::Production,
                &["spec.cspType is Direct"],
            ),
            (
                "NZ",
                CspType::IndirectProvider,
                Environment::Sandbox,
                &["spec.environment is Sandbox"],
            ),
            (
                "EUR",
                CspType::Direct,
                Environment::Sandbox,
                &[
                    "spec.region is 'EUR'",
                    "spec.cspType is Direct",
                    "spec.environment is Sandbox",
                ],
            ),
        ];
        for (region, t, e, expected) in cases {
            let got = name_disagreements(&name, region, *t, *e);
            assert_eq!(got.len(), expected.len(), "{region} {t:?} {e:?}: {got:?}");
            for (g, x) in got.iter().zip(expected.iter()) {
                assert!(g.contains(x), "{g} should contain {x}");
            }
        }
    }
}
