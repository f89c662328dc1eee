//! The generated channel for Customers: three connections (two of the provider, one of a reseller
//! that overrides a plan with it), two plans that allow tenant creation, four resellers with their
//! own namespaces, and N Customers with distinct domains spread over them. The same on every run.

use super::PROVIDER_NS;
use kube::api::ApiResource;
use partner_center_operator::api::{Customer, CustomerPlan, PartnerCenterConnection, Reseller};
use serde_json::{Value, json};

pub struct Conn {
    pub namespace: &'static str,
    pub name: &'static str,
    pub tenant: &'static str,
    pub client_id: &'static str,
    pub region: &'static str,
    pub country: &'static str,
}

/// The connections: each its own emulator partner. The last one is the reseller's own account.
pub const CONNS: [Conn; 3] = [
    Conn {
        namespace: PROVIDER_NS,
        name: "pc-de-production",
        tenant: "bc000000-0000-4000-8000-00000000be01",
        client_id: "ac000000-0000-4000-8000-00000000be01",
        region: "DE",
        country: "DE",
    },
    Conn {
        namespace: PROVIDER_NS,
        name: "pc-us-production",
        tenant: "bc000001-0000-4000-8000-00000000be01",
        client_id: "ac000001-0000-4000-8000-00000000be01",
        region: "US",
        country: "US",
    },
    Conn {
        namespace: "reseller-bench-r1",
        name: "r1-de-production",
        tenant: "bc000002-0000-4000-8000-00000000be01",
        client_id: "ac000002-0000-4000-8000-00000000be01",
        region: "DE",
        country: "DE",
    },
];

/// (plan, index of its connection in [`CONNS`]).
pub const PLANS: [(&str, usize); 2] = [("de-direct-production", 0), ("us-direct-production", 1)];

/// (reseller, namespace, plan index overridden with connection 2): the root and three below it.
pub const RESELLERS: [(&str, &str, Option<usize>); 4] = [
    ("bench-root", PROVIDER_NS, None),
    ("bench-r1", "reseller-bench-r1", Some(0)),
    ("bench-r2", "reseller-bench-r2", None),
    ("bench-r3", "reseller-bench-r3", None),
];

/// Every namespace the operator works in (the provider namespace first).
pub fn namespaces() -> Vec<&'static str> {
    RESELLERS.iter().map(|r| r.1).collect()
}

pub struct Cust {
    pub namespace: &'static str,
    pub name: String,
    pub plan: usize,
    /// Index in [`CONNS`] of the connection the Customer is provisioned through.
    pub connection: usize,
}

impl Cust {
    pub fn domain(&self) -> String {
        format!("{}.onmicrosoft.com", self.name.replace('-', ""))
    }
}

/// `n` Customers round-robin over resellers and plans (`prefix` keeps the floor's apart).
pub fn customers(n: usize, prefix: &str) -> Vec<Cust> {
    (0..n)
        .map(|i| {
            let (_, namespace, override_plan) = RESELLERS[i % RESELLERS.len()];
            let plan = (i / RESELLERS.len()) % PLANS.len();
            let connection = if override_plan == Some(plan) { 2 } else { PLANS[plan].1 };
            Cust {
                namespace,
                name: format!("{prefix}-{i:05}"),
                plan,
                connection,
            }
        })
        .collect()
}

/// Two users per partner: the operator's consenting admin and the floor client's.
pub fn fixtures_yaml() -> String {
    // A high rate limit: the figures are the operator's, not the emulator's throttling.
    let mut y =
        String::from("settings:\n  strictRefreshTokenRotation: true\n  rateLimitPerMinute: 1000000\npartners:\n");
    for (c, conn) in CONNS.iter().enumerate() {
        y.push_str(&format!(
            "  - tenantId: {t}\n    companyName: Bench Partner {c}\n    domain: benchpartner{c}.onmicrosoft.com\n    email: ops@benchpartner{c}.example\n    country: {country}\n    mpnId: \"{mpn}\"\n    partnerType: DirectBill\n    apps:\n      - {{ clientId: {app}, clientSecret: bench-secret-{c} }}\n    users:\n      - {{ upn: admin@benchpartner{c}.onmicrosoft.com, mfa: true, refreshToken: bench-rt-{c} }}\n      - {{ upn: floor@benchpartner{c}.onmicrosoft.com, mfa: true, refreshToken: {floor} }}\n    generatedCustomers: 10\n",
            t = conn.tenant,
            country = conn.country,
            mpn = 7_100_000 + c,
            app = conn.client_id,
            floor = floor_refresh_token(c),
        ));
    }
    y
}

