//! Entry point: from a snapshot, what every reseller, plan and connection status should say.
//! `Evaluator` shares the tree and the plan checks so a controller can evaluate one object
//! without evaluating everything (and without holding everyone's results in memory); `evaluate`
//! does everything at once.

use super::binding::ConnectionBinding;
use super::connection_owner::{ConnectionOwner, owner_of};
use super::effective::{EffectivePlan, effective_plans, resolve};
use super::finding::{Finding, Verdict, reasons};
use super::hierarchy::Hierarchy;
use super::naming::PlanName;
use super::plans::{PlanCheck, check_plan};
use super::snapshot::{Settings, Snapshot};
use crate::api::ConnectionRef;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// What a Reseller's status should say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResellerEvaluation {
    pub name: String,
    pub hierarchy_valid: Verdict,
    pub plans_valid: Verdict,
    /// True only when the hierarchy is valid and every granted plan is usable; otherwise the
    /// first blocking reason (Unknown when the only obstacle is a connection not yet checked).
    pub ready: Verdict,
    pub is_root: bool,
    /// Path to the root, nearest first.
    pub ancestors: Vec<String>,
    pub effective_plans: Vec<EffectivePlan>,
    /// Non-blocking findings (also to be sent as Warning Events).
    pub warnings: Vec<Finding>,
    /// Every blocking finding, in rule order.
    pub errors: Vec<Finding>,
}

/// What a CustomerPlan's status should say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanEvaluation {
    pub name: String,
    pub parsed_name: Option<PlanName>,
    /// The reseller the plan is named for, if its name carries a short name that a reseller holds.
    pub named_for: Option<String>,
    /// The resolved default connection (`spec.connectionRef`).
    pub connection: ConnectionRef,
    /// The binding of `connection` to record in the status (see `binding`).
    pub connection_binding: Option<ConnectionBinding>,
    pub connection_owner: ConnectionOwner,
    pub ready: Verdict,
    pub connection_ready: Verdict,
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
    /// Resellers the plan is exposed to (granted with the Azure AD service enabled), sorted.
    pub resellers: Vec<String>,
}

impl PlanEvaluation {
    pub fn reseller_count(&self) -> usize {
        self.resellers.len()
    }
}

/// What a PartnerCenterConnection's status should say about ownership and use (rule 3 itself
/// is the connection reconciler's: see `verify`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionEvaluation {
    pub reference: ConnectionRef,
    pub owner: ConnectionOwner,
    /// Plans whose `spec.connectionRef` names it.
    pub plans: Vec<String>,
    /// Resellers whose own `connectionOverride` names it.
    pub override_resellers: Vec<String>,
    /// How many resellers have an effective plan that resolves to it (any source). A count, not
    /// the names: at tens of thousands of resellers the names were a copy of every reseller's
    /// name per connection it uses, and only the count is published (`status.usedBy`).
    pub effective_resellers: usize,
    pub errors: Vec<Finding>,
}

impl ConnectionEvaluation {
    /// Referenced by a spec: deletion must wait (finalizer).
    pub fn in_use(&self) -> bool {
        !self.plans.is_empty() || !self.override_resellers.is_empty()
    }

    /// What still references the connection, for its status while deletion waits.
    pub fn usage_message(&self) -> String {
        let mut parts = Vec::new();
        if !self.plans.is_empty() {
            parts.push(format!("spec.connectionRef of CustomerPlans {}", self.plans.join(", ")));
        }
        if !self.override_resellers.is_empty() {
            parts.push(format!(
                "connectionOverride of Resellers {}",
                self.override_resellers.join(", ")
            ));
        }
        if parts.is_empty() {
            "not referenced".to_string()
        } else {
            format!("referenced by {}", parts.join(" and "))
        }
    }
}

/// Everything at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    pub resellers: BTreeMap<String, ResellerEvaluation>,
    pub plans: BTreeMap<String, PlanEvaluation>,
    pub connections: BTreeMap<ConnectionRef, ConnectionEvaluation>,
    /// Problems of the tree as a whole (`NoRoot`).
    pub hierarchy_findings: Vec<Finding>,
}

