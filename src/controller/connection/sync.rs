//! Stage 3, sync: the Partner Center calls of one sync (token, profiles, the customer list kept as a
//! compact inventory, indirect resellers), each counted, their errors classified, and rule 3 decided
//! by `policy`; then, within a budget, the details of declared tenants ([`fetch_details`]). No
//! Kubernetes here: the client comes in behind the `PartnerCenterApi` trait, so the tests use a fake.

use super::inventory::{self, Details, Inventory};
use crate::api::PartnerInfo;
use crate::partner_center::{PartnerCenterApi, PartnerCenterError};
use crate::policy::{self, DeclaredIdentity, Observed, RegionTable, ResellerListing, Verification};
use crate::runtime::metrics::Metrics;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// The customers listed (its length is `customers`).
    pub inventory: Arc<Inventory>,
    /// List requests this sync made (ceil(customers / 500), at least one).
    pub list_pages: u64,
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
    // One listing: the compact inventory replaces the count (never a second pass over the pages).
    // Dated when the listing started: a tenant created after that may be missing from it.
    let listing_started = jiff::Timestamp::now();
    let mut builder = inventory::Builder::default();
    let list_pages = match counted(
        m,
        "list_customers",
        pc.each_customer_page(&mut |page| builder.add_page(&page)),
    )
    .await
    {
        Ok(n) => n,
        Err(e) => return classify(e, Step::Call),
    };
    let inventory = Arc::new(builder.finish(listing_started));
    let customers = inventory.len();
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
        inventory,
        list_pages,
        resellers: match resellers {
            ResellerListing::Count(n) => Some(n),
            _ => None,
        },
        active_resellers,
        verification,
    })
}

/// Fetches the details (country, indirect reseller) of `tenants` not cached yet, one get-by-id per
/// tenant, as far as the connection's budget of `per_hour` calls allows and within `deadline`;
/// returns the calls made. Get-by-id is the one call that gives both fields (the IndirectReseller
/// filter gives the association of one reseller's customers but no country, and would cost a call
/// per reseller per sync); cached per tenant, a tenant costs one call for as long as it is listed.
/// A failed call is counted against the budget and retried at a later sync.
pub async fn fetch_details(
    pc: &dyn PartnerCenterApi,
    tenants: &[String],
    details: &Mutex<Details>,
    per_hour: u32,
    deadline: Duration,
    metrics: &Metrics,
) -> u32 {
    let started = Instant::now();
    let mut made = 0u32;
    for tenant in tenants {
        if started.elapsed() >= deadline {
            break;
        }
        {
            let mut d = details.lock().expect("details");
            if d.get(tenant).is_some() {
                continue;
            }
            if d.allowance(per_hour, Instant::now()) == 0 {
                break;
            }
            d.spent(Instant::now());
        }
        made = made.saturating_add(1);
        let left = deadline.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, counted(metrics, "get_customer_details", pc.get_customer(tenant))).await {
            Ok(Ok(c)) => details
                .lock()
                .expect("details")
                .insert(tenant, inventory::detail_of(&c)),
            Ok(Err(e)) => {
                tracing::debug!(
                    reason = e.reason(),
                    "a customer's details could not be fetched; retried later"
                );
                if matches!(e, PartnerCenterError::Throttled { .. }) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    made
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
                FakePartnerCenter::nz().fail("list_customers", revoked),
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
        assert_eq!((s.customers, s.resellers, s.list_pages), (640, Some(2), 2));
        assert_eq!(s.inventory.len(), 640);
        assert!(s.inventory.lists_tenant(&FakePartnerCenter::customer(639).id));
        assert_eq!(
            fake.calls(),
            [
                "token",
                "organization_profile",
                "mpn_profile",
                "list_customers",
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
        assert_eq!((ok("token"), ok("list_customers")), (1, 1));
    }

    #[tokio::test]
    async fn a_partner_center_that_never_answers_ends_at_the_deadline() {
        let fake = FakePartnerCenter::nz().hang("list_customers");
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

    /// Details are fetched once per tenant and never past the hour's budget.
    #[tokio::test]
    async fn details_are_fetched_once_per_tenant_within_the_budget() {
        let fake = FakePartnerCenter::nz();
        let details = Mutex::new(Details::default());
        let tenants: Vec<String> = (0..5).map(|i| FakePartnerCenter::customer(i).id).collect();
        let hour = Duration::from_secs(3600);
        // (case, budget per hour, calls made, tenants with details after)
        let steps = [
            ("first sync: the budget allows 3", 3, 3, 3),
            ("same hour: budget spent", 3, 0, 3),
            ("a larger budget reaches the rest, never a tenant twice", 10, 2, 5),
            ("all cached: no call", 10, 0, 5),
        ];
        for (case, budget, calls, cached) in steps {
            let made = fetch_details(&fake, &tenants, &details, budget, hour, &metrics()).await;
            assert_eq!((made, details.lock().unwrap().len()), (calls, cached), "{case}");
        }
        assert_eq!(fake.calls().iter().filter(|c| **c == "get_customer").count(), 5);
        let d = details.lock().unwrap();
        assert_eq!(
            d.get(&tenants[0]).and_then(|d| d.country.clone()).as_deref(),
            Some("NZ")
        );
    }
}
