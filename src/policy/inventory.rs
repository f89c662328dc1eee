//! Audit (docs/customers.md, "Audit"): the account's customers as a connection sync listed them,
//! compared with the Customers pinned to that connection. Pure: the connection reconciler hands in
//! what the sync listed and the cached details, the Customer reconciler asks [`observe`] for its
//! own verdict; both see the same rules.

use super::hierarchy::Hierarchy;
use super::regions::RegionTable;
use super::snapshot::{ConnectionFacts, Settings, Snapshot};
use crate::api::conditions::ConditionStatus;
use crate::api::{CspType, Inventory};
use std::collections::BTreeSet;

/// What get-by-id told about one tenant (the list gives neither).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detail {
    /// ISO-2, upper-case, when Partner Center gives one.
    pub country: Option<String>,
    /// Lowercased indirect reseller tenant id.
    pub associated_partner_id: Option<String>,
}

/// The indirect association a Customer should have under its connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Association {
    /// Not an association the account can have (Direct connections, a reseller's own connection).
    NotChecked,
    /// The provider's own customer: no indirect reseller.
    Own,
    /// Associated with this indirect reseller (lowercased tenant id).
    Reseller(String),
}

/// A Customer pinned to the connection, as the comparison sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declared {
    /// `namespace/name`.
    pub key: String,
    /// status.tenantId, lowercased.
    pub tenant_id: Option<String>,
    /// Created or Adopted with a tenant id: the account must list it.
    pub provisioned: bool,
    /// status.provisioning.startedAt (seconds since the epoch): a listing older than this cannot
    /// show the tenant yet.
    pub started_at: Option<i64>,
    pub association: Association,
}

/// The verdict on one declared Customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// No sync has listed the account's customers yet.
    NotSynced,
    /// Not provisioned yet (no finding: it is not expected to be listed).
    NotProvisioned,
    /// Listed; its details are not fetched yet (the budget has not reached it).
    ListedDetailsPending,
    Listed,
    TenantGone,
    WrongReseller {
        expected: Option<String>,
        actual: Option<String>,
    },
    CountryOutsideRegion {
        country: String,
    },
}

impl Observation {
    /// The finding's name (bounded: the metric label and the condition reason).
    pub fn finding(&self) -> Option<&'static str> {
        match self {
            Observation::TenantGone => Some(reasons::TENANT_GONE),
            Observation::WrongReseller { .. } => Some(reasons::WRONG_RESELLER),
            Observation::CountryOutsideRegion { .. } => Some(reasons::COUNTRY_OUTSIDE_REGION),
            _ => None,
        }
    }
}

pub mod reasons {
    pub const LISTED: &str = "Listed";
    pub const NOT_SYNCED: &str = "NotSynced";
    pub const TENANT_GONE: &str = "TenantGone";
    pub const WRONG_RESELLER: &str = "WrongReseller";
    pub const COUNTRY_OUTSIDE_REGION: &str = "CountryOutsideRegion";
    /// The connection-level finding: listed customers no Customer declares.
    pub const UNDECLARED: &str = "Undeclared";
}

/// The verdict on `c`: `listed` whether the last sync listed its tenant, `detail` what get-by-id
/// said of it (None: not fetched yet), `region` the connection's region.
pub fn observe(
    c: &Declared,
    listed: Option<bool>,
    listed_at: i64,
    detail: Option<&Detail>,
    region: &str,
    regions: &RegionTable,
) -> Observation {
    let Some(listed) = listed else {
        return Observation::NotSynced;
    };
    if c.tenant_id.is_none() || (!c.provisioned && !listed) {
        return Observation::NotProvisioned;
    }
    if !listed {
        // Provisioned after the listing was made: the next sync will say.
        if c.started_at.is_some_and(|s| s >= listed_at) {
            return Observation::NotProvisioned;
        }
        return Observation::TenantGone;
    }
    let Some(detail) = detail else {
        return Observation::ListedDetailsPending;
    };
    if let Some(country) = &detail.country
        && regions.is_known_region(region)
        && !regions.country_in_region(region, country)
    {
        return Observation::CountryOutsideRegion {
            country: country.clone(),
        };
    }
    let expected = match &c.association {
        Association::NotChecked => return Observation::Listed,
        Association::Own => None,
        Association::Reseller(r) => Some(r.as_str()),
    };
    if detail.associated_partner_id.as_deref() != expected {
        return Observation::WrongReseller {
            expected: expected.map(str::to_string),
            actual: detail.associated_partner_id.clone(),
        };
    }
    Observation::Listed
}

