//! `check`: authenticate with a connection's settings and credentials, print what Partner Center
//! reports (token tenant and MFA, organization profile, country, customer count, indirect resellers)
//! and whether it contradicts the declared identity — the same rule 3 the operator applies
//! (`policy::verify_connection`). Each item is reported on its own, so one refusal (e.g. App-only on a
//! profile) does not hide the rest. What a provider runs before committing a new connection to Git.

use anyhow::Context;
use clap::Args;
use std::fmt::Display;
use std::sync::Arc;

use super::consent::{ConnectionArgs, parse_cloud, secret_from_env};
use crate::api::{AuthMode, Cloud, CspType, Environment, PartnerCenterConnection};
use crate::controller::credentials::{self, SecretRefreshTokenSink};
use crate::partner_center::{
    Credentials, MemoryRefreshTokenSink, PartnerCenterApi, PartnerCenterClient, PartnerCenterError, RefreshTokenSink,
};
use crate::policy::{self, DeclaredIdentity, Observed, RegionTable, ResellerListing};

#[derive(Args, Clone, Debug)]
pub struct CheckArgs {
    /// Check a PartnerCenterConnection of the cluster, NAMESPACE/NAME: its spec gives the tenant,
    /// cloud, endpoints, auth mode and declared identity, its Secret the credentials (rotated
    /// refresh tokens are written back, as the operator does).
    #[arg(long, conflicts_with_all = ["tenant_id", "secret_name", "client_id"])]
    pub connection: Option<String>,
    /// The partner's Entra tenant id (GUID).
    #[arg(long, required_unless_present = "connection")]
    pub tenant_id: Option<String>,
    /// Microsoft cloud: Global, USGov or China.
    #[arg(long, default_value = "Global", value_parser = parse_cloud)]
    pub cloud: Cloud,
    /// Override of the Partner Center API base URL (e.g. the emulator).
    #[arg(long)]
    pub partner_center_endpoint: Option<url::Url>,
    /// Override of the Entra login base URL (e.g. the emulator).
    #[arg(long)]
    pub login_endpoint: Option<url::Url>,
    /// AppPlusUser (refresh token) or AppOnly (client credentials).
    #[arg(long, default_value = "AppPlusUser", value_parser = parse_mode)]
    pub auth_mode: AuthMode,
    /// Declared region code (e.g. EUR, NZ): checked against the partner's country.
    #[arg(long)]
    pub region: Option<String>,
    /// Declared account type: Direct or IndirectProvider.
    #[arg(long, value_parser = parse_enum::<CspType>)]
    pub csp_type: Option<CspType>,
    /// Declared environment: Production or Sandbox.
    #[arg(long, value_parser = parse_enum::<Environment>)]
    pub environment: Option<Environment>,
    /// Read clientId/clientSecret/refreshToken from this Secret (and write rotated refresh tokens back).
    #[arg(long, requires = "namespace")]
    pub secret_name: Option<String>,
    /// Namespace of --secret-name.
    #[arg(long)]
    pub namespace: Option<String>,
    /// Without --secret-name: the application (client) id.
    #[arg(long, required_unless_present_any = ["secret_name", "connection"])]
    pub client_id: Option<String>,
    /// Without --secret-name: environment variable holding the client secret.
    #[arg(long, default_value = "PARTNER_CENTER_CLIENT_SECRET")]
    pub client_secret_env: String,
    /// Without --secret-name: environment variable holding the refresh token (AppPlusUser).
    #[arg(long, default_value = "PARTNER_CENTER_REFRESH_TOKEN")]
    pub refresh_token_env: String,
}

pub fn parse_mode(s: &str) -> Result<AuthMode, String> {
    match s.to_ascii_lowercase().as_str() {
        "appplususer" => Ok(AuthMode::AppPlusUser),
        "apponly" => Ok(AuthMode::AppOnly),
        _ => Err(format!("unknown auth mode {s:?}; use AppPlusUser or AppOnly")),
    }
}

/// Parses a value the way the CRD spells it (`Direct`, `Sandbox`, ...).
fn parse_enum<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|e| e.to_string())
}

/// The declared identity to verify against, when the caller gave all of it.
fn declared(args: &CheckArgs, tenant: &str) -> Option<DeclaredIdentity> {
    Some(DeclaredIdentity {
        tenant_id: tenant.to_string(),
        region: args.region.clone()?,
        csp_type: args.csp_type?,
        environment: args.environment?,
        auth_mode: args.auth_mode,
    })
}

