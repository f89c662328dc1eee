//! Reseller reconciler: publish, for every granted plan, the one connection provisioning must use
//! (or why there is none), the ancestors, warnings and conditions. The decisions are `policy`'s.

use super::cached::CachedReseller;
use super::context::Context;
use super::error::Result;
use super::status;
use crate::api::conditions;
use crate::api::{ConnectionBinding, EffectivePlan, Reseller, ResellerStatus};
use crate::policy::{self, Finding, Verdict};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

pub const KIND: &str = "Reseller";

pub async fn reconcile(reseller: Arc<CachedReseller>, ctx: Arc<Context>) -> Result<Action> {
    let reseller = ctx.after_first_verdicts(reseller, &ctx.world.resellers).await;
    let name = reseller.name_any();
    let api: Api<Reseller> = Api::all(ctx.client.clone());
    // Evaluate this reseller only, and let go of the shared evaluator before any await: reconciles
    // in flight must not keep old snapshots alive (memory at thousands of objects).
    let (eval, display_names) = {
        // Bindings aside: the status write that records them is not a change to wait for.
        let own = reseller.facts.without_bindings();
        let evaluator = ctx
            .world
            .evaluated_seeing(|s| s.resellers.get(&name).map(|r| r.without_bindings()).as_ref() == Some(&own));
        let Some(eval) = evaluator.reseller(&name) else {
            return Ok(Action::requeue(Duration::from_secs(5)));
        };
        let plans = &evaluator.snapshot().plans;
        let display_names: Vec<Option<String>> = eval
            .effective_plans
            .iter()
            .map(|p| plans.get(&p.plan).map(|f| f.display_name.clone()))
            .collect();
        (eval, display_names)
    };
    if reseller.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let generation = reseller.metadata.generation;
    let now = jiff::Timestamp::now();
    let current = reseller.status.as_deref();
    // The cache keeps the current status in brief: everything but the conditions' transition
    // times is recomputed here.
    let mut st = ResellerStatus {
        conditions: current.map(|b| b.conditions()).unwrap_or_default(),
        ..Default::default()
    };
    st.observed_generation = generation;
    st.ancestors = eval.ancestors.clone();
    st.effective_plans = eval
        .effective_plans
        .iter()
        .zip(display_names)
        .map(|(p, display_name)| effective_plan(p, display_name))
        .collect();
    st.warnings = eval.warnings.iter().map(warning_text).collect();
    st.warning_count = Some(i32::try_from(st.warnings.len()).unwrap_or(i32::MAX));
    st.plans = Some(plans_column(&st.effective_plans));
    let c = &mut st.conditions;
    for (type_, v) in [
        (conditions::types::HIERARCHY_VALID, &eval.hierarchy_valid),
        (conditions::types::PLANS_VALID, &eval.plans_valid),
        (conditions::types::READY, &eval.ready),
    ] {
        set(c, type_, v, generation, now);
    }
    let written = status::publish(ctx.publisher(), &api, reseller.as_ref(), KIND, "Resolve", current, &st).await?;
    if written == status::Written::Patched {
        for w in eval
            .warnings
            .iter()
            .filter(|w| !current.is_some_and(|b| b.had_warning(&warning_text(w))))
        {
            ctx.events
                .publish(reseller.as_ref(), true, &w.reason, "Resolve", w.message.clone());
        }
    }
    Ok(Action::requeue(super::jitter(Duration::from_secs(3600))))
}

pub fn error_policy(reseller: Arc<CachedReseller>, error: &super::error::Error, ctx: Arc<Context>) -> Action {
    super::error_policy(KIND, reseller.as_ref(), error, &ctx)
}

fn set(
    c: &mut Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
    type_: &str,
    v: &Verdict,
    generation: Option<i64>,
    now: jiff::Timestamp,
) {
    conditions::set(c, type_, v.status, &v.reason, &v.message, generation, now);
}

/// `usable/granted`, for the Plans column.
fn plans_column(effective: &[EffectivePlan]) -> String {
    let usable = effective.iter().filter(|p| p.usable).count();
    format!("{usable}/{}", effective.len())
}

fn warning_text(w: &Finding) -> String {
    format!("{}: {}", w.reason, w.message)
}

fn effective_plan(p: &policy::EffectivePlan, display_name: Option<String>) -> EffectivePlan {
    EffectivePlan {
        plan: p.plan.clone(),
        display_name,
        connection: p.connection.clone(),
        connection_binding: p.binding.as_ref().map(api_binding),
        source: p.source,
        inherited_from: p.inherited_from.clone(),
        region: p.region.clone(),
        csp_type: p.csp_type,
        environment: p.environment,
        usable: p.usable,
        reason: p.reason.clone(),
        message: p.message.clone(),
        master_directory: p.master_directory,
    }
}

pub(super) fn api_binding(b: &policy::ConnectionBinding) -> ConnectionBinding {
    ConnectionBinding {
        uid: b.uid.clone(),
        partner_tenant_id: b.partner_tenant_id.clone(),
    }
}
