//! Provider decisions bind to a connection's identity, not its name.
//!
//! A plan's `connectionRef` and a reseller's `connectionOverride` name a connection by
//! `{namespace, name}`, and whoever may write that namespace (a reseller's admins, in theirs) can
//! delete the connection and create another of the same name for another Partner Center account.
//! So the first time a decision resolves to a connection, the operator records the connection's
//! `uid` and `partnerTenantId` in the status of the object holding the decision (statuses are
//! written only by the operator); later a connection of that name with another uid or tenant is
//! refused (`ConnectionReplaced`) until the provider lists the new uid in the annotation
//! [`CONFIRM_ANNOTATION`] of that object, or re-points the decision (a provider action itself).

use super::finding::{Finding, reasons};
use super::snapshot::ConnectionFacts;
use crate::api::ConnectionRef;
use std::collections::BTreeSet;

/// Annotation on a Reseller or CustomerPlan: comma-separated uids of connections the provider
/// accepts for that object's decisions although they replaced the recorded one.
pub const CONFIRM_ANNOTATION: &str = "channel.csp.dev/confirm-connection";

/// A recorded binding: which connection a decision named, and what it was then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionBinding {
    pub connection: ConnectionRef,
    pub uid: String,
    pub partner_tenant_id: String,
}

impl ConnectionBinding {
    pub fn of(c: &ConnectionFacts) -> Self {
        ConnectionBinding {
            connection: c.reference(),
            uid: c.uid.clone(),
            partner_tenant_id: c.partner_tenant_id.clone(),
        }
    }
}

/// The object holding a decision: where its binding is recorded and where the provider confirms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decider<'a> {
    Reseller(&'a str),
    Plan(&'a str),
}

impl Decider<'_> {
    /// `kubectl annotate` arguments naming the object.
    fn kubectl_object(&self) -> String {
        match self {
            Decider::Reseller(n) => format!("rsl {n}"),
            Decider::Plan(n) => format!("cplan {n}"),
        }
    }
}

/// What to record for a decision and whether it may be used.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindingDecision {
    /// The binding the status should carry from now on.
    pub record: Option<ConnectionBinding>,
    /// `ConnectionReplaced` when the resolved connection is not the bound one.
    pub problem: Option<Finding>,
}

/// The uids listed in [`CONFIRM_ANNOTATION`] (blanks ignored).
pub fn parse_confirmed(value: Option<&str>) -> BTreeSet<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Compares the connection a decision resolves to (`reference`, `connection` when it exists) with
/// the binding recorded for that decision. `via` names the field holding the decision, for the
/// message.
pub fn decide_binding(
    reference: &ConnectionRef,
    connection: Option<&ConnectionFacts>,
    recorded: Option<&ConnectionBinding>,
    confirmed: &BTreeSet<String>,
    decider: Decider<'_>,
    via: &str,
) -> BindingDecision {
    // A binding for another name belongs to a decision the provider has since re-pointed.
    let recorded = recorded.filter(|b| &b.connection == reference);
    let Some(c) = connection else {
        // Missing (ConnectionNotFound is reported elsewhere): keep the binding, so that a
        // connection recreated under the name later is still recognised as a replacement.
        return BindingDecision {
            record: recorded.cloned(),
            problem: None,
        };
    };
    let current = ConnectionBinding::of(c);
    let Some(bound) = recorded else {
        // First resolution (or re-pointed): bind.
        return BindingDecision {
            record: Some(current),
            problem: None,
        };
    };
    if bound == &current || confirmed.contains(&c.uid) {
        return BindingDecision {
            record: Some(current),
            problem: None,
        };
    }
    let change = |what: &str, before: &str, after: &str| {
        if before == after {
            format!("{what} {after} (unchanged)")
        } else {
            format!("{what} {before}→{after}")
        }
    };
    let problem = Finding::new(
        reasons::CONNECTION_REPLACED,
        format!(
            "PartnerCenterConnection {reference} (named by {via}) was replaced: {}, {}; it is not used \
             until the provider confirms it with `kubectl annotate {} {CONFIRM_ANNOTATION}={} --overwrite` \
             (or points {via} at another connection)",
            change("uid", &bound.uid, &current.uid),
            change("partnerTenantId", &bound.partner_tenant_id, &current.partner_tenant_id),
            decider.kubectl_object(),
            current.uid,
        ),
    );
    BindingDecision {
        record: Some(bound.clone()),
        problem: Some(problem),
    }
}
