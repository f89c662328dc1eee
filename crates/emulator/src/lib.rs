//! Partner Center + Entra ID emulator (the only stand-in in tests and the demo).
//!
//! One listener serves Entra login paths (`/{tenant}/oauth2/...`, OpenID discovery and keys),
//! Partner Center (`/v1/...`) and the control API (`/_emulator/...`), over http or, for
//! Microsoft's SDKs, https (see docs/emulator-sdks.md).
//!
//! Library use: [`start`] with an [`EmulatorConfig`] (port 0 picks a free port); [`start_tls`]
//! for the TLS listener.
//! CLI use: the `partner-center-emulator` binary (src/main.rs) calls [`serve_forever`] with the fixtures path
//! and listen address; it returns after Ctrl-C / SIGTERM.

mod api;
mod clock;
mod control;
mod discovery;
mod faults;
mod fixtures;
mod keys;
mod login;
mod pipeline;
mod state;
mod tls;
mod validation;
mod wire;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::routing::{get, head, post};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

pub use faults::{FaultKind, FaultMatch, FaultSpec};
pub use fixtures::{
    AddressFixture, AppFixture, CustomerFixture, FixtureError, Fixtures, NextLinkStyle, PartnerFixture, PartnerType,
    ResellerFixture, Settings, UserFixture,
};

pub use tls::{CA_FILE, TlsSource};

use state::EmulatorState;

pub struct EmulatorConfig {
    pub fixtures: Fixtures,
    /// Port 0 picks a free port.
    pub bind: SocketAddr,
}

/// A running emulator; stops when dropped or on [`RunningEmulator::shutdown`].
pub struct RunningEmulator {
    pub addr: SocketAddr,
    scheme: &'static str,
    /// The CA certificate (PEM file) clients must trust, when the emulator generated its certificate.
    pub ca_file: Option<std::path::PathBuf>,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT` or `https://...` (the login and Partner Center base URL alike).
    pub fn base_url(&self) -> String {
        let host = if self.addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else if self.addr.is_ipv6() {
            format!("[{}]", self.addr.ip())
        } else {
            self.addr.ip().to_string()
        };
        format!("{}://{host}:{}", self.scheme, self.addr.port())
    }

    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Handed to each request so a `dropConnection` fault can close the TCP connection unanswered.
#[derive(Clone)]
pub(crate) struct DropHandle(Arc<Notify>);

fn router(state: Arc<EmulatorState>) -> Router {
    let partner_center = Router::new()
        .route("/v1/profiles/organization", get(api::organization_profile))
        .route("/v1/profiles/legalbusiness", get(api::legal_business_profile))
        .route("/v1/profiles/mpn", get(api::mpn_profile))
        .route("/v1/customers", get(api::list_customers).post(api::create_customer))
        .route("/v1/customers/relationshiprequests", get(api::relationship_request))
        .route(
            "/v1/customers/{id}",
            get(api::get_customer).delete(api::delete_customer),
        )
        .route("/v1/validations/address", post(api::validate_address))
        .route("/v1/agreements", get(api::agreement_templates))
        .route(
            "/v1/customers/{id}/agreements",
            get(api::customer_agreements).post(api::record_agreement),
        )
        .route("/v1/countryvalidationrules/{iso2}", get(api::country_rules))
        .route("/v1/domains/{domain}", head(api::head_domain))
        .route("/v1/relationships", get(api::relationships))
        .route("/v1/auditrecords", get(api::audit_records))
        .route(
            "/{tenant}/oauth2/token",
            post(login::token_v1).fallback(login::method_not_allowed),
        )
        .route(
            "/{tenant}/oauth2/v2.0/token",
            post(login::token_v2).fallback(login::method_not_allowed),
        )
        .route("/{tenant}/oauth2/authorize", get(login::authorize))
        .route("/{tenant}/oauth2/v2.0/authorize", get(login::authorize))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::configuration_v2),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(discovery::configuration_v1),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::keys))
        .route("/{tenant}/discovery/keys", get(discovery::keys))
        .fallback(api::not_modeled)
        .layer(axum::middleware::from_fn_with_state(state.clone(), pipeline::pipeline));
    let control = Router::new()
        .route("/_emulator/healthz", get(control::healthz))
        .route(
            "/_emulator/requests",
            get(control::list_requests).delete(control::clear_requests),
        )
        .route(
            "/_emulator/faults",
            get(control::list_faults)
                .post(control::add_fault)
                .delete(control::clear_faults),
        )
        .route("/_emulator/refresh-tokens", post(control::issue_refresh_token))
        .route("/_emulator/refresh-tokens/revoke", post(control::revoke_refresh_tokens))
        .route("/_emulator/clock/advance", post(control::advance_clock))
        .route("/_emulator/partners/{tenant_id}", post(control::patch_partner))
        .route(
            "/_emulator/partners/{tenant_id}/indirect-resellers",
            post(control::upsert_reseller),
        )
        .route("/_emulator/customers", get(control::list_customers))
        .route("/_emulator/agreements", get(control::list_agreements))
        .route(
            "/_emulator/partners/{tenant_id}/customers",
            post(control::add_customers),
        )
        .route(
            "/_emulator/partners/{tenant_id}/customers/{customer_id}",
            post(control::update_customer).delete(control::remove_customer),
        )
        .route(
            "/_emulator/partners/{tenant_id}/invitations/accept",
            post(control::accept_invitation),
        );
    control.merge(partner_center).with_state(state)
}

