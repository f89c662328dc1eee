//! `consent`: the one-time interactive authorization-code flow (Secure Application Model). Prints the
//! authorize URL, waits for the browser's redirect on a localhost port, redeems the code, and writes
//! the connection's Secret (`clientId`, `clientSecret`, `refreshToken`) by server-side apply.
//!
//! Also home of what `check` shares: the connection flags and the Secret-backed refresh-token sink.

use anyhow::{Context, bail};
use clap::Args;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;
use url::Url;

use crate::api::{AuthMode, Cloud};
use crate::partner_center::consent::{ConsentFlow, code_from_redirect, new_state};
use crate::partner_center::{ConnectionSettings, Endpoints};

/// Field manager of Secret writes by the CLI.
pub const FIELD_MANAGER: &str = "partner-center-operator-cli";

/// Which Partner Center account and app to talk to.
#[derive(Args, Clone, Debug)]
pub struct ConnectionArgs {
    /// The partner's Entra tenant id (GUID).
    #[arg(long)]
    pub tenant_id: String,
    /// Microsoft cloud: Global, USGov or China.
    #[arg(long, default_value = "Global", value_parser = parse_cloud)]
    pub cloud: Cloud,
    /// Override of the Partner Center API base URL (e.g. the emulator).
    #[arg(long)]
    pub partner_center_endpoint: Option<Url>,
    /// Override of the Entra login base URL (e.g. the emulator).
    #[arg(long)]
    pub login_endpoint: Option<Url>,
}

impl ConnectionArgs {
    pub fn settings(&self, mode: AuthMode) -> anyhow::Result<ConnectionSettings> {
        let mut s = ConnectionSettings::new(self.tenant_id.clone(), self.cloud, mode);
        s.endpoints = match (&self.partner_center_endpoint, &self.login_endpoint) {
            (None, None) => None,
            (pc, login) => {
                let cloud = crate::partner_center::config::cloud_endpoints(self.cloud);
                Some(Endpoints {
                    partner_center: pc.clone().unwrap_or(cloud.partner_center),
                    login: login.clone().unwrap_or(cloud.login),
                })
            }
        };
        s.application_name = "partner-center-operator-cli".into();
        s.validate()?;
        Ok(s)
    }
}

pub fn parse_cloud(s: &str) -> Result<Cloud, String> {
    match s.to_ascii_lowercase().as_str() {
        "global" => Ok(Cloud::Global),
        "usgov" => Ok(Cloud::USGov),
        "china" => Ok(Cloud::China),
        _ => Err(format!("unknown cloud {s:?}; use Global, USGov or China")),
    }
}

#[derive(Args, Clone, Debug)]
pub struct ConsentArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Application (client) id of the app registration.
    #[arg(long)]
    pub client_id: String,
    /// Client secret of the app registration (from the environment, never a flag, so it stays out
    /// of shell history and process lists).
    #[arg(long = "client-secret-env", default_value = "PARTNER_CENTER_CLIENT_SECRET")]
    pub client_secret_env: String,
    /// Local port for the redirect (`http://localhost:PORT/`); must be a redirect URI of the app.
    #[arg(long, default_value_t = 8400)]
    pub port: u16,
    /// Suggest this admin account on the sign-in page.
    #[arg(long)]
    pub login_hint: Option<String>,
    /// How long to wait for the browser.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub wait: Duration,
    /// Namespace of the connection's Secret.
    #[arg(long)]
    pub namespace: String,
    /// Name of the connection's Secret (created or updated).
    #[arg(long)]
    pub secret_name: String,
}

/// Reads a secret value from the named environment variable.
pub fn secret_from_env(var: &str) -> anyhow::Result<SecretString> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(SecretString::from(v.trim().to_string())),
        _ => bail!(
            "environment variable {var} is not set: export the app's client secret in it (or name another with --client-secret-env)"
        ),
    }
}

pub async fn run(args: ConsentArgs) -> anyhow::Result<()> {
    crate::tls::install_crypto_provider();
    let client_secret = secret_from_env(&args.client_secret_env)?;
    let settings = args.connection.settings(AuthMode::AppPlusUser)?;
    let flow = ConsentFlow::new(&settings, &args.client_id)?;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("--port: cannot listen on 127.0.0.1:{}", args.port))?;
    let port = listener.local_addr()?.port();
    let redirect_uri = format!("http://localhost:{port}/");
    let state = new_state();
    let url = flow.authorize_url(&redirect_uri, &state, Some("consent"), args.login_hint.as_deref());
    println!("Open this URL in a browser and sign in as a Partner Center admin (with MFA):\n\n  {url}\n");
    println!("Waiting for the redirect to {redirect_uri} ...");

    let query = wait_for_redirect(listener, args.wait).await?;
    let code = code_from_redirect(&query, &state)?;
    let result = flow.redeem(code.expose_secret(), &redirect_uri, &client_secret).await?;
    if result
        .claims
        .tid
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case(settings.partner_tenant_id.trim()))
    {
        bail!(
            "the admin signed in to tenant {} but --tenant-id is {}; sign in with an account of the partner tenant",
            result.claims.tid.as_deref().unwrap_or("?"),
            settings.partner_tenant_id
        );
    }
    if !result.claims.has_mfa() {
        eprintln!(
            "warning: the sign-in carried no MFA claim; Partner Center refuses App+User calls without it (401/900421)"
        );
    }

    let client = kube::Client::try_default()
        .await
        .context("cannot reach the Kubernetes API (kubeconfig)")?;
    write_secret(
        &client,
        &args.namespace,
        &args.secret_name,
        Some(&args.client_id),
        Some(&client_secret),
        &result.refresh_token,
    )
    .await?;
    println!(
        "Secret {}/{} written (clientId, clientSecret, refreshToken) for user {}.",
        args.namespace,
        args.secret_name,
        result.claims.upn.as_deref().unwrap_or("(unknown)")
    );
    Ok(())
}

