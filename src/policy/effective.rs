//! A reseller's effective plans: for each granted plan, the one connection provisioning must use
//! and whether it is usable. Rules 1 (plans named for a reseller), 2, 5, 6, 7, 8 (parent has the
//! plan, inherited overrides) and 9 apply here. A failing rule makes the effective plan unusable;
//! it never falls back to another connection.

use super::binding::{BindingDecision, ConnectionBinding, Decider, decide_binding};
use super::finding::{Finding, reasons};
use super::hierarchy::Hierarchy;
use super::plans::{PlanCheck, check_connection_for_plan};
use super::snapshot::{GrantFacts, PlanFacts, ResellerFacts, Settings, Snapshot};
use crate::api::{ConnectionRef, ConnectionSource, CspType, CustomerType, Environment, MasterDirectory};
use std::collections::{BTreeMap, BTreeSet};

/// One granted plan of a reseller, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectivePlan {
    pub plan: String,
    /// The connection provisioning must use; None only when the plan does not exist and there
    /// is no override.
    pub connection: Option<ConnectionRef>,
    pub source: ConnectionSource,
    /// The ancestor whose override is inherited (source `Inherited`).
    pub inherited_from: Option<String>,
    pub region: Option<String>,
    pub csp_type: Option<CspType>,
    pub environment: Option<Environment>,
    pub allow_tenant_creation: bool,
    pub master_directory: Option<MasterDirectory>,
    /// The binding of `connection` to record in the status (see `binding`).
    pub binding: Option<ConnectionBinding>,
    pub usable: bool,
    /// First blocking reason and message when not usable.
    pub reason: Option<String>,
    pub message: Option<String>,
    /// Every blocking problem, in rule order.
    pub problems: Vec<Finding>,
}

/// The connection a grant resolves to, before any rule is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    pub source: ConnectionSource,
    pub inherited_from: Option<String>,
    pub connection: Option<ConnectionRef>,
}

/// Own override, else the nearest ancestor's override for the same plan, else the plan's
/// connectionRef.
pub fn resolve(reseller: &ResellerFacts, grant: &GrantFacts, snapshot: &Snapshot, hierarchy: &Hierarchy) -> Resolution {
    if let Some(o) = &grant.connection_override {
        return Resolution {
            source: ConnectionSource::Override,
            inherited_from: None,
            connection: Some(o.clone()),
        };
    }
    let ancestors = hierarchy
        .node(&reseller.name)
        .map(|n| n.ancestors.as_slice())
        .unwrap_or_default();
    for a in ancestors {
        if let Some(o) = snapshot
            .resellers
            .get(a)
            .and_then(|ar| ar.grant(&grant.plan))
            .and_then(|g| g.connection_override.as_ref())
        {
            return Resolution {
                source: ConnectionSource::Inherited,
                inherited_from: Some(a.clone()),
                connection: Some(o.clone()),
            };
        }
    }
    Resolution {
        source: ConnectionSource::Plan,
        inherited_from: None,
        connection: snapshot.plans.get(&grant.plan).map(|p| p.connection_ref.clone()),
    }
}

/// Effective plans of one reseller plus the findings that belong to the reseller as a whole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrantOutcome {
    pub effective_plans: Vec<EffectivePlan>,
    /// Problems not tied to one usable-or-not plan (duplicate entries).
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
}

