//! The floor client: what Partner Center and the API server themselves cost for what the operator
//! did per Customer. Per Customer, in order: create the Customer object (server-side apply), the
//! four Partner Center calls a new tenant needs (domain look-up, domain check, address validation,
//! create, through the operator's own Partner Center client and request body), then as many status
//! writes as the operator made per Customer. At most `calls_per_connection` Customers at once per
//! connection (the operator's `--customer-calls-per-connection`), all connections in parallel.

use super::generate::{self, CONNS, Cust};
use anyhow::{Context as _, Result, bail};
use futures::{StreamExt, stream};
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use partner_center_operator::api::{AuthMode, Customer, NewTenant};
use partner_center_operator::controller::customer::{check, create};
use partner_center_operator::partner_center::PartnerCenterApi;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Floor {
    pub elapsed: Duration,
    pub status_writes: u64,
    pub pc_calls: u64,
}

/// One Partner Center client per connection, as the floor user of its partner (App+User).
fn clients(emulator_base: &str) -> Result<Vec<Arc<dyn PartnerCenterApi>>> {
    CONNS
        .iter()
        .enumerate()
        .map(|(c, conn)| {
            let client = pco_bench::emulator_client(
                emulator_base,
                conn.tenant,
                AuthMode::AppPlusUser,
                conn.client_id,
                &generate::client_secret(c),
                Some(&generate::floor_refresh_token(c)),
            )?;
            Ok(Arc::new(client) as Arc<dyn PartnerCenterApi>)
        })
        .collect()
}

/// Runs the floor over `customers` (objects not yet created), `writes_total` status writes spread
/// over them, each write re-applying `status` (an operator-written Customer status, a real write of
/// the same size) with a marker in the Ready message.
pub async fn run(
    admin: &kube::Client,
    emulator_base: &str,
    customers: &[Cust],
    writes_total: u64,
    status: &Value,
    calls_per_connection: usize,
) -> Result<Floor> {
    let pcs = clients(emulator_base)?;
    let n = customers.len().max(1) as u64;
    let (base, extra) = (writes_total / n, writes_total % n);
    let started = Instant::now();
    let per_conn = (0..CONNS.len()).map(|c| {
        let mine: Vec<(usize, &Cust)> = customers
            .iter()
            .enumerate()
            .filter(|(_, k)| k.connection == c)
            .collect();
        let pc = pcs[c].clone();
        async move {
            let done: Vec<Result<(u64, u64)>> = stream::iter(mine)
                .map(|(i, k)| {
                    let writes = base + u64::from((i as u64) < extra);
                    one(admin, pc.as_ref(), k, writes, status)
                })
                .buffer_unordered(calls_per_connection.max(1))
                .collect()
                .await;
            done.into_iter()
                .try_fold((0u64, 0u64), |(w, p), r| r.map(|(a, b)| (w + a, p + b)))
        }
    });
    let mut status_writes = 0;
    let mut pc_calls = 0;
    for r in futures::future::join_all(per_conn).await {
        let (w, p) = r?;
        status_writes += w;
        pc_calls += p;
    }
    Ok(Floor {
        elapsed: started.elapsed(),
        status_writes,
        pc_calls,
    })
}

/// One Customer: object, the four calls, `writes` status writes. (status writes, calls) made.
async fn one(
    admin: &kube::Client,
    pc: &dyn PartnerCenterApi,
    k: &Cust,
    writes: u64,
    status: &Value,
) -> Result<(u64, u64)> {
    let (_, obj, ar) = generate::customer_object(k);
    let api: Api<DynamicObject> = Api::namespaced_with(admin.clone(), k.namespace, &ar);
    api.patch(&k.name, &PatchParams::apply("bench-floor").force(), &Patch::Apply(&obj))
        .await
        .with_context(|| format!("floor: create Customer {}", k.name))?;
    let new: NewTenant = serde_json::from_value(obj["spec"]["tenant"]["new"].clone())?;
    let domain = create::domain_of(&new);
    if !pc.customers_by_domain(&domain).await?.is_empty() {
        bail!("floor: {domain} already exists at the emulator");
    }
    if !pc.domain_available(&domain).await? {
        bail!("floor: {domain} is taken");
    }
    pc.validate_address(&check::address_of(&new)).await?;
    pc.create_customer(&create::new_customer(&new, None), uuid::Uuid::new_v4())
        .await
        .with_context(|| format!("floor: create {domain}"))?;
    let ar = ApiResource::erase::<Customer>(&());
    for round in 0..writes {
        let mut st = status.clone();
        if let Some(conds) = st["conditions"].as_array_mut() {
            for c in conds.iter_mut().filter(|c| c["type"] == "Ready") {
                let m = c["message"].as_str().unwrap_or_default().to_string();
                c["message"] = json!(format!("{m} [floor {round}]"));
            }
        }
        let patch = json!({"apiVersion": ar.api_version, "kind": ar.kind, "status": st});
        api.patch_status(
            &k.name,
            &PatchParams::apply("bench-floor").force(),
            &Patch::Apply(&patch),
        )
        .await
        .with_context(|| format!("floor: status of {}", k.name))?;
    }
    Ok((writes, 4))
}