/// Serves the redirect: returns the query string of the first request that carries `code` or `error`.
async fn wait_for_redirect(listener: tokio::net::TcpListener, wait: Duration) -> anyhow::Result<String> {
    let (tx, mut rx) = mpsc::channel::<String>(1);
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let tx = tx.clone();
        async move {
            let query = uri.query().unwrap_or("").to_string();
            let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
            if pairs.iter().any(|(k, _)| k == "code" || k == "error") {
                let _ = tx.send(query).await;
                "Consent received. You can close this window and return to the terminal."
            } else {
                "Waiting for the sign-in redirect."
            }
        }
    });
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let got = tokio::time::timeout(wait, rx.recv()).await;
    // Give the browser its response before the listener goes away.
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.abort();
    match got {
        Ok(Some(q)) => Ok(q),
        Ok(None) => bail!("the redirect listener stopped unexpectedly"),
        Err(_) => bail!(
            "no redirect within {}; run the command again (--wait sets the limit)",
            humantime::format_duration(wait)
        ),
    }
}

/// Creates or updates the connection Secret by server-side apply; only the given keys are owned
/// (and changed) by this field manager.
pub async fn write_secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    client_id: Option<&str>,
    client_secret: Option<&SecretString>,
    refresh_token: &SecretString,
) -> anyhow::Result<()> {
    let mut data = BTreeMap::new();
    if let Some(id) = client_id {
        data.insert("clientId".to_string(), ByteString(id.as_bytes().to_vec()));
    }
    if let Some(s) = client_secret {
        data.insert(
            "clientSecret".to_string(),
            ByteString(s.expose_secret().as_bytes().to_vec()),
        );
    }
    data.insert(
        "refreshToken".to_string(),
        ByteString(refresh_token.expose_secret().as_bytes().to_vec()),
    );
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        },
        data: Some(data),
        type_: Some("Opaque".into()),
        ..Default::default()
    };
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut value = serde_json::to_value(&secret)?;
    value["apiVersion"] = "v1".into();
    value["kind"] = "Secret".into();
    // Error text from the API server does not contain the Secret's data; keep ours short anyway.
    api.patch(name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(value))
        .await
        .map_err(|e| anyhow::anyhow!("cannot write Secret {namespace}/{name}: {}", kube_reason(&e)))?;
    Ok(())
}

fn kube_reason(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} ({})", s.message, s.code),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_names() {
        assert_eq!(parse_cloud("usgov").unwrap(), Cloud::USGov);
        assert_eq!(parse_cloud("China").unwrap(), Cloud::China);
        assert!(parse_cloud("germany").unwrap_err().contains("Global, USGov or China"));
    }

    #[test]
    fn endpoint_override_fills_the_other_from_the_cloud() {
        let args = ConnectionArgs {
            tenant_id: "5f0c1a2b-0000-4000-8000-000000000001".into(),
            cloud: Cloud::Global,
            partner_center_endpoint: Some(Url::parse("http://127.0.0.1:8085").unwrap()),
            login_endpoint: None,
        };
        let ep = args.settings(AuthMode::AppOnly).unwrap().effective_endpoints();
        assert_eq!(ep.partner_center.as_str(), "http://127.0.0.1:8085/");
        assert_eq!(ep.login.host_str(), Some("login.microsoftonline.com"));
    }

    #[tokio::test]
    async fn redirect_listener_returns_the_code_query() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let waiter = tokio::spawn(wait_for_redirect(listener, Duration::from_secs(10)));
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::new();
        // A favicon request does not end the wait; the redirect does.
        http.get(format!("http://127.0.0.1:{port}/favicon.ico"))
            .send()
            .await
            .unwrap();
        let body = http
            .get(format!("http://127.0.0.1:{port}/?code=abc&state=s"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(body.contains("Consent received"));
        assert_eq!(waiter.await.unwrap().unwrap(), "code=abc&state=s");
    }
}