pub fn effective_plans(
    reseller: &ResellerFacts,
    snapshot: &Snapshot,
    hierarchy: &Hierarchy,
    plan_checks: &BTreeMap<String, PlanCheck>,
    settings: &Settings,
) -> GrantOutcome {
    let mut out = GrantOutcome::default();
    // `enabled: false` makes every grant inactive: no effective plans at all.
    if !reseller.azure_ad_enabled {
        return out;
    }
    let node = hierarchy.node(&reseller.name);
    let is_root = node.is_some_and(|n| n.is_root);
    let ancestors = node.map(|n| n.ancestors.as_slice()).unwrap_or_default();
    let mut seen = BTreeSet::new();

    for grant in &reseller.grants {
        if !seen.insert(grant.plan.as_str()) {
            out.errors.push(Finding::new(
                reasons::DUPLICATE_PLAN_GRANT,
                format!(
                    "spec.services.azureAD.customerPlans of Reseller '{}' lists plan '{}' more than \
                     once: keep one entry",
                    reseller.name, grant.plan
                ),
            ));
            continue;
        }
        let entry = format!(
            "spec.services.azureAD.customerPlans[plan={}] of Reseller '{}'",
            grant.plan, reseller.name
        );
        let mut problems = Vec::new();

        if let Some(first) = node.and_then(|n| n.errors.first()) {
            problems.push(Finding::new(
                reasons::HIERARCHY_INVALID,
                format!(
                    "Reseller '{}' has an invalid place in the hierarchy ({}), so none of its plans is \
                     usable until that is fixed",
                    reseller.name, first.reason
                ),
            ));
        }

        let plan = snapshot.plans.get(&grant.plan);
        let check = plan_checks.get(&grant.plan);
        match (plan, check) {
            (Some(_), Some(check)) => problems.extend(check.errors.iter().cloned()),
            _ => problems.push(Finding::new(
                reasons::PLAN_NOT_FOUND,
                format!(
                    "{entry} names CustomerPlan '{}', which does not exist (deleted?){}: create the plan \
                     or remove the entry",
                    grant.plan,
                    super::suggest::did_you_mean(&grant.plan, snapshot.plans.keys().map(String::as_str))
                ),
            )),
        }

        // Rule 8: only plans the parent has, and so on up to (not including) the root: the root
        // has the whole catalog whatever it grants itself (docs/rules.md, rule 8).
        if let Some((a, why)) = ancestors.iter().find_map(|a| {
            let ar = snapshot.resellers.get(a)?;
            if ar.parent.is_none() {
                None
            } else if !ar.azure_ad_enabled {
                Some((a, " (its spec.services.azureAD.enabled is false)"))
            } else if ar.grant(&grant.plan).is_none() {
                Some((a, ""))
            } else {
                None
            }
        }) {
            problems.push(Finding::new(
                reasons::PARENT_LACKS_PLAN,
                format!(
                    "Reseller '{}' is granted CustomerPlan '{}', but its ancestor '{a}' does not have \
                     it{why}: a reseller can only be granted plans its parent has; grant '{}' to '{a}' \
                     first or remove the entry",
                    reseller.name, grant.plan, grant.plan
                ),
            ));
        }

        if let (Some(plan), Some(check)) = (plan, check) {
            check_named_for(reseller, plan, check, hierarchy, is_root, &mut problems);
            check_region_and_sandbox(reseller, plan, is_root, settings, &mut problems, &mut out.warnings);
        }

        let resolution = resolve(reseller, grant, snapshot, hierarchy);
        let decision = bind(reseller, grant, &resolution, snapshot, check);
        problems.extend(decision.problem);
        if let (Some(plan), Some(check), Some(conn)) = (plan, check, &resolution.connection) {
            match resolution.source {
                ConnectionSource::Plan => problems.extend(check.connection_errors.iter().cloned()),
                ConnectionSource::Override | ConnectionSource::Inherited => {
                    // Rule 5: the override's namespace is the setter's own or an ancestor's.
                    let setter = resolution.inherited_from.as_deref().unwrap_or(&reseller.name);
                    let via = format!(
                        "spec.services.azureAD.customerPlans[plan={}].connectionOverride of Reseller '{setter}'",
                        grant.plan
                    );
                    let allowed = hierarchy.namespaces_on_path(setter);
                    if !allowed.contains(&conn.namespace) {
                        let inherited = if setter != reseller.name {
                            format!(" (inherited by '{}')", reseller.name)
                        } else {
                            String::new()
                        };
                        problems.push(Finding::new(
                            reasons::OVERRIDE_NAMESPACE_NOT_ALLOWED,
                            format!(
                                "{via}{inherited} names namespace '{}', which is neither '{setter}''s own \
                                 namespace nor an ancestor's (allowed: {}): point it at a connection in \
                                 one of those namespaces",
                                conn.namespace,
                                if allowed.is_empty() {
                                    "none".to_string()
                                } else {
                                    allowed.join(", ")
                                }
                            ),
                        ));
                    }
                    problems.extend(check_connection_for_plan(
                        conn, plan, snapshot, hierarchy, settings, &via,
                    ));
                }
            }
        }

        let first = problems.first().cloned();
        out.effective_plans.push(EffectivePlan {
            plan: grant.plan.clone(),
            connection: resolution.connection,
            source: resolution.source,
            inherited_from: resolution.inherited_from,
            region: plan.map(|p| p.region.clone()),
            csp_type: plan.map(|p| p.csp_type),
            environment: plan.map(|p| p.environment),
            allow_tenant_creation: plan.is_some_and(|p| p.allow_tenant_creation),
            master_directory: plan.and_then(|p| p.master_directory),
            binding: decision.record,
            usable: problems.is_empty(),
            reason: first.as_ref().map(|f| f.reason.clone()),
            message: first.map(|f| f.message),
            problems,
        });
    }
    out
}

