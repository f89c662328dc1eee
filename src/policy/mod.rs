//! Pure domain rules (docs/rules.md): no Kubernetes client, no async, no I/O.
//!
//! Controllers fill a [`Snapshot`] from their stores, call [`evaluate`] (or an [`Evaluator`] for
//! one object) and publish what it says; [`dependents`] tells them what to requeue after a
//! change; [`verify_connection`] and [`check_refresh_token`] are rules 3 and 10 for the
//! connection reconciler; [`decide`] is rules 11–15 and 18 for the Customer reconciler.

pub mod agreement;
pub mod binding;
pub mod connection_owner;
pub mod customer;
pub mod dependents;
pub mod effective;
pub mod evaluate;
pub mod finding;
pub mod hierarchy;
pub mod import;
pub mod inventory;
pub mod naming;
pub mod plans;
pub mod refresh_token;
pub mod regions;
pub mod snapshot;
pub mod suggest;
pub mod verify;

#[cfg(test)]
mod tests;

/// Where an effective plan's connection came from (shared with the Reseller status type).
pub use crate::api::ConnectionSource;
pub use binding::{BindingDecision, CONFIRM_ANNOTATION, ConnectionBinding, Decider, decide_binding, parse_confirmed};
pub use connection_owner::{ConnectionOwner, owner_of};
pub use customer::{
    CustomerDecision, CustomerFacts, Pinned, Placement, Route, TenantRequest, adopted_country_outside_region, decide,
    may_delete_tenant,
};
pub use dependents::{Dependents, ObjectKey, dependents};
pub use effective::{EffectivePlan, Resolution, resolve};
pub use evaluate::{ConnectionEvaluation, Evaluation, Evaluator, PlanEvaluation, ResellerEvaluation, evaluate};
pub use finding::{Finding, Status, Verdict, reasons};
pub use hierarchy::Hierarchy;
pub use naming::{NamingError, PlanName, parse_plan_name};
pub use refresh_token::{check_refresh_token, remember_rotated_away};
pub use regions::{RegionTable, RegionTableError};
pub use snapshot::{
    Bindings, ConnectionFacts, ConnectionHealth, GrantFacts, PlanFacts, ResellerFacts, Settings, Snapshot,
};
pub use verify::{DeclaredIdentity, Observed, ResellerListing, Verification, verify_connection};
