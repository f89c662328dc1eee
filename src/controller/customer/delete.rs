//! Stage 8, deletion (docs/rules.md, rule 18). Only a Customer whose tenant the operator may delete
//! — `deletionPolicy: Delete` through a Sandbox connection — carries the finalizer; every other
//! Customer is deleted at once and its tenant orphaned. A production tenant is never deleted: the
//! environment of the pinned connection is checked again at deletion time, finalizer or not.

use super::{CustomerContext, lookup};
use crate::api::{Customer, Environment};
use crate::controller::error::Result;
use crate::partner_center::PartnerCenterError;
use crate::policy::customer::CustomerFacts;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use std::time::Duration;

/// Held by a Customer whose sandbox tenant is deleted with it.
pub const FINALIZER: &str = "channel.csp.dev/customer-tenant";

fn has(c: &Customer) -> bool {
    c.finalizers().iter().any(|f| f == FINALIZER)
}

/// Adds the finalizer when the tenant may be deleted with the Customer (before anything is
/// created, so no tenant exists without it), removes it when that no longer holds.
pub async fn keep_finalizer_in_line(api: &Api<Customer>, c: &Customer, wanted: bool) -> Result<()> {
    match (wanted, has(c)) {
        (true, false) => {
            let mut f = c.finalizers().to_vec();
            f.push(FINALIZER.to_string());
            patch(api, c, f).await
        }
        (false, true) => remove(api, c).await,
        _ => Ok(()),
    }
}

async fn remove(api: &Api<Customer>, c: &Customer) -> Result<()> {
    let f = c.finalizers().iter().filter(|f| *f != FINALIZER).cloned().collect();
    patch(api, c, f).await
}

/// A merge patch of the finalizer list guarded by the resourceVersion (a concurrent change of the
/// list is retried, never lost).
async fn patch(api: &Api<Customer>, c: &Customer, finalizers: Vec<String>) -> Result<()> {
    let patch = serde_json::json!({
        "metadata": {"resourceVersion": c.resource_version(), "finalizers": finalizers}
    });
    api.patch(&c.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

pub async fn on_deletion(
    cctx: &CustomerContext,
    api: &Api<Customer>,
    c: &Customer,
    facts: &CustomerFacts,
) -> Result<Action> {
    if !has(c) {
        return Ok(Action::await_change());
    }
    let ctx = &cctx.shared;
    let st = c.status.clone().unwrap_or_default();
    let pinned = st.connection.clone();
    let conn = pinned.as_ref().and_then(|p| super::clients::connection(ctx, p));
    let orphan = |why: String| async move {
        ctx.events.publish(c, true, "TenantOrphaned", "Delete", why);
        remove(api, c).await?;
        Ok(Action::await_change())
    };
    let Some(conn) = conn else {
        return match pinned {
            // Never pinned: nothing was ever called, so there is no tenant.
            None => {
                remove(api, c).await?;
                Ok(Action::await_change())
            }
            Some(p) => {
                orphan(format!(
                    "the pinned connection {}/{} is gone; the tenant{} is left as it is",
                    p.namespace,
                    p.name,
                    st.tenant_id.as_deref().map(|t| format!(" {t}")).unwrap_or_default()
                ))
                .await
            }
        };
    };
    let pinned = pinned.expect("a connection was found for it");
    if conn.spec.environment != Environment::Sandbox {
        return orphan(format!(
            "connection {}/{} is not a Sandbox connection: a production tenant is never deleted (deletionPolicy Delete is honoured only through Sandbox connections)",
            pinned.namespace, pinned.name
        ))
        .await;
    }
    let pc = match super::clients::client(ctx, &cctx.memory, &conn).await? {
        Ok((_, pc)) => pc,
        Err(failure) => {
            tracing::warn!(
                reason = failure.reason,
                "cannot delete the tenant yet: {}",
                failure.message
            );
            return Ok(Action::requeue(Duration::from_secs(60)));
        }
    };
    // A creation whose answer was lost may have made a tenant: look it up like before a create.
    let tenant = match &st.tenant_id {
        Some(t) => Some(t.clone()),
        None => match lookup::find(pc.as_ref(), &facts.tenant).await {
            Ok(found) => found.map(|f| f.id),
            Err(e) => return retry_or_orphan(ctx, api, c, e).await,
        },
    };
    let Some(tenant) = tenant else {
        remove(api, c).await?;
        return Ok(Action::await_change());
    };
    match pc.delete_customer(&tenant).await {
        Ok(()) | Err(PartnerCenterError::NotFound { .. }) => {
            ctx.metrics.observe_partner_center_call("delete_customer", "Ok");
            ctx.events.publish(
                c,
                false,
                "TenantDeleted",
                "Delete",
                format!(
                    "sandbox tenant {tenant} deleted through connection {}/{}",
                    pinned.namespace, pinned.name
                ),
            );
            remove(api, c).await?;
            Ok(Action::await_change())
        }
        Err(e) => retry_or_orphan(ctx, api, c, e).await,
    }
}

/// A passing failure is retried; a refusal (e.g. a sandbox tenant created with an invalid address,
/// which Partner Center never deletes) lets the Customer go and leaves the tenant, with an Event.
async fn retry_or_orphan(
    ctx: &crate::controller::context::Context,
    api: &Api<Customer>,
    c: &Customer,
    e: PartnerCenterError,
) -> Result<Action> {
    ctx.metrics.observe_partner_center_call("delete_customer", e.reason());
    if e.is_transient() {
        let wait = match &e {
            PartnerCenterError::Throttled { retry_after } => *retry_after,
            _ => None,
        };
        return Ok(Action::requeue(super::retry_wait(wait)));
    }
    ctx.events.publish(
        c,
        true,
        "TenantNotDeleted",
        "Delete",
        format!("Partner Center refused to delete the tenant ({e}); it is left as it is"),
    );
    remove(api, c).await?;
    Ok(Action::await_change())
}
