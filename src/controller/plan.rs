//! CustomerPlan reconciler: publish the resolved default connection, whether it is usable, and how
//! many resellers the plan is exposed to. The decisions are `policy`'s.

use super::context::Context;
use super::error::Result;
use super::{finalizer, status};
use crate::api::conditions;
use crate::api::{CustomerPlan, CustomerPlanStatus};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

pub const KIND: &str = "CustomerPlan";

pub async fn reconcile(plan: Arc<CustomerPlan>, ctx: Arc<Context>) -> Result<Action> {
    let plan = ctx.after_first_verdicts(plan, &ctx.world.plans).await;
    let name = plan.name_any();
    let api: Api<CustomerPlan> = Api::all(ctx.client.clone());
    // Evaluate this plan only; do not hold the shared evaluator across awaits.
    // The recorded binding aside: the status write that records it is not a change to wait for.
    let own = super::facts::plan_facts(&plan).without_binding();
    let evaluator = ctx
        .world
        .evaluated_seeing(|s| s.plans.get(&name).map(|p| p.without_binding()).as_ref() == Some(&own));
    let Some(eval) = evaluator.plan(&name) else {
        // Not in the cache yet (just created): its own watch event will bring it back.
        return Ok(Action::requeue(Duration::from_secs(5)));
    };
    drop(evaluator);
    let generation = plan.metadata.generation;
    let now = jiff::Timestamp::now();
    let mut st = plan.status.clone().unwrap_or_default();
    st.observed_generation = generation;
    st.connection = Some(eval.connection.clone());
    st.connection_binding = eval.connection_binding.as_ref().map(super::reseller::api_binding);
    st.reseller_count = Some(eval.reseller_count() as i32);

    if plan.meta().deletion_timestamp.is_some() {
        if eval.resellers.is_empty() {
            if finalizer::has(plan.as_ref()) {
                finalizer::remove(&api, plan.as_ref()).await?;
            }
            return Ok(Action::await_change());
        }
        let message = format!(
            "deletion waits: granted to Resellers {}; remove the grants first",
            eval.resellers.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
        );
        conditions::set(
            &mut st.conditions,
            conditions::types::READY,
            conditions::ConditionStatus::False,
            "Deleting",
            &message,
            generation,
            now,
        );
        write(&ctx, &api, &plan, st).await?;
        return Ok(Action::requeue(Duration::from_secs(300)));
    }
    if !finalizer::has(plan.as_ref()) {
        finalizer::add(&api, plan.as_ref()).await?;
    }
    let users: Vec<String> = eval.resellers.iter().map(|r| format!("Reseller/{r}")).collect();
    finalizer::set_in_use(&api, plan.as_ref(), finalizer::in_use_text(&users, users.len())).await?;

    let c = &mut st.conditions;
    let cr = &eval.connection_ready;
    conditions::set(
        c,
        conditions::types::CONNECTION_READY,
        cr.status,
        &cr.reason,
        &cr.message,
        generation,
        now,
    );
    let r = &eval.ready;
    conditions::set(
        c,
        conditions::types::READY,
        r.status,
        &r.reason,
        &r.message,
        generation,
        now,
    );
    write(&ctx, &api, &plan, st).await?;
    for w in &eval.warnings {
        tracing::debug!(reason = %w.reason, "warning");
    }
    // Nothing here changes without a watch event; the periodic resync is a safety net.
    Ok(Action::requeue(super::jitter(Duration::from_secs(3600))))
}

pub fn error_policy(plan: Arc<CustomerPlan>, error: &super::error::Error, ctx: Arc<Context>) -> Action {
    super::error_policy(KIND, plan.as_ref(), error, &ctx)
}

async fn write(ctx: &Context, api: &Api<CustomerPlan>, plan: &CustomerPlan, st: CustomerPlanStatus) -> Result<()> {
    status::publish(ctx.publisher(), api, plan, KIND, "Validate", plan.status.as_ref(), &st).await?;
    Ok(())
}