#[derive(Default)]
struct Usage {
    plans: BTreeSet<String>,
    override_resellers: BTreeSet<String>,
    effective_resellers: usize,
}

/// Shared, snapshot-wide facts (tree, plan checks, who uses which connection); cheap per-object
/// evaluation on top. Owns its snapshot, so it can be cached and shared between reconciles.
pub struct Evaluator {
    snapshot: Snapshot,
    settings: Settings,
    hierarchy: Hierarchy,
    plan_checks: BTreeMap<String, PlanCheck>,
    /// Built on first use: only connections need it, and it costs a pass over every grant.
    usage: OnceLock<BTreeMap<ConnectionRef, Usage>>,
}

impl Evaluator {
    pub fn new(snapshot: Snapshot, settings: &Settings) -> Self {
        let hierarchy = Hierarchy::build(&snapshot, settings);
        let plan_checks = snapshot
            .plans
            .values()
            .map(|p| (p.name.clone(), check_plan(p, &snapshot, &hierarchy, settings)))
            .collect();
        Evaluator {
            snapshot,
            settings: settings.clone(),
            hierarchy,
            plan_checks,
            usage: OnceLock::new(),
        }
    }

    /// The facts this evaluator judges.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    pub fn hierarchy(&self) -> &Hierarchy {
        &self.hierarchy
    }

    pub fn reseller(&self, name: &str) -> Option<ResellerEvaluation> {
        let r = self.snapshot.resellers.get(name)?;
        let node = self.hierarchy.node(name)?;
        let outcome = effective_plans(r, &self.snapshot, &self.hierarchy, &self.plan_checks, &self.settings);

        let mut own_errors = Vec::new();
        if let Some(region) = &r.region
            && !self.settings.regions.is_known_region(region)
        {
            own_errors.push(Finding::new(
                reasons::UNKNOWN_REGION,
                format!(
                    "spec.region '{region}' of Reseller '{name}' is not in the operator's region table: \
                     use a known code (an ISO country such as NZ, or a composite such as EUR) or add \
                     the region to the operator's configuration"
                ),
            ));
        }

        let plan_problems: Vec<&Finding> = outcome
            .effective_plans
            .iter()
            .flat_map(|e| e.problems.iter())
            // Already reported once through the hierarchy errors.
            .filter(|f| f.reason != reasons::HIERARCHY_INVALID)
            .chain(outcome.errors.iter())
            .collect();

        let hierarchy_valid = Verdict::from_problems(
            &node.errors,
            reasons::VALID,
            "the reseller's place in the hierarchy is valid",
        );
        let plans_valid = if r.azure_ad_enabled {
            Verdict::from_problems(
                outcome
                    .effective_plans
                    .iter()
                    .flat_map(|e| e.problems.iter())
                    .chain(outcome.errors.iter()),
                reasons::ALL_PLANS_USABLE,
                format!("all {} granted plans are usable", outcome.effective_plans.len()),
            )
        } else {
            Verdict::ok(
                reasons::NO_ACTIVE_GRANTS,
                "spec.services.azureAD.enabled is false: no plan is active",
            )
        };

        let errors: Vec<Finding> = node
            .errors
            .iter()
            .chain(own_errors.iter())
            .chain(plan_problems.iter().copied())
            .cloned()
            .collect();
        let ready = Verdict::from_problems(
            &errors,
            reasons::READY,
            "the hierarchy is valid and every granted plan is usable",
        );

        Some(ResellerEvaluation {
            name: name.to_string(),
            hierarchy_valid,
            plans_valid,
            ready,
            is_root: node.is_root,
            ancestors: node.ancestors.clone(),
            effective_plans: outcome.effective_plans,
            warnings: outcome.warnings,
            errors,
        })
    }

    pub fn plan(&self, name: &str) -> Option<PlanEvaluation> {
        let p = self.snapshot.plans.get(name)?;
        let check = self.plan_checks.get(name)?;
        let resellers = self
            .snapshot
            .resellers
            .values()
            .filter(|r| r.azure_ad_enabled && r.grant(name).is_some())
            .map(|r| r.name.clone())
            .collect();
        let connection_ready = Verdict::from_problems(
            &check.connection_errors,
            reasons::CONNECTION_READY,
            format!(
                "PartnerCenterConnection {} is ready and matches the plan",
                p.connection_ref
            ),
        );
        let ready = Verdict::from_problems(
            check.errors.iter().chain(check.connection_errors.iter()),
            reasons::READY,
            "the plan is valid and its connection is ready",
        );
        Some(PlanEvaluation {
            name: name.to_string(),
            parsed_name: check.parsed_name.clone(),
            named_for: check.named_for.clone(),
            connection: p.connection_ref.clone(),
            connection_binding: check.binding.clone(),
            connection_owner: check.connection_owner.clone(),
            ready,
            connection_ready,
            errors: check
                .errors
                .iter()
                .chain(check.connection_errors.iter())
                .cloned()
                .collect(),
            warnings: check.warnings.clone(),
            resellers,
        })
    }

    pub fn connection(&self, reference: &ConnectionRef) -> Option<ConnectionEvaluation> {
        self.snapshot.connections.get(reference)?;
        let unused = Usage::default();
        let usage = self.usage().get(reference).unwrap_or(&unused);
        let owner = owner_of(reference, &self.hierarchy, &self.settings);
        let errors = match &owner {
            ConnectionOwner::Unusable(f) => vec![f.clone()],
            _ => Vec::new(),
        };
        Some(ConnectionEvaluation {
            reference: reference.clone(),
            owner,
            plans: usage.plans.iter().cloned().collect(),
            override_resellers: usage.override_resellers.iter().cloned().collect(),
            effective_resellers: usage.effective_resellers,
            errors,
        })
    }

    /// Who references which connection; one pass over plans and grants, on first use.
    fn usage(&self) -> &BTreeMap<ConnectionRef, Usage> {
        self.usage.get_or_init(|| self.usage_index())
    }

    fn usage_index(&self) -> BTreeMap<ConnectionRef, Usage> {
        let mut index: BTreeMap<ConnectionRef, Usage> = BTreeMap::new();
        for p in self.snapshot.plans.values() {
            index
                .entry(p.connection_ref.clone())
                .or_default()
                .plans
                .insert(p.name.clone());
        }
        for r in self.snapshot.resellers.values() {
            let mut effective = Vec::new();
            for g in &r.grants {
                if let Some(o) = &g.connection_override {
                    index
                        .entry(o.clone())
                        .or_default()
                        .override_resellers
                        .insert(r.name.clone());
                }
                if r.azure_ad_enabled
                    && let Some(c) = resolve(r, g, &self.snapshot, &self.hierarchy).connection
                {
                    effective.push(c);
                }
            }
            // A reseller counts once per connection, however many of its plans resolve to it.
            effective.sort();
            effective.dedup();
            for c in effective {
                index.entry(c).or_default().effective_resellers += 1;
            }
        }
        index
    }

    pub fn evaluate_all(&self) -> Evaluation {
        Evaluation {
            resellers: self
                .snapshot
                .resellers
                .keys()
                .filter_map(|n| self.reseller(n).map(|e| (n.clone(), e)))
                .collect(),
            plans: self
                .snapshot
                .plans
                .keys()
                .filter_map(|n| self.plan(n).map(|e| (n.clone(), e)))
                .collect(),
            connections: self
                .snapshot
                .connections
                .keys()
                .filter_map(|c| self.connection(c).map(|e| (c.clone(), e)))
                .collect(),
            hierarchy_findings: self.hierarchy.findings.clone(),
        }
    }
}

/// Evaluate everything in `snapshot`.
pub fn evaluate(snapshot: &Snapshot, settings: &Settings) -> Evaluation {
    Evaluator::new(snapshot.clone(), settings).evaluate_all()
}