/// The condition (status, reason, message) `Observed` shows for an observation: Unknown before a
/// sync, True when listed as declared, False with the finding.
pub fn condition(o: &Observation, who: &str, connection: &str) -> (ConditionStatus, &'static str, String) {
    match o {
        Observation::NotSynced => (
            ConditionStatus::Unknown,
            reasons::NOT_SYNCED,
            format!("no sync of connection {connection} has listed the account's customers yet"),
        ),
        Observation::NotProvisioned => (
            ConditionStatus::Unknown,
            "NotProvisioned",
            format!("{who} is not provisioned yet; the connection's customers are compared once it is"),
        ),
        Observation::ListedDetailsPending => (
            ConditionStatus::True,
            reasons::LISTED,
            format!(
                "connection {connection} lists the tenant; its country and indirect reseller are not fetched yet \
                 (within the operator's --inventory-detail-calls-per-hour)"
            ),
        ),
        Observation::Listed => (
            ConditionStatus::True,
            reasons::LISTED,
            format!("connection {connection} lists the tenant, associated as declared"),
        ),
        Observation::TenantGone => (
            ConditionStatus::False,
            reasons::TENANT_GONE,
            format!(
                "{who} is provisioned, but connection {connection} no longer lists its tenant: the customer \
                 relationship ended or the tenant moved to another partner; check Partner Center, then delete \
                 the Customer or adopt the tenant again"
            ),
        ),
        Observation::WrongReseller { expected, actual } => (
            ConditionStatus::False,
            reasons::WRONG_RESELLER,
            format!(
                "Partner Center associates the tenant with indirect reseller {} but {who} declares {}: \
                 correct the association in Partner Center or the Customer's spec.reseller",
                actual.as_deref().unwrap_or("none (the provider's own)"),
                expected.as_deref().unwrap_or("none (the provider's own)"),
            ),
        ),
        Observation::CountryOutsideRegion { country } => (
            ConditionStatus::False,
            reasons::COUNTRY_OUTSIDE_REGION,
            format!(
                "Partner Center reports the tenant's country {country}, outside the region of connection \
                 {connection}: the customer belongs under another region's connection"
            ),
        ),
    }
}

/// The connection's counts and each declared Customer's verdict.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    pub counts: Inventory,
    /// (`namespace/name`, verdict) per declared Customer, in the order given.
    pub verdicts: Vec<(String, Observation)>,
}

