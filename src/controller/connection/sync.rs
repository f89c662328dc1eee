//! Stage 3, sync: the Partner Center calls of one sync (token, profiles, customer count, indirect
//! resellers), each counted, their errors classified, and rule 3 decided by `policy`. No Kubernetes
//! here: the client comes in behind the `PartnerCenterApi` trait, so the tests use a fake.

use crate::api::PartnerInfo;
use crate::partner_center::{PartnerCenterApi, PartnerCenterError};
use crate::policy::{self, DeclaredIdentity, Observed, RegionTable, ResellerListing, Verification};
use crate::runtime::metrics::Metrics;
use std::collections::BTreeSet;
use std::time::Duration;

/// Why a sync did not verify the connection: a condition reason and a message naming the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub reason: String,
    pub message: String,
}

impl Failure {
    pub fn new(reason: &str, message: impl Into<String>) -> Self {
        Failure {
            reason: reason.to_string(),
            message: message.into(),
        }
    }
}

/// What Partner Center reported, verified against the declared identity.
#[derive(Clone, Debug, PartialEq)]
pub struct Synced {
    pub partner: PartnerInfo,
    pub customers: u64,
    pub resellers: Option<u64>,
    /// Lowercased tenant ids of the indirect resellers listed as Active (App+User syncs of an
    /// indirect provider); published only as far as some Reseller declares them (see `status`).
    pub active_resellers: BTreeSet<String>,
    pub verification: Verification,
}

/// The outcome of one sync (or of a problem found before it).
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Synced(Synced),
    /// No usable token: consent expired or revoked, MFA, wrong app credentials or tenant, or the
    /// Secret itself is missing or incomplete.
    NotAuthenticated(Failure),
    /// Authenticated (or not yet known), but a Partner Center call failed; `retry_after` is the
    /// server's wait, as it sent it (the decide stage clamps it).
    CallFailed {
        failure: Failure,
        retry_after: Option<Duration>,
    },
}

impl Outcome {
    /// The reason logged for this outcome.
    pub fn reason(&self) -> &str {
        match self {
            Outcome::Synced(s) => &s.verification.reason,
            Outcome::NotAuthenticated(f) | Outcome::CallFailed { failure: f, .. } => &f.reason,
        }
    }

    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Synced(_))
    }
}

/// Which step failed: any lasting failure to get a token is an authentication problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Token,
    Call,
}

/// Awaits one Partner Center call and counts it by operation and outcome, with its duration.
async fn counted<T>(
    metrics: &Metrics,
    operation: &str,
    call: impl std::future::Future<Output = Result<T, PartnerCenterError>>,
) -> Result<T, PartnerCenterError> {
    let started = std::time::Instant::now();
    let result = call.await;
    let outcome = result.as_ref().err().map(|e| e.reason()).unwrap_or("Ok");
    metrics.observe_partner_center_call_took(operation, outcome, started.elapsed());
    result
}

/// One sync: token, profiles (App+User), customer count, indirect resellers (App+User); then rule 3.
pub async fn run(
    pc: &dyn PartnerCenterApi,
    declared: &DeclaredIdentity,
    regions: &RegionTable,
    metrics: &Metrics,
) -> Outcome {
    let app_plus_user = declared.auth_mode == crate::api::AuthMode::AppPlusUser;
    let m = metrics;
    let claims = match counted(m, "token", pc.token_claims()).await {
        Ok(c) => c,
        Err(e) => return classify(e, Step::Token),
    };
    let (org, mpn) = if app_plus_user {
        let org = match counted(m, "organization_profile", pc.organization_profile()).await {
            Ok(o) => o,
            Err(e) => return classify(e, Step::Call),
        };
        // The partner id is informational: its failure does not fail the sync.
        let mpn = counted(m, "mpn_profile", pc.mpn_profile()).await.ok();
        (Some(org), mpn)
    } else {
        (None, None)
    };
    let customers = match counted(m, "count_customers", pc.count_customers()).await {
        Ok(n) => n,
        Err(e) => return classify(e, Step::Call),
    };
    let mut active_resellers = BTreeSet::new();
    let resellers = if app_plus_user {
        match counted(m, "indirect_resellers", pc.indirect_resellers()).await {
            Ok(list) => {
                active_resellers = list
                    .iter()
                    .filter(|r| r.is_active())
                    .map(|r| r.id.trim().to_ascii_lowercase())
                    .collect();
                ResellerListing::Count(list.len() as u64)
            }
            Err(PartnerCenterError::Forbidden { .. } | PartnerCenterError::AppOnlyNotAllowed { .. }) => {
                ResellerListing::Denied
            }
            Err(e) => return classify(e, Step::Call),
        }
    } else {
        ResellerListing::NotChecked
    };
    let observed = Observed {
        token_tid: claims.tid.clone().unwrap_or_default(),
        org_profile_tenant: org.as_ref().and_then(|o| o.tenant_id.clone()),
        country: org.as_ref().and_then(|o| o.country().map(str::to_string)),
        indirect_resellers: resellers,
        customer_count: Some(customers),
    };
    let verification = policy::verify_connection(declared, &observed, regions);
    Outcome::Synced(Synced {
        partner: PartnerInfo {
            company_name: org.as_ref().and_then(|o| o.company_name.clone()),
            tenant_id: org.as_ref().and_then(|o| o.tenant_id.clone()).or(claims.tid),
            partner_id: mpn.and_then(|m| m.mpn_id),
            country: observed.country.clone(),
            default_domain: org.as_ref().and_then(|o| o.domain.clone()),
        },
        customers,
        resellers: match resellers {
            ResellerListing::Count(n) => Some(n),
            _ => None,
        },
        active_resellers,
        verification,
    })
}