pub async fn run(mut args: CheckArgs) -> anyhow::Result<()> {
    crate::tls::install_crypto_provider();
    if let Some(reference) = args.connection.clone() {
        let (ns, name) = reference.split_once('/').context("--connection is NAMESPACE/NAME")?;
        let conn: PartnerCenterConnection = kube::Api::namespaced(kube_client().await?, ns)
            .get(name)
            .await
            .with_context(|| format!("cannot read PartnerCenterConnection {reference}"))?;
        use_connection(&mut args, &conn, ns);
    }
    let tenant = args
        .tenant_id
        .clone()
        .context("--tenant-id or --connection is required")?;
    let client = client_from_args(&args).await?;
    let report = check(&client, declared(&args, &tenant).as_ref(), &tenant).await;
    print!("{report}");
    if report.failed_auth {
        anyhow::bail!("authentication failed");
    }
    if report.contradicted {
        anyhow::bail!("Partner Center contradicts the declared identity");
    }
    Ok(())
}

async fn kube_client() -> anyhow::Result<kube::Client> {
    kube::Client::try_default()
        .await
        .context("cannot reach the Kubernetes API (kubeconfig)")
}

/// The connection's spec gives the tenant, cloud, endpoints, auth mode and declared identity, its
/// Secret (in the connection's namespace `ns`) the credentials.
fn use_connection(args: &mut CheckArgs, conn: &PartnerCenterConnection, ns: &str) {
    let spec = &conn.spec;
    args.tenant_id = Some(spec.partner_tenant_id.clone());
    args.cloud = spec.cloud;
    args.auth_mode = spec.auth.mode;
    args.region = Some(spec.region.clone());
    args.csp_type = Some(spec.csp_type);
    args.environment = Some(spec.environment);
    args.partner_center_endpoint = spec
        .endpoints
        .as_ref()
        .and_then(|e| e.partner_center.as_deref()?.parse().ok());
    args.login_endpoint = spec.endpoints.as_ref().and_then(|e| e.login.as_deref()?.parse().ok());
    args.secret_name = Some(spec.auth.secret_ref.name.clone());
    args.namespace = Some(ns.to_string());
}

/// A Partner Center client for a connection of the cluster, built exactly as `check --connection`
/// builds it (its Secret read with the caller's rights; rotated refresh tokens written back), for
/// the other tools that call Partner Center through a connection (`audit --live`, `import`).
pub async fn connection_client(conn: &PartnerCenterConnection) -> anyhow::Result<PartnerCenterClient> {
    let ns = conn.metadata.namespace.clone().unwrap_or_default();
    let mut args = CheckArgs {
        connection: None,
        tenant_id: None,
        cloud: Cloud::Global,
        partner_center_endpoint: None,
        login_endpoint: None,
        auth_mode: AuthMode::AppPlusUser,
        region: None,
        csp_type: None,
        environment: None,
        secret_name: None,
        namespace: None,
        client_id: None,
        client_secret_env: String::new(),
        refresh_token_env: String::new(),
    };
    use_connection(&mut args, conn, &ns);
    client_from_args(&args).await
}

async fn client_from_args(args: &CheckArgs) -> anyhow::Result<PartnerCenterClient> {
    let tenant = args
        .tenant_id
        .clone()
        .context("--tenant-id or --connection is required")?;
    let connection = ConnectionArgs {
        tenant_id: tenant.clone(),
        cloud: args.cloud,
        partner_center_endpoint: args.partner_center_endpoint.clone(),
        login_endpoint: args.login_endpoint.clone(),
    };
    let settings = connection.settings(args.auth_mode)?;
    let app_plus_user = args.auth_mode == AuthMode::AppPlusUser;
    let (credentials, sink): (Credentials, Arc<dyn RefreshTokenSink>) = match &args.secret_name {
        Some(name) => {
            let namespace = args
                .namespace
                .clone()
                .context("--namespace is required with --secret-name")?;
            let client = kube_client().await?;
            let secret = credentials::read_secret(&client, &namespace, name)
                .await
                .with_context(|| format!("cannot read Secret {namespace}/{name}"))?
                .with_context(|| format!("Secret {namespace}/{name} not found"))?;
            let creds = credentials::parse_secret(&secret, app_plus_user).map_err(|p| anyhow::anyhow!(p.message))?;
            let sink = SecretRefreshTokenSink::new(client, namespace, name.clone(), &creds, Arc::new(|_| {}));
            (creds.credentials, Arc::new(sink))
        }
        None => {
            let refresh_token = match args.auth_mode {
                AuthMode::AppOnly => None,
                AuthMode::AppPlusUser => Some(secret_from_env(&args.refresh_token_env)?),
            };
            let creds = Credentials {
                client_id: args.client_id.clone().unwrap_or_default(),
                client_secret: secret_from_env(&args.client_secret_env)?,
                refresh_token,
            };
            if app_plus_user {
                eprintln!(
                    "note: refresh tokens rotate; the new one is kept in memory only (use --secret-name to store it)"
                );
            }
            (creds, Arc::new(MemoryRefreshTokenSink::default()))
        }
    };
    Ok(PartnerCenterClient::new(settings, credentials, sink)?)
}

