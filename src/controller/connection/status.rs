//! Stage 4, status: the connection's status built from a sync outcome (or from why there was no
//! sync), with what references it as far as the connection's owner may know. Pure.

use super::sync::{Failure, Outcome, Synced};
use crate::api::conditions::{self, ConditionStatus, types};
use crate::api::{AuthMode, PartnerCenterConnection, PartnerCenterConnectionStatus, UsedBy};
use crate::controller::credentials;
use crate::policy::{ConnectionEvaluation, ConnectionOwner, ResellerFacts};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// Refresh tokens live 90 days from issue, sliding with each redemption (docs/concepts.md, "Refresh tokens").
const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);
/// How many referencing objects `status.usedBy.examples` names.
const EXAMPLES: usize = 5;

/// What references a connection, as its status may tell it: a tenant's connection names only its
/// own reseller and that reseller's subtree (and plans, which are cluster-wide and visible to all);
/// the totals count everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// CustomerPlans whose `spec.connectionRef` names the connection.
    pub plans: Vec<String>,
    /// Resellers whose `connectionOverride` names the connection and that the owner may know about.
    pub visible_overrides: Vec<String>,
    /// All resellers whose `connectionOverride` names the connection.
    pub overrides: usize,
    /// Resellers with an effective plan resolving to the connection.
    pub effective_resellers: usize,
    /// Lowercased indirect reseller tenant ids that some Reseller declares (`spec.indirectReseller`):
    /// the bound of `status.linkedIndirectResellers`.
    pub declared_indirect_resellers: BTreeSet<String>,
}

impl Usage {
    pub fn of(u: &ConnectionEvaluation, resellers: &BTreeMap<String, Arc<ResellerFacts>>) -> Usage {
        let visible = |r: &String| match &u.owner {
            ConnectionOwner::Provider => true,
            ConnectionOwner::Reseller(owner) => in_subtree(resellers, owner, r),
            ConnectionOwner::Unusable(_) => false,
        };
        Usage {
            plans: u.plans.clone(),
            visible_overrides: u.override_resellers.iter().filter(|r| visible(r)).cloned().collect(),
            overrides: u.override_resellers.len(),
            effective_resellers: u.effective_resellers,
            declared_indirect_resellers: resellers
                .values()
                .filter_map(|r| r.indirect_reseller_tenant_id.clone())
                .collect(),
        }
    }

    /// Referenced by a spec: deletion must wait (finalizer).
    pub fn in_use(&self) -> bool {
        !self.plans.is_empty() || self.overrides > 0
    }

    /// What still references the connection, for its status while deletion waits.
    pub fn message(&self) -> String {
        let mut parts = Vec::new();
        if !self.plans.is_empty() {
            parts.push(format!("spec.connectionRef of CustomerPlans {}", self.plans.join(", ")));
        }
        let hidden = self.overrides.saturating_sub(self.visible_overrides.len());
        match (self.visible_overrides.is_empty(), hidden) {
            (true, 0) => {}
            (false, 0) => parts.push(format!(
                "connectionOverride of Resellers {}",
                self.visible_overrides.join(", ")
            )),
            (true, n) => parts.push(format!(
                "connectionOverride of {n} Reseller(s) outside the owner's subtree"
            )),
            (false, n) => parts.push(format!(
                "connectionOverride of Resellers {} and of {n} Reseller(s) outside the owner's subtree",
                self.visible_overrides.join(", ")
            )),
        }
        if parts.is_empty() {
            "not referenced".to_string()
        } else {
            format!("referenced by {}", parts.join(" and "))
        }
    }

