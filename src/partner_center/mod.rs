//! Microsoft Partner Center REST client.
//!
//! - [`config`]: clouds, hosts, endpoint overrides, credentials, timeouts
//! - [`auth`]: Entra token requests, token cache, refresh-token rotation, JWT claims
//! - [`errors`]: typed errors with stable condition reasons; error-body parsing
//! - [`durations`]: every server-supplied duration, parsed and clamped
//! - [`http`]: headers, retries, timeouts, the response size cap, the throttling observer
//! - [`paging`]: seek paging rules
//! - [`models`]: tolerant response models
//! - [`api`]: the [`PartnerCenterApi`] trait controllers use and its reqwest implementation
//! - [`consent`]: authorization-code consent helpers

pub mod api;
pub mod auth;
pub mod config;
pub mod consent;
pub mod durations;
pub mod errors;
pub mod http;
pub mod models;
pub mod paging;

pub use api::{PartnerCenterApi, PartnerCenterClient};
pub use auth::{MemoryRefreshTokenSink, RefreshTokenSink, TokenClaims};
pub use config::{ConnectionSettings, Credentials, Endpoints, Timeouts};
pub use errors::PartnerCenterError;
pub use http::ThrottleObserver;
