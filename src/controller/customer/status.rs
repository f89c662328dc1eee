//! The Customer's status as each stage leaves it, and the writes. Every write carries the whole
//! status (server-side apply, one field manager), so what a stage does not touch — above all the
//! pinned `connection` and `source` (rule 15) — is copied from the status it started from.

use crate::api::conditions::{self, ConditionStatus};
use crate::api::{Customer, CustomerStatus, ProvisioningPhase};
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
    let p = st.provisioning.get_or_insert_with(Default::default);
    p.phase = Some(phase);
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