    pub fn used_by(&self) -> UsedBy {
        let mut examples: Vec<String> = self.plans.iter().map(|p| format!("CustomerPlan/{p}")).collect();
        examples.extend(self.visible_overrides.iter().map(|r| format!("Reseller/{r}")));
        examples.truncate(EXAMPLES);
        UsedBy {
            plans: count(self.plans.len()),
            resellers: count(self.effective_resellers),
            references: Some(count(self.plans.len().saturating_add(self.overrides))),
            examples,
        }
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Whether `name` is `root` or below it (following `spec.parent`; a cycle ends the walk).
fn in_subtree(resellers: &BTreeMap<String, Arc<ResellerFacts>>, root: &str, name: &str) -> bool {
    let mut current = Some(name);
    for _ in 0..=resellers.len() {
        match current {
            Some(n) if n == root => return true,
            Some(n) => current = resellers.get(n).and_then(|r| r.parent.as_deref()),
            None => return false,
        }
    }
    false
}

fn owner_text(owner: Option<&ConnectionOwner>) -> Option<String> {
    match owner? {
        ConnectionOwner::Provider => Some("Provider".into()),
        ConnectionOwner::Reseller(r) => Some(format!("Reseller/{r}")),
        ConnectionOwner::Unusable(_) => None,
    }
}

fn base(
    conn: &PartnerCenterConnection,
    usage: Option<&Usage>,
    owner: Option<&ConnectionOwner>,
) -> PartnerCenterConnectionStatus {
    let mut st = conn.status.clone().unwrap_or_default();
    st.observed_generation = conn.metadata.generation;
    st.owner = owner_text(owner);
    st.used_by = usage.map(Usage::used_by);
    st
}

/// (type, status, reason, message) of the three conditions, set in one place.
fn set_three(
    st: &mut PartnerCenterConnectionStatus,
    generation: Option<i64>,
    now: jiff::Timestamp,
    three: [(&str, ConditionStatus, &str, &str); 3],
) {
    for (type_, status, reason, message) in three {
        conditions::set(&mut st.conditions, type_, status, reason, message, generation, now);
    }
}

/// The status after a sync (or a credentials problem found before one).
/// The Active indirect resellers of the last sync that some Reseller declares: the set Customers
/// may be associated with (rule 13). Bounded by the declarations, not by Microsoft's whole list.
pub fn linked_indirect_resellers(s: &Synced, usage: Option<&Usage>) -> Vec<String> {
    let Some(u) = usage else { return Vec::new() };
    s.active_resellers
        .intersection(&u.declared_indirect_resellers)
        .cloned()
        .collect()
}

pub fn from_outcome(
    conn: &PartnerCenterConnection,
    outcome: &Outcome,
    since: jiff::Timestamp,
    usage: Option<&Usage>,
    owner: Option<&ConnectionOwner>,
    now: jiff::Timestamp,
) -> PartnerCenterConnectionStatus {
    use ConditionStatus::{False, True, Unknown};
    let generation = conn.metadata.generation;
    let mut st = base(conn, usage, owner);
    let authenticated = "a Partner Center token was issued for the connection's credentials";
    match outcome {
        Outcome::Synced(s) => {
            st.partner = Some(s.partner.clone());
            st.customer_count = Some(i64::try_from(s.customers).unwrap_or(i64::MAX));
            st.indirect_reseller_count = s.resellers.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
            st.linked_indirect_resellers = linked_indirect_resellers(s, usage);
            st.last_sync_time = Some(Time(since));
            let v = &s.verification;
            let mut message = v.message.clone();
            if !v.unchecked.is_empty() {
                message = format!("{message} (not checked: {})", v.unchecked.join("; "));
            }
            let status = ConditionStatus::from(v.verified);
            set_three(
                &mut st,
                generation,
                now,
                [
                    (types::AUTHENTICATED, True, "Authenticated", authenticated),
                    (types::VERIFIED, status, &v.reason, &message),
                    (types::READY, status, &v.reason, &message),
                ],
            );
        }
        Outcome::NotAuthenticated(Failure { reason, message }) => set_three(
            &mut st,
            generation,
            now,
            [
                (types::AUTHENTICATED, False, reason, message),
                (types::VERIFIED, Unknown, reason, "not checked: not authenticated"),
                (types::READY, False, reason, message),
            ],
        ),
        Outcome::CallFailed {
            failure: Failure { reason, message },
            ..
        } => set_three(
            &mut st,
            generation,
            now,
            [
                (types::AUTHENTICATED, True, "Authenticated", authenticated),
                (types::VERIFIED, Unknown, reason, message),
                (types::READY, False, reason, message),
            ],
        ),
    }
    st
}

/// The status of a connection stopped before any Partner Center call.
pub fn blocked(
    conn: &PartnerCenterConnection,
    why: &Failure,
    usage: Option<&Usage>,
    owner: Option<&ConnectionOwner>,
    now: jiff::Timestamp,
) -> PartnerCenterConnectionStatus {
    use ConditionStatus::{False, Unknown};
    let mut st = base(conn, usage, owner);
    let not_checked = format!("not checked: {}", why.message);
    set_three(
        &mut st,
        conn.metadata.generation,
        now,
        [
            (types::AUTHENTICATED, Unknown, &why.reason, &not_checked),
            (types::VERIFIED, Unknown, &why.reason, &not_checked),
            (types::READY, False, &why.reason, &why.message),
        ],
    );
    st
}

/// The status of a connection whose deletion waits for what references it.
pub fn deleting(conn: &PartnerCenterConnection, usage: &Usage, now: jiff::Timestamp) -> PartnerCenterConnectionStatus {
    let mut st = conn.status.clone().unwrap_or_default();
    // Setting deletionTimestamp moves the generation: a status behind it would read as "not
    // evaluated yet" (Argo CD: Progressing) instead of the Deleting verdict.
    st.observed_generation = conn.metadata.generation;
    let message = format!(
        "deletion waits: {}; re-point or remove those references",
        usage.message()
    );
    conditions::set(
        &mut st.conditions,
        types::READY,
        ConditionStatus::False,
        "Deleting",
        &message,
        conn.metadata.generation,
        now,
    );
    st.used_by = Some(usage.used_by());
    st
}

/// Estimate: the last rotation the operator stored, plus 90 days — rounded to the day, because an
/// hourly-moving timestamp would mean a status write every hour for nothing.
pub fn refresh_token_expiry(conn: &PartnerCenterConnection, secret: &Secret) -> Option<Time> {
    if conn.spec.auth.mode != AuthMode::AppPlusUser {
        return None;
    }
    let rotated_at: jiff::Timestamp = secret
        .metadata
        .annotations
        .as_ref()?
        .get(credentials::ROTATED_AT_ANNOTATION)?
        .parse()
        .ok()?;
    let expires = rotated_at.checked_add(REFRESH_TOKEN_LIFETIME).ok()?;
    let day = 24 * 3600;
    let rounded = jiff::Timestamp::from_second(expires.as_second() / day * day).ok()?;
    Some(Time(rounded))
}

#[cfg(test)]
mod tests {
    use super::super::sync::Synced;
    use super::*;
    use crate::api::{ConnectionRef, PartnerInfo};
    use crate::policy::{Finding, Verification};

    fn conn() -> PartnerCenterConnection {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "channel.csp.dev/v1alpha1", "kind": "PartnerCenterConnection",
            "metadata": {"name": "own", "namespace": "reseller-a", "uid": "u1", "generation": 3},
            "spec": {
                "partnerTenantId": "22222222-2222-4222-8222-222222222222", "region": "NZ",
                "cspType": "IndirectProvider", "environment": "Production",
                "auth": {"secretRef": {"name": "creds"}},
            },
        }))
        .expect("connection")
    }

    fn conds(st: &PartnerCenterConnectionStatus) -> Vec<(String, String, String)> {
        [types::AUTHENTICATED, types::VERIFIED, types::READY]
            .iter()
            .map(|t| {
                let c = conditions::find_condition(&st.conditions, t).expect(t);
                assert_eq!(c.observed_generation, Some(3), "{t}");
                (c.type_.clone(), c.status.clone(), c.reason.clone())
            })
            .collect()
    }

    fn synced(verified: bool, reason: &str, unchecked: &[&str]) -> Outcome {
        Outcome::Synced(Synced {
            partner: PartnerInfo {
                country: Some("NZ".into()),
                ..Default::default()
            },
            customers: 640,
            inventory: Default::default(),
            list_pages: 1,
            resellers: Some(2),
            active_resellers: Default::default(),
            verification: Verification {
                verified,
                reason: reason.into(),
                message: format!("{reason} message"),
                unchecked: unchecked.iter().map(|s| s.to_string()).collect(),
            },
        })
    }

    #[test]
    fn linked_indirect_resellers_are_the_active_ones_some_reseller_declares() {
        let Outcome::Synced(mut s) = synced(true, "Verified", &[]) else {
            unreachable!()
        };
        s.active_resellers = ["r1", "r2", "r3"].iter().map(|r| r.to_string()).collect();
        let usage = Usage {
            declared_indirect_resellers: ["r2", "r3", "r9"].iter().map(|r| r.to_string()).collect(),
            ..Default::default()
        };
        // (case, usage, linked)
        let cases: [(&str, Option<&Usage>, Vec<&str>); 2] = [
            (
                "declared and Active only; not Microsoft's whole list",
                Some(&usage),
                vec!["r2", "r3"],
            ),
            ("nothing known of the declarations: none", None, vec![]),
        ];
        for (case, u, want) in cases {
            assert_eq!(linked_indirect_resellers(&s, u), want, "{case}");
        }
    }

    #[test]
    fn each_outcome_sets_the_three_conditions() {
        let now = jiff::Timestamp::from_second(1_000).unwrap();
        let since = jiff::Timestamp::from_second(500).unwrap();
        let failure = Failure::new("ConsentRevoked", "re-run consent");
        let call = Outcome::CallFailed {
            failure: Failure::new("Timeout", "too slow"),
            retry_after: None,
        };
        // (outcome, [Authenticated, Verified, Ready] as (status, reason))
        let cases = [
            (
                synced(true, "Verified", &[]),
                [("True", "Authenticated"), ("True", "Verified"), ("True", "Verified")],
            ),
            (
                synced(false, "TenantMismatch", &[]),
                [
                    ("True", "Authenticated"),
                    ("False", "TenantMismatch"),
                    ("False", "TenantMismatch"),
                ],
            ),
            (
                Outcome::NotAuthenticated(failure),
                [
                    ("False", "ConsentRevoked"),
                    ("Unknown", "ConsentRevoked"),
                    ("False", "ConsentRevoked"),
                ],
            ),
            (
                call,
                [("True", "Authenticated"), ("Unknown", "Timeout"), ("False", "Timeout")],
            ),
        ];
        for (outcome, want) in cases {
            let st = from_outcome(&conn(), &outcome, since, None, Some(&ConnectionOwner::Provider), now);
            let got = conds(&st);
            let want: Vec<(String, String, String)> = [types::AUTHENTICATED, types::VERIFIED, types::READY]
                .iter()
                .zip(want)
                .map(|(t, (s, r))| (t.to_string(), s.to_string(), r.to_string()))
                .collect();
            assert_eq!(got, want, "{outcome:?}");
            assert_eq!(st.observed_generation, Some(3));
            assert_eq!(st.owner.as_deref(), Some("Provider"));
            if outcome.is_success() {
                assert_eq!(st.last_sync_time, Some(Time(since)));
                assert_eq!((st.customer_count, st.indirect_reseller_count), (Some(640), Some(2)));
            }
        }
        let partial = from_outcome(
            &conn(),
            &synced(true, "PartiallyVerified", &["country"]),
            since,
            None,
            None,
            now,
        );
        let ready = conditions::find_condition(&partial.conditions, types::READY).unwrap();
        assert_eq!(ready.message, "PartiallyVerified message (not checked: country)");
    }

    #[test]
    fn blocked_and_deleting() {
        let now = jiff::Timestamp::from_second(1_000).unwrap();
        let st = blocked(
            &conn(),
            &Failure::new("EndpointNotAllowed", "not allowed"),
            None,
            None,
            now,
        );
        let got: Vec<_> = conds(&st).into_iter().map(|(_, s, r)| (s, r)).collect();
        let want = [
            ("Unknown", "EndpointNotAllowed"),
            ("Unknown", "EndpointNotAllowed"),
            ("False", "EndpointNotAllowed"),
        ];
        assert_eq!(got, want.map(|(s, r)| (s.to_string(), r.to_string())));
        let ready = conditions::find_condition(&st.conditions, types::READY).unwrap();
        assert_eq!(ready.message, "not allowed");

        let usage = Usage {
            plans: vec!["nz".into()],
            ..Default::default()
        };
        // Deleting moved the generation past an older status: the status follows it.
        let mut behind = conn();
        behind.status = Some(PartnerCenterConnectionStatus {
            observed_generation: Some(2),
            ..Default::default()
        });
        let st = deleting(&behind, &usage, now);
        assert_eq!(st.observed_generation, Some(3));
        let ready = conditions::find_condition(&st.conditions, types::READY).unwrap();
        assert_eq!(
            (ready.reason.as_str(), ready.message.as_str()),
            (
                "Deleting",
                "deletion waits: referenced by spec.connectionRef of CustomerPlans nz; re-point or remove those references"
            )
        );
    }

    fn reseller(name: &str, parent: Option<&str>) -> (String, ResellerFacts) {
        (
            name.to_string(),
            ResellerFacts {
                name: name.to_string(),
                short_name: name.to_uppercase(),
                parent: parent.map(str::to_string),
                customer_type: Default::default(),
                namespace: None,
                region: None,
                sandbox_only: false,
                azure_ad_enabled: false,
                grants: vec![],
                created: None,
                deleting: false,
                bindings: Default::default(),
                confirmed_connections: Default::default(),
                indirect_reseller_tenant_id: None,
            },
        )
    }

    #[test]
    fn used_by_names_only_what_the_owner_may_know_and_states_the_total() {
        // root ─ a ─ a1 ─ a11;  root ─ b (another reseller);  c ↔ d (a cycle)
        let tree: BTreeMap<String, Arc<ResellerFacts>> = [
            reseller("root", None),
            reseller("a", Some("root")),
            reseller("a1", Some("a")),
            reseller("a11", Some("a1")),
            reseller("b", Some("root")),
            reseller("c", Some("d")),
            reseller("d", Some("c")),
        ]
        .into_iter()
        .map(|(name, r)| (name, Arc::new(r)))
        .collect();
        let eval = |owner: ConnectionOwner| ConnectionEvaluation {
            reference: ConnectionRef {
                namespace: "reseller-a".into(),
                name: "own".into(),
            },
            owner,
            plans: vec!["nz-indirect-production".into()],
            override_resellers: vec!["a1".into(), "a11".into(), "b".into(), "c".into()],
            effective_resellers: 5,
            errors: vec![],
        };
        let unusable = ConnectionOwner::Unusable(Finding::new("NamespaceNotOwned", "x"));
        // (owner, examples, message)
        let cases = [
            (
                ConnectionOwner::Reseller("a".into()),
                vec!["CustomerPlan/nz-indirect-production", "Reseller/a1", "Reseller/a11"],
                "referenced by spec.connectionRef of CustomerPlans nz-indirect-production and connectionOverride of Resellers a1, a11 and of 2 Reseller(s) outside the owner's subtree",
            ),
            (
                ConnectionOwner::Reseller("a11".into()),
                vec!["CustomerPlan/nz-indirect-production", "Reseller/a11"],
                "referenced by spec.connectionRef of CustomerPlans nz-indirect-production and connectionOverride of Resellers a11 and of 3 Reseller(s) outside the owner's subtree",
            ),
            (
                ConnectionOwner::Provider,
                vec![
                    "CustomerPlan/nz-indirect-production",
                    "Reseller/a1",
                    "Reseller/a11",
                    "Reseller/b",
                    "Reseller/c",
                ],
                "referenced by spec.connectionRef of CustomerPlans nz-indirect-production and connectionOverride of Resellers a1, a11, b, c",
            ),
            (
                unusable,
                vec!["CustomerPlan/nz-indirect-production"],
                "referenced by spec.connectionRef of CustomerPlans nz-indirect-production and connectionOverride of 4 Reseller(s) outside the owner's subtree",
            ),
        ];
        for (owner, examples, message) in cases {
            let usage = Usage::of(&eval(owner.clone()), &tree);
            let used_by = usage.used_by();
            assert_eq!(used_by.examples, examples, "{owner:?}");
            assert_eq!(
                (used_by.plans, used_by.resellers, used_by.references),
                (1, 5, Some(5)),
                "{owner:?}"
            );
            assert_eq!(usage.message(), message, "{owner:?}");
            assert!(usage.in_use());
        }
        assert!(!in_subtree(&tree, "a", "c"), "a cycle ends the walk");
        assert_eq!(Usage::default().message(), "not referenced");
    }

    #[test]
    fn refresh_token_expiry_is_ninety_days_after_the_rotation_to_the_day() {
        let secret = |rotated_at: Option<&str>| {
            let mut s = Secret::default();
            s.metadata.annotations =
                rotated_at.map(|t| [(credentials::ROTATED_AT_ANNOTATION.to_string(), t.to_string())].into());
            s
        };
        let mut app_only = conn();
        app_only.spec.auth.mode = AuthMode::AppOnly;
        // (connection, rotated-at annotation, expected expiry)
        let cases = [
            (conn(), Some("2026-01-01T13:45:00Z"), Some("2026-04-01T00:00:00Z")),
            (conn(), Some("not a time"), None),
            (conn(), None, None),
            (app_only, Some("2026-01-01T13:45:00Z"), None),
        ];
        for (c, rotated_at, want) in cases {
            let got = refresh_token_expiry(&c, &secret(rotated_at)).map(|t| t.0.to_string());
            assert_eq!(got.as_deref(), want, "{rotated_at:?}");
        }
    }
}
