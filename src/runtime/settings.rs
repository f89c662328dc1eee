//! Operator settings: command-line flags with environment fallbacks (the Helm chart sets them).

use crate::runtime::telemetry::LogFormat;
use clap::Args;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Hosts of the real clouds' login authorities and Partner Center APIs (partner-center.md §1.1).
/// `spec.endpoints` may only point at these unless the operator's allow-list says otherwise.
pub const REAL_CLOUD_HOSTS: &[&str] = &[
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
    "api.partnercenter.microsoft.com",
    "partner.partnercenterapi.microsoftonline.cn",
];

#[derive(Args, Clone, Debug)]
pub struct OperatorSettings {
    /// Namespace of the service provider's own connections (also the root Reseller's spec.namespace).
    /// Defaults to the operator's own namespace (POD_NAMESPACE).
    #[arg(long, env = "PCO_PROVIDER_NAMESPACE")]
    pub provider_namespace: Option<String>,

    /// Hosts (`host` or `host:port`) that spec.endpoints may point at, comma-separated.
    /// Default: the real clouds' hosts only.
    #[arg(long, env = "PCO_ENDPOINT_ALLOW_LIST", value_delimiter = ',')]
    pub endpoint_allow_list: Vec<String>,

    /// Treat a Sandbox plan granted to a non-root Standard reseller as an error (default: warning).
    #[arg(long, env = "PCO_SANDBOX_STANDARD_IS_ERROR", default_value_t = false)]
    pub sandbox_standard_is_error: bool,

    /// Sync interval of a connection whose spec.syncInterval is unset.
    #[arg(long, env = "PCO_DEFAULT_SYNC_INTERVAL", default_value = "15m", value_parser = humantime::parse_duration)]
    pub default_sync_interval: Duration,

    /// Timeout of one Partner Center HTTP attempt (retries and Retry-After waits come on top).
    #[arg(long, env = "PCO_PARTNER_CENTER_REQUEST_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub partner_center_request_timeout: Duration,

    /// Deadline of one whole connection sync (every call, retry and wait): past it the sync ends as Timeout.
    #[arg(long, env = "PCO_PARTNER_CENTER_SYNC_DEADLINE", default_value = "90s", value_parser = humantime::parse_duration)]
    pub partner_center_sync_deadline: Duration,

    /// YAML file mapping region codes to ISO-3166 country codes; replaces entries of the built-in table.
    #[arg(long, env = "PCO_REGION_TABLE")]
    pub region_table: Option<PathBuf>,

    /// Address of the admin server (/livez, /readyz, /metrics).
    #[arg(long, env = "PCO_ADMIN_ADDR", default_value = "0.0.0.0:8080")]
    pub admin_addr: SocketAddr,

    /// Elect a leader through a Lease so only one replica writes.
    #[arg(long, env = "PCO_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,

    /// Name of the leader-election Lease (in the operator's namespace).
    #[arg(long, env = "PCO_LEASE_NAME", default_value = "partner-center-operator")]
    pub lease_name: String,

    /// Identity of this replica (Lease holder, field manager suffix, user agent). Default: hostname.
    #[arg(long, env = "PCO_IDENTITY")]
    pub identity: Option<String>,

    /// Reconciliations running at once per kind.
    #[arg(long, env = "PCO_CONCURRENCY", default_value_t = 8)]
    pub concurrency: u16,

    #[arg(long, env = "PCO_LOG_FORMAT", value_enum, default_value_t = LogFormat::Plain)]
    pub log_format: LogFormat,

    /// Log filter, e.g. `info` or `info,partner_center_operator=debug`.
    #[arg(long, env = "PCO_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
}

impl OperatorSettings {
    pub fn provider_namespace(&self) -> String {
        self.provider_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| "csp-system".to_string())
    }

    /// The operator's own namespace (Lease, Events about itself).
    pub fn own_namespace(&self) -> String {
        std::env::var("POD_NAMESPACE").unwrap_or_else(|_| self.provider_namespace())
    }

    pub fn identity(&self) -> String {
        self.identity
            .clone()
            .unwrap_or_else(|| std::env::var("HOSTNAME").unwrap_or_else(|_| format!("pco-{}", std::process::id())))
    }

    /// Whether `host` (with optional port) may be used by a connection's spec.endpoints.
    pub fn endpoint_allowed(&self, host: &str, port: Option<u16>) -> bool {
        let with_port = port.map(|p| format!("{host}:{p}"));
        let allowed = |entry: &str| entry == host || with_port.as_deref() == Some(entry);
        if self.endpoint_allow_list.is_empty() {
            REAL_CLOUD_HOSTS.iter().any(|h| allowed(h))
        } else {
            self.endpoint_allow_list.iter().any(|h| allowed(h))
        }
    }

    /// Reads the region table override, if configured.
    pub fn region_overrides(&self) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
        match &self.region_table {
            None => Ok(BTreeMap::new()),
            Some(path) => {
                let text = std::fs::read_to_string(path)?;
                serde_saphyr::from_str(&text).map_err(|e| anyhow::anyhow!("region table {}: {e}", path.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        s: OperatorSettings,
    }

    #[test]
    fn endpoint_allow_list_defaults_to_real_cloud_hosts() {
        let cli = Cli::parse_from(["x"]);
        let cases = [
            ("api.partnercenter.microsoft.com", None, true),
            ("login.microsoftonline.com", Some(443), true),
            ("127.0.0.1", Some(8085), false),
            ("evil.example", None, false),
        ];
        for (host, port, want) in cases {
            assert_eq!(cli.s.endpoint_allowed(host, port), want, "{host}:{port:?}");
        }
    }

    #[test]
    fn explicit_allow_list_replaces_the_default_and_matches_host_or_host_port() {
        let cli = Cli::parse_from(["x", "--endpoint-allow-list", "127.0.0.1:8085,emulator.dev"]);
        let cases = [
            ("127.0.0.1", Some(8085), true),
            ("127.0.0.1", Some(9999), false),
            ("emulator.dev", Some(443), true),
            ("api.partnercenter.microsoft.com", None, false),
        ];
        for (host, port, want) in cases {
            assert_eq!(cli.s.endpoint_allowed(host, port), want, "{host}:{port:?}");
        }
        assert_eq!(cli.s.default_sync_interval, Duration::from_secs(900));
    }
}
