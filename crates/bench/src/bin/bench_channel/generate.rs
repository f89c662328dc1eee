//! The generated channel: connections (each its own emulator partner), plans and a reseller tree,
//! the same on every run, and the objects and fixtures that describe it.

use super::PROVIDER_NS;
use anyhow::{Result, bail};
use kube::api::ApiResource;
use partner_center_operator::api::{CustomerPlan, PartnerCenterConnection, Reseller};
use serde_json::{Value, json};

/// (region, cspType, environment, partner country) of each connection pair.
const PROFILES: [(&str, &str, &str, &str); 10] = [
    ("NZ", "IndirectProvider", "Production", "NZ"),
    ("EUR", "Direct", "Production", "DE"),
    ("DE", "Direct", "Production", "DE"),
    ("NAM", "IndirectProvider", "Production", "US"),
    ("AU", "Direct", "Production", "AU"),
    ("APAC", "IndirectProvider", "Production", "JP"),
    ("GB", "Direct", "Production", "GB"),
    ("FR", "IndirectProvider", "Production", "FR"),
    ("EUR", "Direct", "Sandbox", "DE"),
    ("US", "Direct", "Sandbox", "US"),
];

/// Deterministic generator (xorshift64*): the same channel on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// `k` distinct items of `from` (all of them when there are fewer).
    fn pick(&mut self, from: &[usize], k: usize) -> Vec<usize> {
        let mut v = from.to_vec();
        let k = k.min(v.len());
        for i in 0..k {
            let j = i + self.below(v.len() - i);
            v.swap(i, j);
        }
        v.truncate(k);
        v
    }
}

pub struct Conn {
    pub name: String,
    pub tenant: String,
    pub client_id: String,
    pub profile: (&'static str, &'static str, &'static str, &'static str),
}

pub struct Plan {
    pub name: String,
    pub connection: usize,
}

pub struct Rsl {
    pub name: String,
    pub parent: Option<usize>,
    pub grants: Vec<usize>,
    /// Plan index overridden with the pair partner of the plan's connection.
    pub override_plan: Option<usize>,
    pub demo: bool,
}

pub struct Channel {
    pub conns: Vec<Conn>,
    pub plans: Vec<Plan>,
    pub resellers: Vec<Rsl>,
}

impl Channel {
    /// Plans granted per reseller, on average.
    pub fn grants_per_reseller(&self) -> f64 {
        let grants: usize = self.resellers.iter().map(|r| r.grants.len()).sum();
        grants as f64 / self.resellers.len().max(1) as f64
    }
}

pub fn generate(n_conn: usize, n_plans: usize, n_rsl: usize) -> Result<Channel> {
    if n_conn < 4 || !n_conn.is_multiple_of(2) || n_plans < 2 || n_rsl < 21 + 20 * 24 {
        bail!("--connections must be an even number >= 4, --plans >= 2, --resellers >= 501");
    }
    let conns: Vec<Conn> = (0..n_conn)
        .map(|c| {
            let profile = PROFILES[(c / 2) % PROFILES.len()];
            Conn {
                name: format!("pc-{c:02}-{}-{}", profile.0.to_lowercase(), profile.2.to_lowercase()),
                tenant: format!("be{c:06x}-0000-4000-8000-00000000be01"),
                client_id: format!("a0{c:06x}-0000-4000-8000-00000000be01"),
                profile,
            }
        })
        .collect();
    // Plan 0 is the only plan through connection 0 (the fan-out target); connection 1 is its spare.
    let plans: Vec<Plan> = (0..n_plans)
        .map(|j| {
            let connection = if j == 0 { 0 } else { 2 + (j - 1) % (n_conn - 2) };
            let (region, csp, env, _) = conns[connection].profile;
            let word = if csp == "Direct" { "direct" } else { "indirect" };
            Plan {
                name: format!("{}-{word}-{}-{j:03}", region.to_lowercase(), env.to_lowercase()),
                connection,
            }
        })
        .collect();
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    // The root may hold at most 64 grants (CRD limit) and descendants only get what it has.
    let root_plans: Vec<usize> = (0..n_plans.min(64)).collect();
    let mut resellers = vec![Rsl {
        name: "bench-root".into(),
        parent: None,
        grants: root_plans.clone(),
        override_plan: None,
        demo: false,
    }];
    // Distributors 0..3 (and their whole subtrees) hold plan 0: about a thousand resellers.
    let hot = |d: usize| d < 4;
    let level3_per = 24;
    let level4_total = n_rsl - 1 - 20 - 20 * level3_per;
    let mut level3 = Vec::new();
    for d in 0..20 {
        let others: Vec<usize> = root_plans.iter().copied().filter(|p| *p != 0).collect();
        let mut grants = rng.pick(&others, 29);
        if hot(d) {
            grants.insert(0, 0);
        }
        resellers.push(Rsl {
            name: format!("bench-d{d:02}"),
            parent: Some(0),
            grants,
            override_plan: None,
            demo: false,
        });
        let di = resellers.len() - 1;
        for k in 0..level3_per {
            let parent_grants: Vec<usize> = resellers[di].grants.iter().copied().filter(|p| *p != 0).collect();
            let mut grants = rng.pick(&parent_grants, 7);
            if hot(d) {
                grants.insert(0, 0);
            }
            resellers.push(Rsl {
                name: format!("bench-d{d:02}-r{k:02}"),
                parent: Some(di),
                grants,
                override_plan: None,
                demo: false,
            });
            level3.push((resellers.len() - 1, hot(d)));
        }
    }
    for i in 0..level4_total {
        let (pi, is_hot) = level3[i % level3.len()];
        let parent_grants: Vec<usize> = resellers[pi].grants.iter().copied().filter(|p| *p != 0).collect();
        let k = 2 + rng.below(2);
        let mut grants = rng.pick(&parent_grants, k);
        if is_hot {
            grants.insert(0, 0);
        }
        // A few Demo resellers (sandbox-only) granted production plans: legitimately not Ready.
        let demo = !is_hot && i % 200 == 7;
        let parent_name = resellers[pi].name.clone();
        resellers.push(Rsl {
            name: format!("{parent_name}-s{:03}", i / level3.len()),
            parent: Some(pi),
            grants,
            override_plan: None,
            demo,
        });
    }
    // 10 % of the resellers override one grant (never plan 0) with the pair partner connection.
    for (i, r) in resellers.iter_mut().enumerate().skip(1) {
        if i % 10 == 3
            && let Some(&p) = r.grants.iter().find(|p| **p != 0)
        {
            r.override_plan = Some(p);
        }
    }
    Ok(Channel {
        conns,
        plans,
        resellers,
    })
}

