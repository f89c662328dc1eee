//! Rules about one CustomerPlan and the connection it provisions through: naming (rule 1),
//! tenant creation, plan ↔ connection (rule 2), where its connectionRef may point (rule 5),
//! deletion (rule 6) and the connection's own readiness (rule 3's outcome).

use super::binding::{ConnectionBinding, Decider, decide_binding};
use super::connection_owner::{ConnectionOwner, owner_of};
use super::finding::{Finding, reasons};
use super::hierarchy::Hierarchy;
use super::naming::{PlanName, name_disagreements, parse_plan_name};
use super::snapshot::{ConnectionHealth, PlanFacts, Settings, Snapshot};
use crate::api::ConnectionRef;

/// What the rules found about one plan, independent of any reseller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanCheck {
    pub parsed_name: Option<PlanName>,
    /// The reseller the plan is named for (holder of the name's short name), if any.
    pub named_for: Option<String>,
    /// Problems of the plan itself: they make every grant of it unusable.
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
    /// Problems of its default connection (`spec.connectionRef`): they make unusable only the
    /// grants that provision through that connection (not those with an override).
    pub connection_errors: Vec<Finding>,
    pub connection_owner: ConnectionOwner,
    /// The binding of `spec.connectionRef` to record (see `binding`); grants through the plan's
    /// connection carry it too.
    pub binding: Option<ConnectionBinding>,
}

/// The display name the convention gives for the plan's fields (keeping the name's short name).
fn expected_name(short_name: Option<&str>, plan: &PlanFacts) -> String {
    let words = format!(
        "{} {} {}",
        plan.region,
        plan.csp_type.name_word(),
        plan.environment.name_word()
    );
    match short_name {
        Some(s) => format!("{s} {words}"),
        None => words,
    }
}

pub fn check_plan(plan: &PlanFacts, snapshot: &Snapshot, hierarchy: &Hierarchy, settings: &Settings) -> PlanCheck {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();

    if plan.deleting {
        errors.push(Finding::new(
            reasons::DELETING,
            format!(
                "CustomerPlan '{}' is being deleted, so nothing may use it: remove it from \
                 spec.services.azureAD.customerPlans of the resellers that still grant it",
                plan.name
            ),
        ));
    }

    let parsed_name = match parse_plan_name(&plan.display_name) {
        Ok(parsed) => {
            let disagreements = name_disagreements(&parsed, &plan.region, plan.csp_type, plan.environment);
            if !disagreements.is_empty() {
                errors.push(Finding::new(
                    reasons::PLAN_NAME_MISMATCH,
                    format!(
                        "spec.displayName '{}' of CustomerPlan '{}' disagrees with its spec: {}; make \
                         the name's words match spec.region, spec.cspType and spec.environment (the name \
                         those fields give: '{}')",
                        plan.display_name,
                        plan.name,
                        disagreements.join("; "),
                        expected_name(parsed.short_name.as_deref(), plan)
                    ),
                ));
            }
            Some(parsed)
        }
        Err(e) => {
            errors.push(Finding::new(
                reasons::INVALID_PLAN_NAME,
                format!(
                    "spec.displayName '{}' of CustomerPlan '{}' does not follow the naming convention: {e}",
                    plan.display_name, plan.name
                ),
            ));
            None
        }
    };

    if !settings.regions.is_known_region(&plan.region) {
        errors.push(Finding::new(
            reasons::UNKNOWN_REGION,
            format!(
                "spec.region '{}' of CustomerPlan '{}' is not in the operator's region table: use a \
                 known code (an ISO country such as NZ, or a composite such as EUR) or add the region \
                 to the operator's configuration",
                plan.region, plan.name
            ),
        ));
    }

    let named_short = parsed_name.as_ref().and_then(|p| p.short_name.clone());
    let named_for = named_short
        .as_deref()
        .and_then(|s| hierarchy.reseller_for_short_name(s))
        .map(str::to_string);
    if let (Some(short), None) = (&named_short, &named_for) {
        warnings.push(Finding::new(
            reasons::NAMED_RESELLER_NOT_FOUND,
            format!(
                "spec.displayName of CustomerPlan '{}' names reseller short name '{short}', but no \
                 Reseller has spec.shortName '{short}': only the root may hold the plan until that \
                 reseller exists; check the name",
                plan.name
            ),
        ));
    }

    let via = format!("spec.connectionRef of CustomerPlan '{}'", plan.name);
    let connection_owner = owner_of(&plan.connection_ref, hierarchy, settings);
    let mut connection_errors = Vec::new();
    // First: a replaced connection is the one thing the provider must look at before anything else.
    let decision = decide_binding(
        &plan.connection_ref,
        snapshot.connections.get(&plan.connection_ref),
        plan.binding.as_ref(),
        &plan.confirmed_connections,
        Decider::Plan(&plan.name),
        &via,
    );
    connection_errors.extend(decision.problem);
    if let ConnectionOwner::Reseller(owner) = &connection_owner
        && named_for.as_deref() != Some(owner.as_str())
    {
        connection_errors.push(Finding::new(
            reasons::CONNECTION_REF_NAMESPACE_NOT_ALLOWED,
            format!(
                "{via} points into namespace '{}' of Reseller '{owner}', which is allowed only for a \
                 plan named for that reseller ('{} {} {} {}'): point it at a connection in the \
                 provider namespace '{}', or rename the plan for '{owner}'",
                plan.connection_ref.namespace,
                snapshot
                    .resellers
                    .get(owner)
                    .map(|r| r.short_name.as_str())
                    .unwrap_or("<ShortName>"),
                plan.region,
                plan.csp_type.name_word(),
                plan.environment.name_word(),
                settings.provider_namespace
            ),
        ));
    }
    connection_errors.extend(check_connection_for_plan(
        &plan.connection_ref,
        plan,
        snapshot,
        hierarchy,
        settings,
        &via,
    ));

    PlanCheck {
        parsed_name,
        named_for,
        errors,
        warnings,
        connection_errors,
        connection_owner,
        binding: decision.record,
    }
}