pub fn floor_refresh_token(c: usize) -> String {
    format!("floor-rt-{c}")
}

pub fn client_secret(c: usize) -> String {
    format!("bench-secret-{c}")
}

type Obj = (Option<String>, Value, ApiResource);

pub fn connection_objects(emulator: &str) -> Vec<Obj> {
    let mut out = Vec::new();
    for (c, conn) in CONNS.iter().enumerate() {
        let secret = format!("{}-credentials", conn.name);
        out.push((
            Some(conn.namespace.to_string()),
            json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": secret, "namespace": conn.namespace},
                "stringData": {"clientId": conn.client_id, "clientSecret": client_secret(c), "refreshToken": format!("bench-rt-{c}")}}),
            ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()),
        ));
        out.push((
            Some(conn.namespace.to_string()),
            json!({"apiVersion": "channel.csp.dev/v1alpha1", "kind": "PartnerCenterConnection",
                "metadata": {"name": conn.name, "namespace": conn.namespace},
                "spec": {"partnerTenantId": conn.tenant, "region": conn.region, "cspType": "Direct", "environment": "Production",
                    "auth": {"mode": "AppPlusUser", "secretRef": {"name": secret}},
                    "endpoints": {"partnerCenter": format!("http://{emulator}"), "login": format!("http://{emulator}")},
                    "syncInterval": "1m"}}),
            ApiResource::erase::<PartnerCenterConnection>(&()),
        ));
    }
    out
}

pub fn plan_objects() -> Vec<Obj> {
    PLANS
        .iter()
        .map(|(name, c)| {
            let conn = &CONNS[*c];
            (
                None,
                json!({"apiVersion": "channel.csp.dev/v1alpha1", "kind": "CustomerPlan", "metadata": {"name": name},
                    "spec": {"displayName": format!("{} Direct Production", conn.region), "region": conn.region,
                        "cspType": "Direct", "environment": "Production", "allowTenantCreation": true,
                        "connectionRef": {"namespace": conn.namespace, "name": conn.name}}}),
                ApiResource::erase::<CustomerPlan>(&()),
            )
        })
        .collect()
}

pub fn reseller_objects() -> Vec<Obj> {
    RESELLERS
        .iter()
        .enumerate()
        .map(|(i, (name, namespace, override_plan))| {
            let grants: Vec<Value> = PLANS
                .iter()
                .enumerate()
                .map(|(p, (plan, _))| {
                    if *override_plan == Some(p) {
                        json!({"plan": plan, "connectionOverride": {"namespace": CONNS[2].namespace, "name": CONNS[2].name}})
                    } else {
                        json!({"plan": plan})
                    }
                })
                .collect();
            let mut spec = json!({"displayName": format!("Bench reseller {i}"), "shortName": format!("BC{i}"),
                "namespace": namespace, "services": {"azureAD": {"enabled": true, "customerPlans": grants}}});
            if i > 0 {
                spec["parent"] = json!(RESELLERS[0].0);
            }
            (
                None,
                json!({"apiVersion": "channel.csp.dev/v1alpha1", "kind": "Reseller", "metadata": {"name": name}, "spec": spec}),
                ApiResource::erase::<Reseller>(&()),
            )
        })
        .collect()
}

/// The Customer object of `c`: a new tenant with a valid address in the plan's country.
pub fn customer_object(c: &Cust) -> Obj {
    let country = CONNS[PLANS[c.plan].1].country;
    let prefix = c.name.replace('-', "");
    let mut address = json!({"addressLine1": "1 Main Street", "city": "Somewhere", "country": country,
        "firstName": "Ana", "lastName": "Smith", "phoneNumber": "6495550101"});
    if country == "US" {
        address["postalCode"] = json!("98052");
        address["state"] = json!("WA");
    } else {
        address["postalCode"] = json!("10117");
    }
    (
        Some(c.namespace.to_string()),
        json!({"apiVersion": "channel.csp.dev/v1alpha1", "kind": "Customer",
            "metadata": {"name": c.name, "namespace": c.namespace},
            "spec": {"plan": PLANS[c.plan].0, "tenant": {"new": {"domainPrefix": prefix,
                "companyName": format!("Customer {}", c.name), "email": format!("it@{prefix}.example"),
                "culture": if country == "US" { "en-US" } else { "de-DE" },
                "language": if country == "US" { "en" } else { "de" }, "address": address}}}}),
        ApiResource::erase::<Customer>(&()),
    )
}
