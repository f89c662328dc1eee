//! Process plumbing around the controllers: settings, logging, metrics, the admin HTTP server
//! (probes and metrics) and leader election.

pub mod admin;
pub mod leader;
pub mod metrics;
pub mod settings;
pub mod telemetry;