/// Compares the listed customers (`listed_count` of them, `lists` answering per tenant) with the
/// Customers pinned to the connection.
pub fn compare(
    listed_count: u64,
    listed_at: i64,
    lists: &dyn Fn(&str) -> bool,
    declared: &[Declared],
    details: &dyn Fn(&str) -> Option<Detail>,
    region: &str,
    regions: &RegionTable,
) -> Comparison {
    let mut counts = Inventory {
        customers: clamp(listed_count),
        ..Default::default()
    };
    let mut claimed: BTreeSet<&str> = BTreeSet::new();
    let mut verdicts = Vec::with_capacity(declared.len());
    for c in declared {
        let listed = c.tenant_id.as_deref().is_some_and(lists);
        if listed && let Some(t) = c.tenant_id.as_deref() {
            claimed.insert(t);
        }
        let detail = c.tenant_id.as_deref().and_then(details);
        let o = observe(c, Some(listed), listed_at, detail.as_ref(), region, regions);
        match &o {
            Observation::TenantGone => counts.missing += 1,
            Observation::WrongReseller { .. } => counts.wrong_reseller += 1,
            Observation::CountryOutsideRegion { .. } => counts.outside_region += 1,
            Observation::ListedDetailsPending => counts.details_pending += 1,
            _ => {}
        }
        verdicts.push((c.key.clone(), o));
    }
    counts.declared = clamp(claimed.len() as u64);
    counts.undeclared = counts.customers.saturating_sub(counts.declared).max(0);
    Comparison { counts, verdicts }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Rule 13 seen from the account: through the provider's IndirectProvider connection a non-root
/// reseller's customer is associated with the nearest reseller on its path to the root that has
/// spec.indirectReseller (the root's customers are the provider's own); through any other
/// connection there is no association to check.
pub fn expected_association(
    conn: &ConnectionFacts,
    reseller: Option<&str>,
    hierarchy: &Hierarchy,
    snapshot: &Snapshot,
    settings: &Settings,
) -> Association {
    if conn.csp_type != CspType::IndirectProvider || conn.namespace != settings.provider_namespace {
        return Association::NotChecked;
    }
    let Some(reseller) = reseller else {
        return Association::NotChecked;
    };
    let Some(node) = hierarchy.node(reseller) else {
        return Association::NotChecked;
    };
    if node.is_root {
        return Association::Own;
    }
    std::iter::once(reseller)
        .chain(node.ancestors.iter().map(String::as_str))
        .filter(|n| hierarchy.root.as_deref() != Some(*n))
        .find_map(|n| snapshot.resellers.get(n)?.indirect_reseller_tenant_id.as_deref())
        .map(|t| Association::Reseller(t.trim().to_ascii_lowercase()))
        .unwrap_or(Association::Own)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "aaaaaaaa-0000-4000-8000-000000000001";
    const T2: &str = "aaaaaaaa-0000-4000-8000-000000000002";
    const R1: &str = "44444444-4444-4444-8444-444444444401";
    const R2: &str = "44444444-4444-4444-8444-444444444402";

    fn declared(tenant: Option<&str>, provisioned: bool, association: Association) -> Declared {
        Declared {
            key: "ns/c".into(),
            tenant_id: tenant.map(str::to_string),
            provisioned,
            started_at: Some(0),
            association,
        }
    }

    fn detail(country: &str, associated: Option<&str>) -> Detail {
        Detail {
            country: Some(country.into()),
            associated_partner_id: associated.map(str::to_string),
        }
    }

    /// (case, declared, listed, detail, expected verdict, reason Observed shows)
    #[test]
    fn verdicts_as_the_customer_sees_them() {
        let r1 = || Association::Reseller(R1.into());
        type Case = (
            &'static str,
            Declared,
            Option<bool>,
            Option<Detail>,
            Observation,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                "before the first sync",
                declared(Some(T1), true, r1()),
                None,
                None,
                Observation::NotSynced,
                "NotSynced",
            ),
            (
                "no tenant yet",
                declared(None, false, r1()),
                Some(false),
                None,
                Observation::NotProvisioned,
                "NotProvisioned",
            ),
            (
                "awaiting acceptance, not listed",
                declared(Some(T1), false, r1()),
                Some(false),
                None,
                Observation::NotProvisioned,
                "NotProvisioned",
            ),
            (
                "listed, details pending",
                declared(Some(T1), true, r1()),
                Some(true),
                None,
                Observation::ListedDetailsPending,
                "Listed",
            ),
            (
                "listed as declared",
                declared(Some(T1), true, r1()),
                Some(true),
                Some(detail("NZ", Some(R1))),
                Observation::Listed,
                "Listed",
            ),
            (
                "provisioned and gone",
                declared(Some(T1), true, r1()),
                Some(false),
                Some(detail("NZ", Some(R1))),
                Observation::TenantGone,
                "TenantGone",
            ),
            (
                "provisioned after the listing started: not gone, not yet listed",
                Declared {
                    started_at: Some(100),
                    ..declared(Some(T1), true, r1())
                },
                Some(false),
                None,
                Observation::NotProvisioned,
                "NotProvisioned",
            ),
            (
                "another reseller",
                declared(Some(T1), true, r1()),
                Some(true),
                Some(detail("NZ", Some(R2))),
                Observation::WrongReseller {
                    expected: Some(R1.into()),
                    actual: Some(R2.into()),
                },
                "WrongReseller",
            ),
            (
                "associated, but declared the provider's own",
                declared(Some(T1), true, Association::Own),
                Some(true),
                Some(detail("NZ", Some(R2))),
                Observation::WrongReseller {
                    expected: None,
                    actual: Some(R2.into()),
                },
                "WrongReseller",
            ),
            (
                "not associated, but declared a reseller's",
                declared(Some(T1), true, r1()),
                Some(true),
                Some(detail("NZ", None)),
                Observation::WrongReseller {
                    expected: Some(R1.into()),
                    actual: None,
                },
                "WrongReseller",
            ),
            (
                "a direct connection checks no association",
                declared(Some(T1), true, Association::NotChecked),
                Some(true),
                Some(detail("NZ", Some(R2))),
                Observation::Listed,
                "Listed",
            ),
            (
                "a country outside the region wins over the association",
                declared(Some(T1), true, r1()),
                Some(true),
                Some(detail("AU", Some(R2))),
                Observation::CountryOutsideRegion { country: "AU".into() },
                "CountryOutsideRegion",
            ),
            (
                "no country reported: not a finding",
                declared(Some(T1), true, r1()),
                Some(true),
                Some(Detail {
                    country: None,
                    associated_partner_id: Some(R1.into()),
                }),
                Observation::Listed,
                "Listed",
            ),
        ];
        let regions = RegionTable::default();
        for (case, c, listed, d, want, reason) in cases {
            let got = observe(&c, listed, 100, d.as_ref(), "NZ", &regions);
            assert_eq!(got, want, "{case}");
            let (_, got_reason, message) = condition(&got, "Customer 'ns/c'", "csp-system/nz");
            assert_eq!(got_reason, reason, "{case}");
            assert!(!message.is_empty(), "{case}");
        }
    }

    #[test]
    fn counts_over_the_declared_customers() {
        let listed: BTreeSet<&str> = [T1, T2, "aaaaaaaa-0000-4000-8000-000000000003"].into();
        let declared = vec![
            declared(Some(T1), true, Association::Reseller(R1.into())),
            // Two Customers naming one tenant count it once.
            Declared {
                key: "ns/dup".into(),
                ..declared(Some(T1), true, Association::Reseller(R1.into()))
            },
            Declared {
                key: "ns/c2".into(),
                ..declared(Some(T2), true, Association::Own)
            },
            Declared {
                key: "ns/gone".into(),
                ..declared(Some("bbbbbbbb-0000-4000-8000-000000000009"), true, Association::Own)
            },
            Declared {
                key: "ns/new".into(),
                ..declared(None, false, Association::Own)
            },
        ];
        let details = |t: &str| (t == T2).then(|| detail("AU", None));
        let got = compare(
            3,
            100,
            &|t| listed.contains(t),
            &declared,
            &details,
            "NZ",
            &RegionTable::default(),
        );
        assert_eq!(
            got.counts,
            Inventory {
                customers: 3,
                declared: 2,
                undeclared: 1,
                missing: 1,
                outside_region: 1,
                wrong_reseller: 0,
                details_pending: 2,
            }
        );
        assert_eq!(got.verdicts[3], ("ns/gone".to_string(), Observation::TenantGone));
    }
}
