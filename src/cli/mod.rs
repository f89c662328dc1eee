//! Subcommands of the operator binary other than `run`: the consent helper, the connection check,
//! and the tools for people (`trace`, `what-if`, `onboard-reseller`), which the kubectl plugin
//! `kubectl-channel` (src/bin/kubectl-channel.rs) runs too.

pub mod check;
pub mod consent;
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
}

/// Runs a tool; the exit code it asks for (0 unless a tool reports that something would break).
pub async fn run_tool(tool: Tool) -> anyhow::Result<i32> {
    match tool {
        Tool::Trace(args) => trace::run(args).await.map(|()| 0),
        Tool::WhatIf(args) => what_if::run(args).await,
        Tool::OnboardReseller(args) => onboard::run(args).await.map(|()| 0),
    }
}
