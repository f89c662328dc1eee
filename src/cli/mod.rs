//! Subcommands of the operator binary other than `run`: the consent helper, the connection check,
//! and the tools for people (`trace`, `what-if`, `onboard-reseller`, `audit`, `import`), which the kubectl plugin
//! `kubectl-channel` (src/bin/kubectl-channel.rs) runs too.

pub mod audit;
pub mod check;
pub mod consent;
pub mod import;
pub mod onboard;
pub mod trace;
pub mod what_if;

use clap::Subcommand;

/// The tools shared by the operator binary and `kubectl channel`.
#[derive(Subcommand, Clone, Debug)]
pub enum Tool {
    /// Show why a reseller, connection or customer is (not) ready: the path of objects behind it,
    /// with Ready and reason at each node and the blocking one marked.
    Trace(trace::TraceArgs),
    /// Evaluate the live channel with manifests applied in memory (nothing is written): which
    /// effective plans would change connection or become unusable; exit code 1 when something breaks.
    WhatIf(what_if::WhatIfArgs),
    /// Print (or --apply) the Namespace, admins' RBAC and Reseller of a new reseller, and what is left to do.
    OnboardReseller(onboard::OnboardArgs),
    /// Each connection's inventory findings in detail: Customers whose Observed condition is False,
    /// and with --live the undeclared customers Partner Center lists; --fail-on-findings exits 1.
    Audit(audit::AuditArgs),
    /// Customer manifests (tenant.existing) for a connection's undeclared customers, placed by
    /// their indirect reseller or a mapping file, ready to commit; applying them adopts the tenants.
    Import(import::ImportArgs),
}

/// Runs a tool; the exit code it asks for (0 unless a tool reports that something would break).
pub async fn run_tool(tool: Tool) -> anyhow::Result<i32> {
    match tool {
        Tool::Trace(args) => trace::run(args).await.map(|()| 0),
        Tool::WhatIf(args) => what_if::run(args).await,
        Tool::OnboardReseller(args) => onboard::run(args).await.map(|()| 0),
        Tool::Audit(args) => audit::run(args).await,
        Tool::Import(args) => import::run(args).await,
    }
}
