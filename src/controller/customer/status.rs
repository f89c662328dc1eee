//! The Customer's status as each stage leaves it, and the writes. Every write carries the whole
//! status (server-side apply, one field manager), so what a stage does not touch — above all the
//! pinned `connection` and `source` (rule 15) — is copied from the status it started from.

use crate::api::conditions::{self, ConditionStatus};
use crate::api::{Customer, CustomerStatus, MOVES_KEPT, Move, Placement, ProvisioningPhase};
use crate::controller::status::FIELD_MANAGER;
use crate::partner_center::models::Customer as PcCustomer;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};

/// Condition type: the tenant exists under the pinned connection.
pub const PROVISIONED: &str = "Provisioned";

/// Reasons the reconciler itself gives (the rules' reasons come with their findings).
pub mod reasons {
    pub use crate::policy::reasons::{
        ADDRESS_INVALID, ADMIN_CREDENTIALS_NOT_CAPTURED, AWAITING_ACCEPTANCE, DOMAIN_TAKEN, PROVISIONED, PROVISIONING,
    };
    /// An existing tenant found among the pinned connection's customers (phase Adopted).
    pub const ADOPTED: &str = "Adopted";
    /// Event: a move between resellers or plans of the pinned connection was applied (rule 15).
    pub const MOVED: &str = "Moved";
    /// Provisioned=False: nothing created or adopted yet.
    pub const NOT_PROVISIONED: &str = "NotProvisioned";
}

/// The condition shape every builder below uses.
pub struct Verdict<'a> {
    pub status: ConditionStatus,
    pub reason: &'a str,
    pub message: &'a str,
}

impl<'a> Verdict<'a> {
    pub fn new(status: ConditionStatus, reason: &'a str, message: &'a str) -> Self {
        Verdict {
            status,
            reason,
            message,
        }
    }
}

/// `st` with Ready (and Provisioned, when given) set for `generation`.
pub fn with_conditions(
    mut st: CustomerStatus,
    generation: Option<i64>,
    ready: Verdict<'_>,
    provisioned: Option<Verdict<'_>>,
    now: jiff::Timestamp,
) -> CustomerStatus {
    st.observed_generation = generation;
    let c = &mut st.conditions;
    if let Some(p) = provisioned {
        conditions::set(c, PROVISIONED, p.status, p.reason, p.message, generation, now);
    }
    conditions::set(
        c,
        conditions::types::READY,
        ready.status,
        ready.reason,
        ready.message,
        generation,
        now,
    );
    st
}

/// Provisioned=True/False as it stands: True once a tenant id is recorded.
pub fn provisioned_as_is(st: &CustomerStatus) -> (ConditionStatus, String, String) {
    match (&st.tenant_id, conditions::find_condition(&st.conditions, PROVISIONED)) {
        (Some(_), Some(c)) => (ConditionStatus::True, c.reason.clone(), c.message.clone()),
        (Some(t), None) => (
            ConditionStatus::True,
            reasons::PROVISIONED.into(),
            format!("tenant {t} exists under the pinned connection"),
        ),
        (None, _) => (
            ConditionStatus::False,
            reasons::NOT_PROVISIONED.into(),
            "no tenant has been created or adopted yet".into(),
        ),
    }
}

/// The tenant's identity as Partner Center reported it (create answer or get-by-id).
pub fn record_tenant(st: &mut CustomerStatus, c: &PcCustomer, phase: ProvisioningPhase) {
    st.tenant_id = Some(c.id.clone());
    if c.commerce_id.is_some() {
        st.commerce_id = c.commerce_id.clone();
    }
    if let Some(d) = c.domain() {
        st.domain = Some(d.to_string());
    }
    if c.relationship_to_partner.is_some() {
        st.relationship_to_partner = c.relationship_to_partner.clone();
    }
    if c.associated_partner_id.is_some() {
        st.associated_partner_id = c.associated_partner_id.clone();
    }
    if let Some(name) = c.company_name().map(str::trim).filter(|n| !n.is_empty()) {
        // From the network: bounded like spec.tenant.new.companyName.
        st.company_name = Some(name.chars().take(256).collect());
    }
    if let Some(country) = country_of(c) {
        st.country = Some(country);
    }
    let p = st.provisioning.get_or_insert_with(Default::default);
    p.phase = Some(phase);
}

