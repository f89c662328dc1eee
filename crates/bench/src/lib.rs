//! What the benchmark binaries share: bulk server-side apply, watch caches of one kind in the
//! bench process, the end condition of a measured phase, and the operator process they measure.

use anyhow::{Context as _, Result};
use futures::{StreamExt, stream};
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;
use std::ops::ControlFlow;
use std::path::Path;
use std::process::Command;

/// A phase's end condition for `wait_until`: done, or how far it got.
pub fn done_when(done: bool, progress: String) -> ControlFlow<(), String> {
    if done {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(progress)
    }
}

/// Server-side applies `objects` (namespace, object, kind) as `field_manager`, `writers` at once.
pub async fn apply_all(
    client: &kube::Client,
    field_manager: &str,
    objects: Vec<(Option<String>, Value, ApiResource)>,
    writers: usize,
) -> Result<()> {
    let pp = PatchParams::apply(field_manager).force();
    let results: Vec<Result<()>> = stream::iter(objects)
        .map(|(ns, obj, ar)| {
            let client = client.clone();
            let pp = pp.clone();
            async move {
                let api: Api<DynamicObject> = match &ns {
                    Some(ns) => Api::namespaced_with(client, ns, &ar),
                    None => Api::all_with(client, &ar),
                };
                let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
                api.patch(&name, &pp, &Patch::Apply(&obj))
                    .await
                    .with_context(|| format!("apply {} {name}", ar.kind))?;
                Ok(())
            }
        })
        .buffer_unordered(writers.max(1))
        .collect()
        .await;
    results.into_iter().collect()
}

/// A watch cache of one kind in the bench process (what Ready and convergence are judged on; no
/// API calls while polling it).
pub fn watch_kind(client: &kube::Client, ar: ApiResource) -> Store<DynamicObject> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    let writer = reflector::store::Writer::new(ar);
    let reader = writer.as_reader();
    let events = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(|o: &mut DynamicObject| o.managed_fields_mut().clear())
        .reflect(writer)
        .applied_objects();
    tokio::spawn(async move {
        futures::pin_mut!(events);
        while events.next().await.is_some() {}
    });
    reader
}

/// Starts the operator binary `bin` as the control plane's least-privilege operator user, for the
/// provider namespace `csp-system`, allowed to call only the emulator at `emulator_addr`, with
/// `concurrency` reconciles at once per kind, `extra` flags and `env`.
pub fn start_operator(
    bin: &Path,
    cp: &pco_test_kit::ControlPlane,
    emulator_addr: &str,
    concurrency: u16,
    extra: &[&str],
    env: &[(&str, String)],
) -> Result<pco_test_kit::Operator> {
    let admin = pco_test_kit::free_loopback_addr();
    let mut cmd = Command::new(bin);
    cmd.args([
        "run",
        "--provider-namespace",
        "csp-system",
        "--endpoint-allow-list",
        emulator_addr,
    ])
    .args(["--admin-addr", &admin, "--identity", "bench"])
    .args(["--concurrency", &concurrency.to_string()])
    .args(extra)
    .env("KUBECONFIG", cp.kubeconfig(pco_test_kit::User::Operator))
    .env("PCO_LOG_LEVEL", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    pco_test_kit::Operator::spawn(cmd, cp.dir().join("operator.log"), Some(admin))
        .with_context(|| format!("start {} (build it: cargo build --release)", bin.display()))
}

/// The operator's own Partner Center client, pointed at the emulator at `emulator_base` (Partner
/// Center and login), as `client_id` of partner `tenant`: the floor clients' way to make the
/// operator's requests without the operator.
pub fn emulator_client(
    emulator_base: &str,
    tenant: &str,
    mode: partner_center_operator::api::AuthMode,
    client_id: &str,
    client_secret: &str,
    refresh_token: Option<&str>,
) -> Result<partner_center_operator::partner_center::PartnerCenterClient> {
    use partner_center_operator::partner_center::{
        ConnectionSettings, Credentials, Endpoints, MemoryRefreshTokenSink, PartnerCenterClient,
    };
    use secrecy::SecretString;
    let base = url::Url::parse(emulator_base)?;
    let mut settings = ConnectionSettings::new(tenant, partner_center_operator::api::Cloud::Global, mode);
    settings.endpoints = Some(Endpoints {
        partner_center: base.clone(),
        login: base,
    });
    Ok(PartnerCenterClient::new(
        settings,
        Credentials {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.to_string()),
            refresh_token: refresh_token.map(|t| SecretString::from(t.to_string())),
        },
        std::sync::Arc::new(MemoryRefreshTokenSink::default()),
    )?)
}

/// What every benchmark measures against: a fresh control plane (kept after the run when `keep`),
/// the operator's RBAC installed for `namespaces`, the emulator serving `fixtures`, and an admin
/// client (user agent `agent`, so its requests can be told apart in the audit log).
pub struct Setup {
    pub cp: pco_test_kit::ControlPlane,
    pub emu: partner_center_emulator::RunningEmulator,
    pub control: pco_test_kit::EmulatorControl,
    pub admin: kube::Client,
}

pub async fn setup(fixtures: &str, namespaces: &[&str], agent: &'static str, keep: bool) -> Result<Setup> {
    let mut cp = pco_test_kit::ControlPlane::start().await?;
    if keep {
        cp.keep_data();
    }
    let emu = pco_test_kit::start_emulator(fixtures).await?;
    let control = pco_test_kit::EmulatorControl::new(&emu);
    cp.install_operator(namespaces);
    let admin = cp.client_with_agent(pco_test_kit::User::Admin, agent).await?;
    Ok(Setup {
        cp,
        emu,
        control,
        admin,
    })
}