/// Whether `connection` can carry provisioning for `plan`: it exists, is not being deleted, lives
/// in an owned namespace, matches the plan (rule 2) and is Ready (rule 3). `via` names the field
/// that references it, for the messages.
pub fn check_connection_for_plan(
    connection: &ConnectionRef,
    plan: &PlanFacts,
    snapshot: &Snapshot,
    hierarchy: &Hierarchy,
    settings: &Settings,
    via: &str,
) -> Vec<Finding> {
    let Some(c) = snapshot.connections.get(connection) else {
        return vec![Finding::new(
            reasons::CONNECTION_NOT_FOUND,
            format!(
                "{via} names PartnerCenterConnection {connection}, which does not exist: create it \
                 or point {via} at an existing connection"
            ),
        )];
    };
    let mut out = Vec::new();
    if c.deleting {
        out.push(Finding::new(
            reasons::DELETING,
            format!(
                "PartnerCenterConnection {connection} (named by {via}) is being deleted, so nothing \
                 may use it: point {via} at another connection"
            ),
        ));
    }
    if let ConnectionOwner::Unusable(f) = owner_of(connection, hierarchy, settings) {
        out.push(Finding {
            reason: f.reason,
            message: format!("{via}: {}", f.message),
        });
    }
    let mut diffs = Vec::new();
    if c.region != plan.region {
        diffs.push(format!("region: plan '{}', connection '{}'", plan.region, c.region));
    }
    if c.csp_type != plan.csp_type {
        diffs.push(format!(
            "cspType: plan {:?}, connection {:?}",
            plan.csp_type, c.csp_type
        ));
    }
    if c.environment != plan.environment {
        diffs.push(format!(
            "environment: plan {}, connection {}",
            plan.environment.name_word(),
            c.environment.name_word()
        ));
    }
    if !diffs.is_empty() {
        out.push(Finding::new(
            reasons::PLAN_CONNECTION_MISMATCH,
            format!(
                "PartnerCenterConnection {connection} (named by {via}) does not match CustomerPlan \
                 '{}' ({}): point {via} at a connection with the plan's region, cspType and \
                 environment (a connection's identity is immutable)",
                plan.name,
                diffs.join("; ")
            ),
        ));
    }
    match &c.health {
        ConnectionHealth::Ready => {}
        ConnectionHealth::NotReady { reason, message } => out.push(Finding {
            reason: reason.clone(),
            message: format!("PartnerCenterConnection {connection} (named by {via}) is not ready: {message}"),
        }),
        ConnectionHealth::Unknown => out.push(Finding::new(
            reasons::CONNECTION_PENDING,
            format!(
                "PartnerCenterConnection {connection} (named by {via}) has not been verified against \
                 Partner Center yet"
            ),
        )),
    }
    out
}
