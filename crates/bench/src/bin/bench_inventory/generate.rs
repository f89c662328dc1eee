//! The generated channel for the inventory benchmark: one emulator partner (an Indirect provider,
//! New Zealand, Production) behind one PartnerCenterConnection, one plan, the root Reseller and one
//! indirect reseller below it, and the declared Customers adopting tenants the account lists. The
//! same on every run; only the number of customers in the account changes.

use super::PROVIDER_NS;
use kube::api::ApiResource;
use partner_center_operator::api::{Customer, CustomerPlan, PartnerCenterConnection, Reseller};
use serde_json::{Value, json};

pub const PARTNER_TENANT: &str = "bd000000-0000-4000-8000-00000000be01";
pub const CLIENT_ID: &str = "ad000000-0000-4000-8000-00000000be01";
pub const CLIENT_SECRET: &str = "bench-inv-secret";
pub const OPERATOR_REFRESH_TOKEN: &str = "bench-inv-rt";
/// The floor client's own user of the partner: a second refresh token, so the floor never
/// rotates (and so invalidates) the operator's.
pub const FLOOR_REFRESH_TOKEN: &str = "bench-inv-floor-rt";
pub const CONNECTION: &str = "pc-nz-production";
pub const PLAN: &str = "nz-indirect-production";
pub const ROOT_RESELLER: &str = "bench-root";
/// An indirect reseller of the partner, declared by a Reseller: the sync's reseller listing and
/// the expected-association rule have something to check.
const INDIRECT_RESELLER: &str = "bd000001-0000-4000-8000-00000000be01";

/// The partner with `customers` generated customers (country NZ) and two indirect resellers.
pub fn fixtures_yaml(customers: usize) -> String {
    // A high rate limit: the figures are the operator's, not the emulator's throttling. Next links
    // alternate between `/v1/customers` and `/customers`, as Partner Center's do.
    format!(
        "settings:\n  strictRefreshTokenRotation: true\n  rateLimitPerMinute: 1000000\n  nextLinkStyle: alternate\npartners:\n  - tenantId: {PARTNER_TENANT}\n    companyName: Bench Inventory Partner\n    domain: benchinventory.onmicrosoft.com\n    email: ops@benchinventory.example\n    country: NZ\n    mpnId: \"7200000\"\n    partnerType: IndirectProvider\n    sandbox: false\n    apps:\n      - {{ clientId: {CLIENT_ID}, clientSecret: {CLIENT_SECRET} }}\n    users:\n      - {{ upn: admin@benchinventory.onmicrosoft.com, mfa: true, refreshToken: {OPERATOR_REFRESH_TOKEN} }}\n      - {{ upn: floor@benchinventory.onmicrosoft.com, mfa: true, refreshToken: {FLOOR_REFRESH_TOKEN} }}\n    generatedCustomers: {customers}\n    indirectResellers:\n      - {{ id: {INDIRECT_RESELLER}, name: Bench Indirect One, mpnId: \"7200001\", location: NZ, state: Active }}\n      - {{ id: bd000002-0000-4000-8000-00000000be01, name: Bench Indirect Two, mpnId: \"7200002\", location: NZ, state: Active }}\n"
    )
}

type Obj = (Option<String>, Value, ApiResource);

/// The Secret and the connection (Indirect provider, Production, App+User, synced every minute).
pub fn connection_objects(emulator: &str) -> Vec<Obj> {
    let secret = format!("{CONNECTION}-credentials");
    vec![
        (
            Some(PROVIDER_NS.to_string()),
            json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": secret, "namespace": PROVIDER_NS},
                "stringData": {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "refreshToken": OPERATOR_REFRESH_TOKEN}}),
            ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()),
        ),
        (
            Some(PROVIDER_NS.to_string()),
            json!({"apiVersion": "channel.csp.dev/v1alpha1", "kind": "PartnerCenterConnection",
                "metadata": {"name": CONNECTION, "namespace": PROVIDER_NS},
                "spec": {"partnerTenantId": PARTNER_TENANT, "region": "NZ", "cspType": "IndirectProvider",
                    "environment": "Production", "auth": {"mode": "AppPlusUser", "secretRef": {"name": secret}},
                    "endpoints": {"partnerCenter": format!("http://{emulator}"), "login": format!("http://{emulator}")},
                    "syncInterval": "1m"}}),
            ApiResource::erase::<PartnerCenterConnection>(&()),
        ),
    ]
}

pub fn plan_objects() -> Vec<Obj> {
    vec![(
        None,
        json!({"apiVersion": "channel.csp.dev/v1alpha1", "kind": "CustomerPlan", "metadata": {"name": PLAN},
            "spec": {"displayName": "NZ Indirect Production", "region": "NZ", "cspType": "IndirectProvider",
                "environment": "Production", "allowTenantCreation": true,
                "connectionRef": {"namespace": PROVIDER_NS, "name": CONNECTION}}}),
        ApiResource::erase::<CustomerPlan>(&()),
    )]
}

/// The root (the provider) and one indirect reseller below it, both granted the plan.
pub fn reseller_objects() -> Vec<Obj> {
    let grants = json!({"azureAD": {"enabled": true, "customerPlans": [{"plan": PLAN}]}});
    vec![
        (
            None,
            json!({"apiVersion": "channel.csp.dev/v1alpha1", "kind": "Reseller", "metadata": {"name": ROOT_RESELLER},
                "spec": {"displayName": "Bench provider", "shortName": "BINV", "namespace": PROVIDER_NS, "services": grants}}),
            ApiResource::erase::<Reseller>(&()),
        ),
        (
            None,
            json!({"apiVersion": "channel.csp.dev/v1alpha1", "kind": "Reseller", "metadata": {"name": "bench-indirect-one"},
                "spec": {"displayName": "Bench Indirect One", "shortName": "BIN1", "parent": ROOT_RESELLER, "region": "NZ",
                    "indirectReseller": {"tenantId": INDIRECT_RESELLER, "mpnId": "7200001"}, "services": grants}}),
            ApiResource::erase::<Reseller>(&()),
        ),
    ]
}

/// A Customer of the root reseller adopting tenant `tenant_id`, which the account lists (what
/// `partner-center-operator import` writes for an undeclared customer, src/cli/import.rs).
pub fn customer_object(i: usize, tenant_id: &str) -> Obj {
    let name = format!("inv-{i:05}");
    (
        Some(PROVIDER_NS.to_string()),
        json!({"apiVersion": "channel.csp.dev/v1alpha1", "kind": "Customer",
            "metadata": {"name": name, "namespace": PROVIDER_NS},
            "spec": {"reseller": ROOT_RESELLER, "plan": PLAN, "tenant": {"existing": {"tenantId": tenant_id}}}}),
        ApiResource::erase::<Customer>(&()),
    )
}