/// What `check` found, printable.
pub struct Report {
    pub lines: Vec<(String, String)>,
    pub failed_auth: bool,
    /// Rule 3 found a contradiction with the declared identity.
    pub contradicted: bool,
}

impl Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let width = self.lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in &self.lines {
            writeln!(f, "{k:width$}  {v}")?;
        }
        Ok(())
    }
}

fn refused(e: &PartnerCenterError) -> String {
    format!("not available ({}: {e})", e.reason())
}

/// Runs the checks through the trait (so any implementation can be checked).
pub async fn check(api: &dyn PartnerCenterApi, declared: Option<&DeclaredIdentity>, expected_tenant: &str) -> Report {
    let mut lines = Vec::new();
    let mut observed = Observed {
        token_tid: String::new(),
        org_profile_tenant: None,
        country: None,
        indirect_resellers: ResellerListing::NotChecked,
        customer_count: None,
    };
    let claims = match api.token_claims().await {
        Ok(c) => c,
        Err(e) => {
            lines.push(("authentication".into(), format!("FAILED ({}: {e})", e.reason())));
            return Report {
                lines,
                failed_auth: true,
                contradicted: false,
            };
        }
    };
    let tid = claims.tid.clone().unwrap_or_else(|| "(none)".into());
    observed.token_tid = claims.tid.clone().unwrap_or_default();
    let tenant_note = if tid.eq_ignore_ascii_case(expected_tenant.trim()) {
        "matches"
    } else {
        "DIFFERS from --tenant-id"
    };
    lines.push(("token tenant".into(), format!("{tid} ({tenant_note})")));
    lines.push((
        "token kind".into(),
        if claims.is_user_token() {
            format!(
                "App+User ({}, MFA {})",
                claims.upn.as_deref().unwrap_or("unknown user"),
                if claims.has_mfa() { "yes" } else { "NO" }
            )
        } else {
            "App-only".into()
        },
    ));
    match api.organization_profile().await {
        Ok(p) => {
            observed.org_profile_tenant = p.tenant_id.clone();
            observed.country = p.country().map(str::to_string);
            lines.push(("company".into(), p.company_name.clone().unwrap_or_default()));
            lines.push(("profile tenant".into(), p.tenant_id.clone().unwrap_or_default()));
            lines.push(("default domain".into(), p.domain.clone().unwrap_or_default()));
            lines.push(("country".into(), p.country().unwrap_or("(none)").to_string()));
        }
        Err(e) => {
            lines.push(("organization profile".into(), refused(&e)));
            match api.legal_business_profile().await {
                Ok(l) => {
                    lines.push(("company (legal)".into(), l.company_name.clone().unwrap_or_default()));
                    lines.push(("country (legal)".into(), l.country().unwrap_or("(none)").to_string()));
                }
                Err(e) => lines.push(("legal business profile".into(), refused(&e))),
            }
        }
    }
    match api.mpn_profile().await {
        Ok(m) => lines.push(("partner id (MPN)".into(), m.mpn_id.unwrap_or_default())),
        Err(e) => lines.push(("partner id (MPN)".into(), refused(&e))),
    }
    match api.count_customers().await {
        Ok(n) => {
            observed.customer_count = Some(n);
            lines.push(("customers".into(), n.to_string()))
        }
        Err(e) => lines.push(("customers".into(), refused(&e))),
    }
    match api.indirect_resellers().await {
        Ok(r) => {
            observed.indirect_resellers = ResellerListing::Count(r.len() as u64);
            lines.push(("indirect resellers".into(), r.len().to_string()))
        }
        Err(e) => {
            if matches!(
                e,
                PartnerCenterError::Forbidden { .. } | PartnerCenterError::AppOnlyNotAllowed { .. }
            ) {
                observed.indirect_resellers = ResellerListing::Denied;
            }
            lines.push(("indirect resellers".into(), refused(&e)))
        }
    }
    let mut contradicted = false;
    match declared {
        None => lines.push((
            "verdict".into(),
            "not verified (give --region, --csp-type and --environment, or --connection)".into(),
        )),
        Some(d) => {
            let v = policy::verify_connection(d, &observed, &RegionTable::default());
            contradicted = !v.verified;
            let mut text = format!("{}: {}", v.reason, v.message);
            if !v.unchecked.is_empty() {
                text.push_str(&format!(" (not checked: {})", v.unchecked.join("; ")));
            }
            lines.push(("verdict".into(), text));
        }
    }
    Report {
        lines,
        failed_auth: false,
        contradicted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CspType, Environment};
    use crate::partner_center::{ConnectionSettings, Endpoints};
    use partner_center_emulator::{self as emulator, EmulatorConfig, Fixtures};
    use secrecy::SecretString;

    #[test]
    fn modes() {
        assert_eq!(parse_mode("apponly").unwrap(), AuthMode::AppOnly);
        assert_eq!(parse_mode("AppPlusUser").unwrap(), AuthMode::AppPlusUser);
        assert!(parse_mode("user").is_err());
    }

    #[tokio::test]
    async fn check_report_against_the_emulator() {
        crate::tls::install_crypto_provider();
        let tenant = "5f0c1a2b-0000-4000-8000-0000000000c1";
        let app = "a9b8c7d6-0000-4000-8000-0000000000c1";
        let yaml = format!(
            r#"
partners:
  - tenantId: {tenant}
    companyName: Check Partner
    domain: checkpartner.onmicrosoft.com
    email: ops@check.example
    country: FR
    mpnId: "7654321"
    partnerType: IndirectProvider
    apps:
      - {{ clientId: {app}, clientSecret: "check-secret-value" }}
    users:
      - {{ upn: admin@checkpartner.onmicrosoft.com, refreshToken: "check-rt-value" }}
    generatedCustomers: 7
    indirectResellers:
      - {{ id: 484e548c-0000-4000-8000-0000000000c1, name: R1, mpnId: "1", location: FR }}
"#
        );
        let emu = emulator::start(EmulatorConfig {
            fixtures: Fixtures::from_yaml(&yaml).unwrap(),
            bind: "127.0.0.1:0".parse().unwrap(),
        })
        .await
        .unwrap();
        let base = url::Url::parse(&emu.base_url()).unwrap();
        let client_for = |mode: AuthMode, rt: Option<&str>| {
            let mut s = ConnectionSettings::new(tenant, crate::api::Cloud::Global, mode);
            s.endpoints = Some(Endpoints {
                partner_center: base.clone(),
                login: base.clone(),
            });
            PartnerCenterClient::new(
                s,
                Credentials {
                    client_id: app.into(),
                    client_secret: SecretString::from("check-secret-value"),
                    refresh_token: rt.map(SecretString::from),
                },
                Arc::new(MemoryRefreshTokenSink::default()),
            )
            .unwrap()
        };
        let declared = |region: &str, csp_type, environment| DeclaredIdentity {
            tenant_id: tenant.into(),
            region: region.into(),
            csp_type,
            environment,
            auth_mode: AuthMode::AppPlusUser,
        };
        let user_client = client_for(AuthMode::AppPlusUser, Some("check-rt-value"));
        let fits = declared("FR", CspType::IndirectProvider, Environment::Production);
        let report = check(&user_client, Some(&fits), tenant).await;
        assert!(!report.contradicted, "{report}");
        let user = report.to_string();
        assert!(user.contains("verdict") && user.contains("Verified"), "{user}");
        // Declared as a Direct account in NZ: Partner Center contradicts it (rule 3, as the operator applies it).
        let wrong = declared("NZ", CspType::Direct, Environment::Production);
        let report = check(&user_client, Some(&wrong), tenant).await;
        assert!(report.contradicted, "{report}");
        assert!(report.to_string().contains("RegionMismatch"), "{report}");
        for want in [
            "matches",
            "MFA yes",
            "Check Partner",
            "FR",
            "7654321",
            "customers",
            "7",
            "indirect resellers  1",
        ] {
            assert!(user.contains(want), "{want:?} in\n{user}");
        }
        let app_only = check(&client_for(AuthMode::AppOnly, None), None, tenant).await;
        let text = app_only.to_string();
        assert!(
            text.contains("App-only") && text.contains("AppOnlyNotAllowed") && text.contains("country (legal)"),
            "{text}"
        );
        assert!(!text.contains("check-secret-value"));
    }
}