/// The binding decision of one grant. Through the plan's connection it is the plan's (its
/// problem is among the plan's connection errors); through an override it is the decision of the
/// reseller that set the override — this one, or the ancestor it inherits from — so one
/// confirmation on that reseller covers its whole subtree, and a sub-reseller created after a
/// replacement cannot bind afresh to the replacement.
fn bind(
    reseller: &ResellerFacts,
    grant: &GrantFacts,
    resolution: &Resolution,
    snapshot: &Snapshot,
    check: Option<&PlanCheck>,
) -> BindingDecision {
    let Some(conn) = &resolution.connection else {
        return BindingDecision::default();
    };
    if resolution.source == ConnectionSource::Plan {
        return BindingDecision {
            record: check.and_then(|c| c.binding.clone()),
            problem: None,
        };
    }
    let setter = match &resolution.inherited_from {
        Some(a) => snapshot.resellers.get(a).map_or(reseller, |s| s),
        None => reseller,
    };
    let inherited = if setter.name != reseller.name {
        format!(" (inherited by '{}')", reseller.name)
    } else {
        String::new()
    };
    let via = format!(
        "spec.services.azureAD.customerPlans[plan={}].connectionOverride of Reseller '{}'{inherited}",
        grant.plan, setter.name
    );
    decide_binding(
        conn,
        snapshot.connections.get(conn),
        setter.bindings.get(&grant.plan),
        &setter.confirmed_connections,
        Decider::Reseller(&setter.name),
        &via,
    )
}

/// Rule 1: a plan named for reseller T may be granted only on the path root → T and in T's
/// subtree. Until T exists only the root may hold it.
fn check_named_for(
    reseller: &ResellerFacts,
    plan: &PlanFacts,
    check: &PlanCheck,
    hierarchy: &Hierarchy,
    is_root: bool,
    problems: &mut Vec<Finding>,
) {
    let Some(short) = check.parsed_name.as_ref().and_then(|n| n.short_name.as_ref()) else {
        return;
    };
    let allowed = match &check.named_for {
        Some(t) => {
            t == &reseller.name || hierarchy.is_ancestor(&reseller.name, t) || hierarchy.is_ancestor(t, &reseller.name)
        }
        None => is_root,
    };
    if !allowed {
        let target = match &check.named_for {
            Some(t) => format!("Reseller '{t}'"),
            None => "a reseller that does not exist".to_string(),
        };
        problems.push(Finding::new(
            reasons::PLAN_NOT_FOR_RESELLER,
            format!(
                "CustomerPlan '{}' is named for short name '{short}' ({target}); it may only be granted \
                 along the path from the root to that reseller and within its subtree, and Reseller \
                 '{}' is neither: remove it from spec.services.azureAD.customerPlans of '{}'",
                plan.name, reseller.name, reseller.name
            ),
        ));
    }
}

/// Rules 9 and 7.
fn check_region_and_sandbox(
    reseller: &ResellerFacts,
    plan: &PlanFacts,
    is_root: bool,
    settings: &Settings,
    problems: &mut Vec<Finding>,
    warnings: &mut Vec<Finding>,
) {
    if let Some(region) = &reseller.region
        && region != &plan.region
    {
        problems.push(Finding::new(
            reasons::PLAN_REGION_NOT_ALLOWED,
            format!(
                "Reseller '{}' has spec.region '{region}' and may only be granted plans of region \
                 '{region}', but CustomerPlan '{}' is region '{}': remove the entry or grant a \
                 '{region}' plan",
                reseller.name, plan.name, plan.region
            ),
        ));
    }

    if reseller.is_sandbox_only() {
        if plan.environment == Environment::Production {
            let why = if reseller.sandbox_only {
                "spec.sandboxOnly is true".to_string()
            } else {
                format!("spec.customerType {:?} implies sandboxOnly", reseller.customer_type)
            };
            problems.push(Finding::new(
                reasons::SANDBOX_ONLY_RESELLER,
                format!(
                    "Reseller '{}' is sandbox-only ({why}) and may only be granted Sandbox plans, but \
                     CustomerPlan '{}' is Production: remove the entry or grant a Sandbox plan",
                    reseller.name, plan.name
                ),
            ));
        }
    } else if !is_root && reseller.customer_type == CustomerType::Standard && plan.environment == Environment::Sandbox {
        let finding = Finding::new(
            reasons::SANDBOX_PLAN_FOR_STANDARD_RESELLER,
            format!(
                "Standard Reseller '{}' is granted Sandbox CustomerPlan '{}': sandbox plans are meant \
                 for test resellers; set spec.customerType to Test or Demo (or spec.sandboxOnly: true), \
                 or grant a Production plan",
                reseller.name, plan.name
            ),
        );
        if settings.sandbox_standard_is_error {
            problems.push(finding);
        } else {
            warnings.push(finding);
        }
    }
}
