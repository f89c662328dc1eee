//! partner-center-operator: declarative reseller / customer plan / Partner Center connection
//! configuration, validated at admission, checked against Partner Center, and published as the one
//! connection provisioning must use for every reseller and plan.

pub mod api;
pub mod cli;
pub mod controller;
pub mod partner_center;
pub mod policy;
pub mod runtime;
pub mod tls;
