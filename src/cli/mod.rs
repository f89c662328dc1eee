//! Subcommands of the operator binary other than `run`: the consent helper and the connection check.

pub mod check;
pub mod consent;
