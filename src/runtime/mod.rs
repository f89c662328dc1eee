//! Process plumbing around the controllers: settings, logging, metrics, the admin HTTP server
//! (probes and metrics), leader election and allocator tuning.

pub mod admin;
pub mod allocator;
pub mod crashpoint;
pub mod leader;
pub mod metrics;
pub mod settings;
pub mod telemetry;