/// The tenant's ISO-2 country from Partner Center's answer (billing address, else company
/// address), or None when absent or not two letters.
pub fn country_of(c: &PcCustomer) -> Option<String> {
    let billing = c.billing_profile.as_ref().and_then(|b| b.default_address.as_ref());
    let company = c.company_profile.as_ref().and_then(|p| p.address.as_ref());
    [billing, company]
        .into_iter()
        .flatten()
        .filter_map(|a| a.country.as_deref())
        .map(str::trim)
        .find(|k| k.len() == 2 && k.chars().all(|ch| ch.is_ascii_alphabetic()))
        .map(str::to_ascii_uppercase)
}

/// Rule 15: records the placement in effect. A first placement (a tenant just provisioned, or one
/// provisioned before placements were recorded) is set without a move; `moved_from` (the rules
/// allowed a move from the recorded placement) appends a move, keeping the last [`MOVES_KEPT`].
pub fn place(
    st: &mut CustomerStatus,
    to: &crate::policy::Placement,
    moved_from: Option<&crate::policy::Placement>,
    now: jiff::Timestamp,
) -> Option<Move> {
    let to = Placement {
        reseller: to.reseller.clone(),
        plan: to.plan.clone(),
    };
    let previous = st.placement.replace(to.clone());
    let (Some(from), Some(_)) = (previous, moved_from) else {
        return None;
    };
    if from == to {
        return None;
    }
    let m = Move {
        from,
        to,
        at: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now),
    };
    st.moves.push(m.clone());
    let excess = st.moves.len().saturating_sub(MOVES_KEPT);
    st.moves.drain(..excess);
    Some(m)
}