/// Starts the emulator (plain http) on `config.bind` and returns once it accepts connections.
pub async fn start(config: EmulatorConfig) -> anyhow::Result<RunningEmulator> {
    start_with(config, None).await
}

/// Starts the emulator's TLS listener (https) on `config.bind`.
pub async fn start_tls(config: EmulatorConfig, source: &TlsSource) -> anyhow::Result<RunningEmulator> {
    let tls = tls::load(source)?;
    start_with(config, Some(tls)).await
}

async fn start_with(config: EmulatorConfig, tls: Option<tls::Tls>) -> anyhow::Result<RunningEmulator> {
    config.fixtures.validate()?;
    let listener = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("emulator: cannot listen on {}", config.bind))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let ca_file = tls.as_ref().and_then(|t| t.ca_file.clone());
    let acceptor = tls.map(|t| t.acceptor);
    let app = router(Arc::new(EmulatorState::new(config.fixtures, scheme)));
    let (shutdown, mut stop) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    // Transient accept errors (e.g. EMFILE) must not end the emulator.
                    Err(_) => { tokio::time::sleep(std::time::Duration::from_millis(50)).await; continue }
                },
                _ = stop.changed() => break,
            };
            let app = app.clone();
            let stop_conn = stop.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                match acceptor {
                    None => serve_connection(stream, app, stop_conn).await,
                    // A failed handshake (e.g. a client that does not trust the CA) only ends this connection.
                    Some(acceptor) => {
                        let handshake =
                            tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(stream)).await;
                        if let Ok(Ok(tls)) = handshake {
                            serve_connection(tls, app, stop_conn).await;
                        }
                    }
                }
            });
        }
    });
    Ok(RunningEmulator {
        addr,
        scheme,
        ca_file,
        shutdown,
        task: Some(task),
    })
}

async fn serve_connection<S>(stream: S, app: Router, mut stop: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let kill = Arc::new(Notify::new());
    let handle = DropHandle(kill.clone());
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(handle.clone());
        let app = app.clone();
        async move { Ok::<_, Infallible>(app.oneshot(req).await.unwrap_or_else(|e| match e {})) }
    });
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    // Dropping the connection future closes the socket without a response.
    tokio::select! {
        _ = conn => {}
        _ = kill.notified() => {}
        _ = stop.changed() => {}
    }
}

/// CLI entry point: load fixtures from `fixtures_path`, serve on `listen` (with TLS when `tls` is
/// given) until Ctrl-C/SIGTERM.
pub async fn serve_forever(
    fixtures_path: &std::path::Path,
    listen: SocketAddr,
    tls: Option<TlsSource>,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(fixtures_path)
        .with_context(|| format!("--fixtures: cannot read {}", fixtures_path.display()))?;
    let fixtures = Fixtures::from_yaml(&text)
        .with_context(|| format!("--fixtures: {} is not a valid fixtures file", fixtures_path.display()))?;
    let config = EmulatorConfig { fixtures, bind: listen };
    let running = match &tls {
        None => start(config).await?,
        Some(source) => start_tls(config, source).await?,
    };
    match &running.ca_file {
        Some(ca) => {
            tracing::info!(url = %running.base_url(), ca = %ca.display(), "Partner Center emulator listening (clients must trust the CA certificate)")
        }
        None => tracing::info!(url = %running.base_url(), "Partner Center emulator listening"),
    }
    wait_for_signal().await;
    running.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
