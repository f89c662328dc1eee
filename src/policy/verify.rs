//! Rule 3, the pure part: does what Partner Center reports contradict what a connection declares?
//! Partner Center reveals neither "sandbox" nor "partner type", so `verified` means *checked and
//! not contradicted*; what could not be checked is listed and gives `PartiallyVerified`.

use super::finding::reasons;
use super::regions::RegionTable;
use crate::api::{AuthMode, CspType, Environment};

/// A Sandbox account holds at most this many customers; more contradicts `Sandbox`.
pub const SANDBOX_CUSTOMER_QUOTA: u64 = 75;

/// What the connection's spec declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredIdentity {
    pub tenant_id: String,
    pub region: String,
    pub csp_type: CspType,
    pub environment: Environment,
    pub auth_mode: AuthMode,
}

/// Outcome of listing the partner's indirect resellers (`GET /v1/relationships`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResellerListing {
    /// The call succeeded and returned this many indirect resellers.
    Count(u64),
    /// Partner Center refused the call (403 / "can't be accessed by application credentials"):
    /// with App+User that means the account is not an indirect provider.
    Denied,
    /// Not attempted or failed for an unrelated reason: nothing can be concluded.
    NotChecked,
}

/// What Partner Center reported. `None` = could not be read (e.g. App-only cannot read the
/// organization profile).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// `tid` claim of the access token; empty when the token is opaque (not a decodable JWT).
    pub token_tid: String,
    /// `tenantId` of `GET /v1/profiles/organization`.
    pub org_profile_tenant: Option<String>,
    /// `defaultAddress.country` of the organization profile.
    pub country: Option<String>,
    pub indirect_resellers: ResellerListing,
    pub customer_count: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// Checked and not contradicted (possibly only partially checked).
    pub verified: bool,
    /// `Verified`, `PartiallyVerified`, or the first contradiction.
    pub reason: String,
    /// Every contradiction, or what was not checked.
    pub message: String,
    pub unchecked: Vec<String>,
}