pub fn fixtures_yaml(ch: &Channel) -> String {
    let mut y = String::from("settings:\n  strictRefreshTokenRotation: true\n  rateLimitPerMinute: 500\npartners:\n");
    for (c, conn) in ch.conns.iter().enumerate() {
        let (_, csp, env, country) = conn.profile;
        let ptype = if csp == "Direct" {
            "DirectBill"
        } else {
            "IndirectProvider"
        };
        y.push_str(&format!(
            "  - tenantId: {t}\n    companyName: Bench Partner {c}\n    domain: bench{c}.onmicrosoft.com\n    email: ops@bench{c}.example\n    country: {country}\n    mpnId: \"{mpn}\"\n    partnerType: {ptype}\n    sandbox: {sb}\n    apps:\n      - {{ clientId: {app}, clientSecret: bench-secret-{c} }}\n    users:\n      - {{ upn: admin@bench{c}.onmicrosoft.com, mfa: true, refreshToken: bench-rt-{c} }}\n    generatedCustomers: 40\n",
            t = conn.tenant,
            mpn = 7_000_000 + c,
            sb = env == "Sandbox",
            app = conn.client_id,
        ));
    }
    y
}

pub fn connection_objects(ch: &Channel, emulator: &str) -> Vec<(Option<String>, Value, ApiResource)> {
    let mut out = Vec::new();
    for (c, conn) in ch.conns.iter().enumerate() {
        let (region, csp, env, _) = conn.profile;
        out.push((
            Some(PROVIDER_NS.to_string()),
            json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": format!("{}-credentials", conn.name), "namespace": PROVIDER_NS},
                "stringData": {"clientId": conn.client_id, "clientSecret": format!("bench-secret-{c}"), "refreshToken": format!("bench-rt-{c}")}}),
            ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()),
        ));
        out.push((
            Some(PROVIDER_NS.to_string()),
            json!({"apiVersion": "channel.csp.dev/v1alpha1", "kind": "PartnerCenterConnection",
                "metadata": {"name": conn.name, "namespace": PROVIDER_NS},
                "spec": {"partnerTenantId": conn.tenant, "region": region, "cspType": csp, "environment": env,
                    "auth": {"mode": "AppPlusUser", "secretRef": {"name": format!("{}-credentials", conn.name)}},
                    "endpoints": {"partnerCenter": format!("http://{emulator}"), "login": format!("http://{emulator}")},
                    "syncInterval": "1m"}}),
            ApiResource::erase::<PartnerCenterConnection>(&()),
        ));
    }
    out
}

pub fn plan_objects(ch: &Channel) -> Vec<(Option<String>, Value, ApiResource)> {
    ch.plans
        .iter()
        .map(|p| {
            let (region, csp, env, _) = ch.conns[p.connection].profile;
            let word = if csp == "Direct" { "Direct" } else { "Indirect" };
            (
                None,
                json!({"apiVersion": "channel.csp.dev/v1alpha1", "kind": "CustomerPlan", "metadata": {"name": p.name},
                    "spec": {"displayName": format!("{region} {word} {env}"), "region": region, "cspType": csp, "environment": env,
                        "connectionRef": {"namespace": PROVIDER_NS, "name": ch.conns[p.connection].name}}}),
                ApiResource::erase::<CustomerPlan>(&()),
            )
        })
        .collect()
}

pub fn reseller_objects(ch: &Channel) -> Vec<(Option<String>, Value, ApiResource)> {
    ch.resellers
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let grants: Vec<Value> = r
                .grants
                .iter()
                .map(|&p| {
                    if r.override_plan == Some(p) {
                        let partner = ch.plans[p].connection ^ 1;
                        json!({"plan": ch.plans[p].name, "connectionOverride": {"namespace": PROVIDER_NS, "name": ch.conns[partner].name}})
                    } else {
                        json!({"plan": ch.plans[p].name})
                    }
                })
                .collect();
            let mut spec = json!({"displayName": format!("Bench reseller {i}"), "shortName": format!("B{i:05}"),
                "services": {"azureAD": {"enabled": true, "customerPlans": grants}}});
            match r.parent {
                None => spec["namespace"] = json!(PROVIDER_NS),
                Some(p) => spec["parent"] = json!(ch.resellers[p].name),
            }
            if r.demo {
                spec["customerType"] = json!("Demo");
            }
            (None, json!({"apiVersion": "channel.csp.dev/v1alpha1", "kind": "Reseller", "metadata": {"name": r.name}, "spec": spec}), ApiResource::erase::<Reseller>(&()))
        })
        .collect()
}