/// Writes `st` only if the object is still at `obj`'s resourceVersion (409 otherwise): the pin
/// must be decided on the latest state, never on a cache that may not have our last write yet.
/// Returns the object as written.
pub async fn write_guarded(api: &Api<Customer>, obj: &Customer, st: &CustomerStatus) -> kube::Result<Customer> {
    let patch = serde_json::json!({
        "apiVersion": Customer::api_version(&()),
        "kind": Customer::kind(&()),
        "metadata": {"name": obj.name_any(), "resourceVersion": obj.resource_version()},
        "status": st,
    });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(reseller: &str, plan: &str) -> crate::policy::Placement {
        crate::policy::Placement {
            reseller: reseller.into(),
            plan: plan.into(),
        }
    }

    #[test]
    fn placements_and_moves_are_recorded_and_bounded() {
        let now = jiff::Timestamp::from_second(1_700_000_000).expect("time");
        // (recorded placement, placement now, moved_from given, move recorded, placement after)
        let rows = [
            (None, ("a", "p"), false, None, ("a", "p")),
            (Some(("a", "p")), ("a", "p"), false, None, ("a", "p")),
            (
                Some(("a", "p")),
                ("a", "q"),
                true,
                Some((("a", "p"), ("a", "q"))),
                ("a", "q"),
            ),
            (
                Some(("a", "p")),
                ("b", "p"),
                true,
                Some((("a", "p"), ("b", "p"))),
                ("b", "p"),
            ),
        ];
        for (recorded, now_at, moved, want_move, after) in rows {
            let mut st = CustomerStatus {
                placement: recorded.map(|(r, p)| Placement {
                    reseller: r.into(),
                    plan: p.into(),
                }),
                ..Default::default()
            };
            let from = recorded.map(|(r, p)| at(r, p));
            let got = place(
                &mut st,
                &at(now_at.0, now_at.1),
                moved.then_some(from.as_ref()).flatten(),
                now,
            );
            let got = got.map(|m| ((m.from.reseller, m.from.plan), (m.to.reseller, m.to.plan)));
            let want = want_move
                .map(|((fr, fp), (tr, tp))| ((fr.to_string(), fp.to_string()), (tr.to_string(), tp.to_string())));
            assert_eq!(got, want, "{recorded:?} -> {now_at:?}");
            let p = st.placement.expect("placed");
            assert_eq!((p.reseller.as_str(), p.plan.as_str()), after);
        }
        // Twelve moves keep the last ten, oldest first.
        let mut st = CustomerStatus::default();
        place(&mut st, &at("r0", "p"), None, now);
        for i in 1..=12 {
            let from = at(&format!("r{}", i - 1), "p");
            place(&mut st, &at(&format!("r{i}"), "p"), Some(&from), now);
        }
        let tos: Vec<&str> = st.moves.iter().map(|m| m.to.reseller.as_str()).collect();
        assert_eq!(tos, ["r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12"]);
    }

    #[test]
    fn the_country_is_taken_only_when_it_is_two_letters() {
        // (billing country, company country, recorded)
        let rows = [
            (Some("nz"), None, Some("NZ")),
            (None, Some("AU"), Some("AU")),
            (Some("NZL"), Some("AU"), Some("AU")),
            (Some("<script>"), None, None),
            (None, None, None),
        ];
        for (billing, company, want) in rows {
            let c: PcCustomer = serde_json::from_value(serde_json::json!({
                "id": "t", "billingProfile": {"defaultAddress": {"country": billing}},
                "companyProfile": {"address": {"country": company}},
            }))
            .expect("customer");
            assert_eq!(country_of(&c).as_deref(), want, "{billing:?} {company:?}");
        }
    }

    #[test]
    fn conditions_are_set_for_the_generation_and_the_pin_is_kept() {
        let mut st = CustomerStatus {
            connection: Some(crate::api::ConnectionRef {
                namespace: "csp-system".into(),
                name: "nz".into(),
            }),
            ..Default::default()
        };
        let c: PcCustomer = serde_json::from_value(serde_json::json!({
            "id": "t-1", "commerceId": "cm-1", "companyProfile": {"domain": "w.onmicrosoft.com"},
            "relationshipToPartner": "reseller", "associatedPartnerId": "r-1",
        }))
        .expect("customer");
        record_tenant(&mut st, &c, ProvisioningPhase::Created);
        let now = jiff::Timestamp::now();
        let st = with_conditions(
            st,
            Some(3),
            Verdict::new(ConditionStatus::True, reasons::PROVISIONED, "ok"),
            Some(Verdict::new(ConditionStatus::True, reasons::PROVISIONED, "ok")),
            now,
        );
        assert_eq!(st.observed_generation, Some(3));
        assert_eq!(st.connection.as_ref().map(|c| c.name.as_str()), Some("nz"));
        assert_eq!(
            (
                st.tenant_id.as_deref(),
                st.commerce_id.as_deref(),
                st.domain.as_deref(),
                st.relationship_to_partner.as_deref(),
                st.associated_partner_id.as_deref()
            ),
            (
                Some("t-1"),
                Some("cm-1"),
                Some("w.onmicrosoft.com"),
                Some("reseller"),
                Some("r-1")
            )
        );
        assert_eq!(
            st.provisioning.as_ref().and_then(|p| p.phase),
            Some(ProvisioningPhase::Created)
        );
        let ready = conditions::find_condition(&st.conditions, "Ready").expect("ready");
        assert_eq!((ready.status.as_str(), ready.observed_generation), ("True", Some(3)));
        assert_eq!(provisioned_as_is(&st).0, ConditionStatus::True);
        assert_eq!(provisioned_as_is(&CustomerStatus::default()).0, ConditionStatus::False);
    }
}