fn same_tenant(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

pub fn verify_connection(declared: &DeclaredIdentity, observed: &Observed, regions: &RegionTable) -> Verification {
    let mut contradictions: Vec<(&str, String)> = Vec::new();
    let mut unchecked = Vec::new();

    // Access tokens are opaque to clients: an empty `token_tid` means the token could not be
    // decoded, so the tenant rests on the organization profile below (or is reported unchecked).
    if observed.token_tid.trim().is_empty() {
        unchecked.push("access token tenant (the access token is opaque)".to_string());
    } else if !same_tenant(&observed.token_tid, &declared.tenant_id) {
        contradictions.push((
            reasons::TENANT_MISMATCH,
            format!(
                "the access token was issued for tenant {} but spec.partnerTenantId is {}: the \
                 credentials belong to another partner; use this partner's app and refresh token or \
                 create a connection for the other tenant",
                observed.token_tid, declared.tenant_id
            ),
        ));
    }
    match &observed.org_profile_tenant {
        Some(t) if !same_tenant(t, &declared.tenant_id) => contradictions.push((
            reasons::TENANT_MISMATCH,
            format!(
                "Partner Center's organization profile belongs to tenant {t} but spec.partnerTenantId \
                 is {}",
                declared.tenant_id
            ),
        )),
        Some(_) => {}
        None => unchecked.push("organization profile tenant (needs AppPlusUser)".to_string()),
    }

    if !regions.is_known_region(&declared.region) {
        contradictions.push((
            reasons::UNKNOWN_REGION,
            format!(
                "spec.region '{}' is not in the operator's region table: use a known code or add it \
                 to the operator's configuration (spec.region is immutable, so recreate the \
                 connection)",
                declared.region
            ),
        ));
    } else {
        match &observed.country {
            Some(country) if !regions.country_in_region(&declared.region, country) => contradictions.push((
                reasons::REGION_MISMATCH,
                format!(
                    "Partner Center reports the partner's country as {country}, which is not in \
                         spec.region '{}': create a connection with the region this account belongs to",
                    declared.region
                ),
            )),
            Some(_) => {}
            None => unchecked.push("partner country (needs AppPlusUser)".to_string()),
        }
    }

    match (declared.csp_type, observed.indirect_resellers) {
        (CspType::Direct, ResellerListing::Count(n)) if n > 0 => contradictions.push((
            reasons::TYPE_MISMATCH,
            format!(
                "spec.cspType is Direct but Partner Center lists {n} indirect resellers for this \
                 account, so it is an indirect provider: create an IndirectProvider connection"
            ),
        )),
        (CspType::Direct, ResellerListing::Count(_) | ResellerListing::Denied) => {}
        (CspType::IndirectProvider, ResellerListing::Count(_)) => {}
        (CspType::IndirectProvider, ResellerListing::Denied) if declared.auth_mode == AuthMode::AppPlusUser => {
            contradictions.push((
                reasons::TYPE_MISMATCH,
                "spec.cspType is IndirectProvider but Partner Center refuses to list indirect \
                 resellers for this account, so it is not an indirect provider: create a Direct \
                 connection"
                    .to_string(),
            ))
        }
        (_, _) if declared.auth_mode == AuthMode::AppOnly => {
            unchecked.push("indirect reseller relationships (listing them needs AppPlusUser)".to_string())
        }
        (_, _) => unchecked.push("indirect reseller relationships (could not be listed)".to_string()),
    }

    if declared.environment == Environment::Sandbox {
        match observed.customer_count {
            Some(n) if n > SANDBOX_CUSTOMER_QUOTA => contradictions.push((
                reasons::SANDBOX_QUOTA_EXCEEDED,
                format!(
                    "spec.environment is Sandbox but the account has {n} customers, more than a \
                     sandbox may hold ({SANDBOX_CUSTOMER_QUOTA}), so it is a production account: \
                     create a Production connection"
                ),
            )),
            Some(_) => {}
            None => unchecked.push("customer count (sandbox quota)".to_string()),
        }
    }

    if let Some((reason, _)) = contradictions.first() {
        Verification {
            verified: false,
            reason: reason.to_string(),
            message: contradictions
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            unchecked,
        }
    } else if unchecked.is_empty() {
        Verification {
            verified: true,
            reason: reasons::VERIFIED.to_string(),
            message: "Partner Center confirms the tenant and region and contradicts nothing declared".to_string(),
            unchecked,
        }
    } else {
        Verification {
            verified: true,
            reason: reasons::PARTIALLY_VERIFIED.to_string(),
            message: format!(
                "nothing contradicts the declared identity, but not checked: {}",
                unchecked.join(", ")
            ),
            unchecked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An opaque (undecodable) access token leaves `token_tid` empty: never a TenantMismatch; the
    /// organization profile decides, or the tenant is reported as not checked.
    #[test]
    fn opaque_access_token_is_not_a_tenant_mismatch() {
        const T: &str = "6a4b5c3d-1111-2222-3333-444455556666";
        const OTHER: &str = "00000000-1111-2222-3333-444455556666";
        let declared = |auth_mode| DeclaredIdentity {
            tenant_id: T.into(),
            region: "EUR".into(),
            csp_type: CspType::Direct,
            environment: Environment::Production,
            auth_mode,
        };
        let observed = |org: Option<&str>, country: Option<&str>| Observed {
            token_tid: String::new(),
            org_profile_tenant: org.map(str::to_string),
            country: country.map(str::to_string),
            indirect_resellers: ResellerListing::Count(0),
            customer_count: Some(3),
        };
        let cases = [
            (
                AuthMode::AppPlusUser,
                observed(Some(T), Some("DE")),
                true,
                reasons::PARTIALLY_VERIFIED,
                "nothing contradicts the declared identity, but not checked: access token tenant (the access token is opaque)",
            ),
            (
                AuthMode::AppPlusUser,
                observed(Some(OTHER), Some("DE")),
                false,
                reasons::TENANT_MISMATCH,
                "Partner Center's organization profile belongs to tenant 00000000-1111-2222-3333-444455556666 but spec.partnerTenantId is 6a4b5c3d-1111-2222-3333-444455556666",
            ),
            (
                AuthMode::AppOnly,
                observed(None, None),
                true,
                reasons::PARTIALLY_VERIFIED,
                "nothing contradicts the declared identity, but not checked: access token tenant (the access token is opaque), organization profile tenant (needs AppPlusUser), partner country (needs AppPlusUser)",
            ),
        ];
        for (mode, obs, verified, reason, message) in cases {
            let v = verify_connection(&declared(mode), &obs, &RegionTable::default());
            assert_eq!(
                (v.verified, v.reason.as_str(), v.message.as_str()),
                (verified, reason, message),
                "{mode:?}"
            );
        }
    }
}