/// [`run`] bounded by `deadline` over every call, retry and wait: a host that accepts and never
/// answers cannot hold a sync slot for timeout × attempts + backoff.
pub async fn run_within(
    deadline: Duration,
    pc: &dyn PartnerCenterApi,
    declared: &DeclaredIdentity,
    regions: &RegionTable,
    metrics: &Metrics,
) -> Outcome {
    match tokio::time::timeout(deadline, run(pc, declared, regions, metrics)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::CallFailed {
            failure: Failure::new(
                "Timeout",
                format!(
                    "the sync with Partner Center did not finish within {} (the operator's --partner-center-sync-deadline); it is retried with backoff",
                    humantime::format_duration(deadline)
                ),
            ),
            retry_after: None,
        },
    }
}

/// A lasting failure at the token step, or one the partner's admin must fix (consent, MFA, app
/// credentials), means not authenticated; anything else is a failed call, retried with backoff.
fn classify(e: PartnerCenterError, step: Step) -> Outcome {
    let auth_problem = step == Step::Token || e.needs_credentials_fix();
    let failure = Failure::new(e.reason(), e.to_string());
    if auth_problem && !e.is_transient() {
        Outcome::NotAuthenticated(failure)
    } else {
        let retry_after = match &e {
            PartnerCenterError::Throttled { retry_after } => *retry_after,
            _ => None,
        };
        Outcome::CallFailed { failure, retry_after }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakePartnerCenter;
    use super::*;
    use crate::api::{AuthMode, CspType, Environment};

    fn declared(auth_mode: AuthMode) -> DeclaredIdentity {
        DeclaredIdentity {
            tenant_id: FakePartnerCenter::TENANT.into(),
            region: "NZ".into(),
            csp_type: CspType::IndirectProvider,
            environment: Environment::Production,
            auth_mode,
        }
    }

    fn metrics() -> Metrics {
        Metrics::register(&mut prometheus_client::registry::Registry::default())
    }

    fn forbidden() -> PartnerCenterError {
        PartnerCenterError::Forbidden {
            code: "600000".into(),
            description: "denied".into(),
        }
    }
    fn server() -> PartnerCenterError {
        PartnerCenterError::Server {
            status: 503,
            code: String::new(),
            description: "down".into(),
        }
    }

    /// (case, fake, auth mode, expected outcome kind, expected reason, expected Retry-After)
    #[tokio::test]
    async fn outcomes_are_classified_as_the_user_sees_them() {
        let revoked = PartnerCenterError::ConsentRevoked {
            detail: "AADSTS50173".into(),
        };
        let throttled = PartnerCenterError::Throttled {
            retry_after: Some(Duration::from_secs(7)),
        };
        type Case = (
            &'static str,
            FakePartnerCenter,
            AuthMode,
            &'static str,
            &'static str,
            Option<u64>,
        );
        let cases: Vec<Case> = vec![
            (
                "all good",
                FakePartnerCenter::nz(),
                AuthMode::AppPlusUser,
                "Synced",
                "Verified",
                None,
            ),
            (
                "app only is partially verified",
                FakePartnerCenter::nz(),
                AuthMode::AppOnly,
                "Synced",
                "PartiallyVerified",
                None,
            ),
            (
                "another tenant's token",
                FakePartnerCenter::nz().with_tid("99999999-9999-4999-8999-999999999999"),
                AuthMode::AppPlusUser,
                "Synced",
                "TenantMismatch",
                None,
            ),
            (
                "revoked at the token step",
                FakePartnerCenter::nz().fail("token", revoked.clone()),
                AuthMode::AppPlusUser,
                "NotAuthenticated",
                "ConsentRevoked",
                None,
            ),
            (
                "a refused token request is an auth problem even if the reason is generic",
                FakePartnerCenter::nz().fail("token", forbidden()),
                AuthMode::AppPlusUser,
                "NotAuthenticated",
                "Forbidden",
                None,
            ),
            (
                "a server error at the token step is transient",
                FakePartnerCenter::nz().fail("token", server()),
                AuthMode::AppPlusUser,
                "CallFailed",
                "ServerError",
                None,
            ),
            (
                "revoked later is still an auth problem",
                FakePartnerCenter::nz().fail("count_customers", revoked),
                AuthMode::AppPlusUser,
                "NotAuthenticated",
                "ConsentRevoked",
                None,
            ),
            (
                "throttled keeps the server's wait",
                FakePartnerCenter::nz().fail("organization_profile", throttled),
                AuthMode::AppPlusUser,
                "CallFailed",
                "Throttled",
                Some(7),
            ),
            (
                "a forbidden profile read fails the call",
                FakePartnerCenter::nz().fail("organization_profile", forbidden()),
                AuthMode::AppPlusUser,
                "CallFailed",
                "Forbidden",
                None,
            ),
            (
                "a forbidden reseller listing means not an indirect provider",
                FakePartnerCenter::nz().fail("indirect_resellers", forbidden()),
                AuthMode::AppPlusUser,
                "Synced",
                "TypeMismatch",
                None,
            ),
            (
                "the partner id is informational",
                FakePartnerCenter::nz().fail("mpn_profile", server()),
                AuthMode::AppPlusUser,
                "Synced",
                "Verified",
                None,
            ),
        ];
        for (case, fake, mode, kind, reason, retry) in cases {
            let got = run(&fake, &declared(mode), &RegionTable::default(), &metrics()).await;
            let (got_kind, got_retry) = match &got {
                Outcome::Synced(_) => ("Synced", None),
                Outcome::NotAuthenticated(_) => ("NotAuthenticated", None),
                Outcome::CallFailed { retry_after, .. } => ("CallFailed", retry_after.map(|d| d.as_secs())),
            };
            assert_eq!(
                (got_kind, got.reason(), got_retry),
                (kind, reason, retry),
                "{case}: {got:?}"
            );
        }
    }

    #[tokio::test]
    async fn what_partner_center_reports_is_kept_and_every_call_is_counted() {
        let fake = FakePartnerCenter::nz();
        let m = metrics();
        let Outcome::Synced(s) = run(&fake, &declared(AuthMode::AppPlusUser), &RegionTable::default(), &m).await else {
            panic!("not synced")
        };
        assert_eq!(s.partner.country.as_deref(), Some("NZ"));
        assert_eq!(s.partner.partner_id.as_deref(), Some("1234567"));
        assert_eq!((s.customers, s.resellers), (640, Some(2)));
        assert_eq!(
            fake.calls(),
            [
                "token",
                "organization_profile",
                "mpn_profile",
                "count_customers",
                "indirect_resellers"
            ]
        );
        let ok = |op: &str| {
            m.partner_center_calls
                .get_or_create(&crate::runtime::metrics::CallLabels {
                    operation: op.into(),
                    outcome: "Ok".into(),
                })
                .get()
        };
        assert_eq!((ok("token"), ok("count_customers")), (1, 1));
    }

    #[tokio::test]
    async fn a_partner_center_that_never_answers_ends_at_the_deadline() {
        let fake = FakePartnerCenter::nz().hang("count_customers");
        let started = std::time::Instant::now();
        let got = run_within(
            Duration::from_millis(100),
            &fake,
            &declared(AuthMode::AppPlusUser),
            &RegionTable::default(),
            &metrics(),
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        let Outcome::CallFailed { failure, retry_after } = got else {
            panic!("{got:?}")
        };
        assert_eq!((failure.reason.as_str(), retry_after), ("Timeout", None));
        assert!(
            failure.message.contains("--partner-center-sync-deadline"),
            "{}",
            failure.message
        );
    }
}
