//! `check`: authenticate with the given settings and credentials and print what Partner Center
//! reports (token tenant and MFA, organization profile, country, customer count, indirect resellers).
//! Each item is reported on its own, so one refusal (e.g. App-only on a profile) does not hide the rest.

use anyhow::Context;
use clap::Args;
use k8s_openapi::api::core::v1::Secret;
use secrecy::SecretString;
use std::fmt::Display;
use std::sync::Arc;

use super::consent::{ConnectionArgs, SecretRefreshTokenSink, secret_from_env};
use crate::api::AuthMode;
use crate::partner_center::{
    Credentials, MemoryRefreshTokenSink, PartnerCenterApi, PartnerCenterClient, PartnerCenterError,
    RefreshTokenSink,
};

#[derive(Args, Clone, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// AppPlusUser (refresh token) or AppOnly (client credentials).
    #[arg(long, default_value = "AppPlusUser", value_parser = parse_mode)]
    pub auth_mode: AuthMode,
    /// Read clientId/clientSecret/refreshToken from this Secret (and write rotated refresh tokens back).
    #[arg(long, requires = "namespace")]
    pub secret_name: Option<String>,
    /// Namespace of --secret-name.
    #[arg(long)]
    pub namespace: Option<String>,
    /// Without --secret-name: the application (client) id.
    #[arg(long, required_unless_present = "secret_name")]
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
        _ => Err(format!(
            "unknown auth mode {s:?}; use AppPlusUser or AppOnly"
        )),
    }
}

pub async fn run(args: CheckArgs) -> anyhow::Result<()> {
    crate::tls::install_crypto_provider();
    let settings = args.connection.settings(args.auth_mode)?;
    let (credentials, sink): (Credentials, Arc<dyn RefreshTokenSink>) = match &args.secret_name {
        Some(name) => {
            let namespace = args
                .namespace
                .clone()
                .context("--namespace is required with --secret-name")?;
            let client = kube::Client::try_default()
                .await
                .context("cannot reach the Kubernetes API (kubeconfig)")?;
            let creds = read_secret(&client, &namespace, name).await?;
            (
                creds,
                Arc::new(SecretRefreshTokenSink {
                    client,
                    namespace,
                    name: name.clone(),
                }),
            )
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
            if args.auth_mode == AuthMode::AppPlusUser {
                eprintln!(
                    "note: refresh tokens rotate; the new one is kept in memory only (use --secret-name to store it)"
                );
            }
            (creds, Arc::new(MemoryRefreshTokenSink::default()))
        }
    };
    let client = PartnerCenterClient::new(settings.clone(), credentials, sink)?;
    let report = check(&client, &settings.partner_tenant_id).await;
    print!("{report}");
    if report.failed_auth {
        anyhow::bail!("authentication failed");
    }
    Ok(())
}

/// What `check` found, printable.
pub struct Report {
    pub lines: Vec<(String, String)>,
    pub failed_auth: bool,
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
pub async fn check(api: &dyn PartnerCenterApi, expected_tenant: &str) -> Report {
    let mut lines = Vec::new();
    let claims = match api.token_claims().await {
        Ok(c) => c,
        Err(e) => {
            lines.push((
                "authentication".into(),
                format!("FAILED ({}: {e})", e.reason()),
            ));
            return Report {
                lines,
                failed_auth: true,
            };
        }
    };
    let tid = claims.tid.clone().unwrap_or_else(|| "(none)".into());
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
            lines.push(("company".into(), p.company_name.clone().unwrap_or_default()));
            lines.push((
                "profile tenant".into(),
                p.tenant_id.clone().unwrap_or_default(),
            ));
            lines.push((
                "default domain".into(),
                p.domain.clone().unwrap_or_default(),
            ));
            lines.push((
                "country".into(),
                p.country().unwrap_or("(none)").to_string(),
            ));
        }
        Err(e) => {
            lines.push(("organization profile".into(), refused(&e)));
            match api.legal_business_profile().await {
                Ok(l) => {
                    lines.push((
                        "company (legal)".into(),
                        l.company_name.clone().unwrap_or_default(),
                    ));
                    lines.push((
                        "country (legal)".into(),
                        l.country().unwrap_or("(none)").to_string(),
                    ));
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
        Ok(n) => lines.push(("customers".into(), n.to_string())),
        Err(e) => lines.push(("customers".into(), refused(&e))),
    }
    match api.indirect_resellers().await {
        Ok(r) => lines.push(("indirect resellers".into(), r.len().to_string())),
        Err(e) => lines.push(("indirect resellers".into(), refused(&e))),
    }
    Report {
        lines,
        failed_auth: false,
    }
}

async fn read_secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> anyhow::Result<Credentials> {
    let api: kube::Api<Secret> = kube::Api::namespaced(client.clone(), namespace);
    let secret = api
        .get(name)
        .await
        .with_context(|| format!("cannot read Secret {namespace}/{name}"))?;
    let data = secret.data.unwrap_or_default();
    let get = |key: &str| -> Option<String> {
        data.get(key)
            .map(|b| String::from_utf8_lossy(&b.0).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    Ok(Credentials {
        client_id: get("clientId")
            .with_context(|| format!("Secret {namespace}/{name} has no key clientId"))?,
        client_secret: SecretString::from(
            get("clientSecret")
                .with_context(|| format!("Secret {namespace}/{name} has no key clientSecret"))?,
        ),
        refresh_token: get("refreshToken").map(SecretString::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::{self, EmulatorConfig, Fixtures};
    use crate::partner_center::{ConnectionSettings, Endpoints};

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
        let user = check(
            &client_for(AuthMode::AppPlusUser, Some("check-rt-value")),
            tenant,
        )
        .await
        .to_string();
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
        let app_only = check(&client_for(AuthMode::AppOnly, None), tenant).await;
        let text = app_only.to_string();
        assert!(
            text.contains("App-only")
                && text.contains("AppOnlyNotAllowed")
                && text.contains("country (legal)"),
            "{text}"
        );
        assert!(!text.contains("check-secret-value"));
    }
}
