//! Operator settings: command-line flags with environment fallbacks (the Helm chart sets them).

use crate::runtime::telemetry::LogFormat;
use clap::Args;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Hosts of the real clouds' login authorities and Partner Center APIs (docs/concepts.md, "What the operator checks against Partner Center").
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

    /// Endpoints (`[scheme://]host[:port]`) that spec.endpoints may point at, comma-separated. No
    /// scheme means https; no port means 443 (80 for `http://`). Plain http is only allowed for
    /// loopback hosts or entries written with `http://`. Default: the real clouds' hosts on 443.
    #[arg(long, env = "PCO_ENDPOINT_ALLOW_LIST", value_delimiter = ',', value_parser = check_allow_entry)]
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

    /// Partner Center provisioning calls (Customer look-ups, checks, creates) in flight at once per
    /// connection: Partner Center's rate limit is per partner tenant.
    #[arg(long, env = "PCO_CUSTOMER_CALLS_PER_CONNECTION", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub customer_calls_per_connection: u16,

    /// Partner Center calls per connection and hour that fetch declared customers' details (country,
    /// indirect reseller) for the audit; each tenant costs one call, once. 0 turns the fetching off.
    #[arg(long, env = "PCO_INVENTORY_DETAIL_CALLS_PER_HOUR", default_value_t = 600, value_parser = clap::value_parser!(u32).range(0..=36000))]
    pub inventory_detail_calls_per_hour: u32,

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

    /// Whether a connection's spec.endpoints may point at `url`; the error says why not, in words
    /// that fit after "spec.endpoints.login ...: ". See [`endpoint_decision`].
    pub fn endpoint_allowed(&self, url: &url::Url) -> Result<(), String> {
        if self.endpoint_allow_list.is_empty() {
            endpoint_decision(REAL_CLOUD_HOSTS, url)
        } else {
            endpoint_decision(&self.endpoint_allow_list, url)
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

/// One allow-list entry: `[scheme://]host[:port]`, normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowEntry {
    /// The entry was written with `http://`: plain http to this host and port is allowed.
    pub plain_http: bool,
    /// Lower-case host as the `url` crate writes it (IPv6 in brackets).
    pub host: String,
    pub port: u16,
}

/// Parses an allow-list entry. No scheme means https; no port means 443 (80 for `http://`).
pub fn parse_allow_entry(entry: &str) -> Result<AllowEntry, String> {
    let e = entry.trim();
    let (plain_http, rest) = if let Some(r) = e.strip_prefix("http://") {
        (true, r)
    } else if let Some(r) = e.strip_prefix("https://") {
        (false, r)
    } else if e.contains("://") {
        return Err(format!("'{e}' has a scheme other than http:// or https://"));
    } else {
        (false, e)
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return Err(format!(
            "'{e}' is not of the form [scheme://]host[:port] (no path, query or user)"
        ));
    }
    let scheme = if plain_http { "http" } else { "https" };
    let url =
        url::Url::parse(&format!("{scheme}://{rest}")).map_err(|err| format!("'{e}' is not a host[:port] ({err})"))?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("'{e}' has no host"))?;
    Ok(AllowEntry {
        plain_http,
        host: host.to_ascii_lowercase(),
        port: url.port_or_known_default().unwrap_or(if plain_http { 80 } else { 443 }),
    })
}

/// clap's check of `--endpoint-allow-list`: a malformed entry stops the operator at start-up.
fn check_allow_entry(entry: &str) -> Result<String, String> {
    parse_allow_entry(entry).map(|_| entry.trim().to_string())
}

/// True for 127.0.0.0/8, ::1 and `localhost`: traffic that never leaves the machine (or pod), where
/// plain http carries no risk of a secret crossing a network.
pub fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
    }
}

/// Whether `url` may be used by a connection's spec.endpoints under `allow_list` (pure).
///
/// The scheme and port count, not only the host: a host-only match once let a tenant make the
/// operator POST its client secret and refresh token over plain http to a real Microsoft host name
/// on any port. https is required, except for loopback hosts and for entries written `http://`
/// (an in-cluster development emulator; such an entry also allows https on its port, which is never
/// weaker); the port must be the entry's (443 when it names none).
pub fn endpoint_decision<S: AsRef<str>>(allow_list: &[S], url: &url::Url) -> Result<(), String> {
    let scheme = url.scheme();
    if scheme != "https" && scheme != "http" {
        return Err(format!("the scheme '{scheme}' is not allowed; use https://"));
    }
    let Some(host) = url.host() else {
        return Err("the URL has no host".to_string());
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL carries a user name or password; remove it".to_string());
    }
    let host_text = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = url.port_or_known_default().unwrap_or(0);
    let entries: Vec<AllowEntry> = allow_list
        .iter()
        .filter_map(|e| parse_allow_entry(e.as_ref()).ok())
        .collect();
    let same_host: Vec<&AllowEntry> = entries.iter().filter(|e| e.host == host_text).collect();
    if same_host.is_empty() {
        return Err(format!(
            "host '{host_text}' is not in the operator's endpoint allow-list"
        ));
    }
    let plain = scheme == "http";
    let loopback = is_loopback(&host);
    let usable = |e: &&&AllowEntry| !plain || e.plain_http || loopback;
    if same_host.iter().filter(usable).any(|e| e.port == port) {
        return Ok(());
    }
    if plain && !loopback && !same_host.iter().any(|e| e.plain_http) {
        return Err(format!(
            "plain http is only allowed for loopback hosts or an allow-list entry written as http://{host_text}:{port}; use https://"
        ));
    }
    let mut ports: Vec<String> = same_host.iter().filter(usable).map(|e| e.port.to_string()).collect();
    ports.dedup();
    Err(format!(
        "port {port} is not allowed for host '{host_text}' (allowed: {})",
        ports.join(", ")
    ))
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

    fn decide(list: &[&str], url: &str) -> Result<(), String> {
        endpoint_decision(list, &url::Url::parse(url).unwrap())
    }

    #[test]
    fn default_allow_list_is_the_real_clouds_on_443() {
        let cli = Cli::parse_from(["x"]);
        let ok = |u: &str| cli.s.endpoint_allowed(&url::Url::parse(u).unwrap());
        let cases: &[(&str, Result<(), &str>)] = &[
            ("https://api.partnercenter.microsoft.com", Ok(())),
            ("https://login.microsoftonline.com:443/", Ok(())),
            ("https://LOGIN.microsoftonline.com", Ok(())),
            ("https://login.chinacloudapi.cn", Ok(())),
            (
                "http://login.microsoftonline.com:8080",
                Err(
                    "plain http is only allowed for loopback hosts or an allow-list entry written as http://login.microsoftonline.com:8080; use https://",
                ),
            ),
            (
                "http://api.partnercenter.microsoft.com",
                Err(
                    "plain http is only allowed for loopback hosts or an allow-list entry written as http://api.partnercenter.microsoft.com:80; use https://",
                ),
            ),
            (
                "https://login.microsoftonline.com:8443",
                Err("port 8443 is not allowed for host 'login.microsoftonline.com' (allowed: 443)"),
            ),
            (
                "http://127.0.0.1:8085",
                Err("host '127.0.0.1' is not in the operator's endpoint allow-list"),
            ),
            (
                "https://evil.example",
                Err("host 'evil.example' is not in the operator's endpoint allow-list"),
            ),
            (
                "ftp://login.microsoftonline.com",
                Err("the scheme 'ftp' is not allowed; use https://"),
            ),
            (
                "https://user:pw@login.microsoftonline.com",
                Err("the URL carries a user name or password; remove it"),
            ),
        ];
        for (url, want) in cases {
            assert_eq!(ok(url), want.map_err(str::to_string), "{url}");
        }
    }

    #[test]
    fn explicit_allow_list_entries_name_scheme_host_and_port() {
        let list = [
            "127.0.0.1:8085",
            "localhost:9000",
            "[::1]:7000",
            "emulator.dev",
            "https://proxy.example:8443",
            "http://pco-emulator.csp-system.svc:8085",
            "http://plain.example",
        ];
        let cases: &[(&str, Result<(), &str>)] = &[
            // loopback: plain http allowed, the port must match
            ("http://127.0.0.1:8085", Ok(())),
            ("https://127.0.0.1:8085", Ok(())),
            (
                "http://127.0.0.1:9999",
                Err("port 9999 is not allowed for host '127.0.0.1' (allowed: 8085)"),
            ),
            ("http://localhost:9000/base/", Ok(())),
            ("http://[::1]:7000", Ok(())),
            (
                "http://127.0.0.2:8085",
                Err("host '127.0.0.2' is not in the operator's endpoint allow-list"),
            ),
            // a host-only entry means https on 443
            ("https://emulator.dev", Ok(())),
            ("https://emulator.dev:443", Ok(())),
            (
                "https://emulator.dev:8443",
                Err("port 8443 is not allowed for host 'emulator.dev' (allowed: 443)"),
            ),
            (
                "http://emulator.dev:443",
                Err(
                    "plain http is only allowed for loopback hosts or an allow-list entry written as http://emulator.dev:443; use https://",
                ),
            ),
            ("https://proxy.example:8443", Ok(())),
            (
                "https://proxy.example",
                Err("port 443 is not allowed for host 'proxy.example' (allowed: 8443)"),
            ),
            // an explicit http:// entry: that scheme, host and port only
            ("http://pco-emulator.csp-system.svc:8085", Ok(())),
            (
                "http://pco-emulator.csp-system.svc:80",
                Err("port 80 is not allowed for host 'pco-emulator.csp-system.svc' (allowed: 8085)"),
            ),
            // https is never weaker than the http an entry allows
            ("https://pco-emulator.csp-system.svc:8085", Ok(())),
            ("http://plain.example", Ok(())),
            ("http://plain.example:80", Ok(())),
            // the explicit list replaces the default
            (
                "https://api.partnercenter.microsoft.com",
                Err("host 'api.partnercenter.microsoft.com' is not in the operator's endpoint allow-list"),
            ),
        ];
        for (url, want) in cases {
            assert_eq!(decide(&list, url), want.map_err(str::to_string), "{url}");
        }
        let cli = Cli::parse_from(["x", "--endpoint-allow-list", "127.0.0.1:8085,http://emulator.dev:8085"]);
        assert_eq!(
            cli.s
                .endpoint_allowed(&url::Url::parse("http://emulator.dev:8085").unwrap()),
            Ok(())
        );
        assert_eq!(cli.s.default_sync_interval, Duration::from_secs(900));
    }

    #[test]
    fn allow_list_entries_are_checked_at_start_up() {
        type Parsed = Result<(bool, &'static str, u16), &'static str>;
        let cases: &[(&str, Parsed)] = &[
            ("emulator.dev", Ok((false, "emulator.dev", 443))),
            ("Emulator.DEV:8443", Ok((false, "emulator.dev", 8443))),
            ("http://emulator.dev", Ok((true, "emulator.dev", 80))),
            ("https://emulator.dev/", Ok((false, "emulator.dev", 443))),
            ("[::1]:7000", Ok((false, "[::1]", 7000))),
            ("ftp://x", Err("'ftp://x' has a scheme other than http:// or https://")),
            (
                "x/path",
                Err("'x/path' is not of the form [scheme://]host[:port] (no path, query or user)"),
            ),
            (
                "u@x",
                Err("'u@x' is not of the form [scheme://]host[:port] (no path, query or user)"),
            ),
            (
                "",
                Err("'' is not of the form [scheme://]host[:port] (no path, query or user)"),
            ),
            ("x:99999", Err("'x:99999' is not a host[:port] (invalid port number)")),
        ];
        for (entry, want) in cases {
            let got = parse_allow_entry(entry).map(|e| (e.plain_http, e.host, e.port));
            assert_eq!(
                got,
                want.map(|(p, h, n)| (p, h.to_string(), n)).map_err(str::to_string),
                "{entry}"
            );
        }
        let refused = Cli::try_parse_from(["x", "--endpoint-allow-list", "ok.example,ftp://bad"]);
        let msg = refused.err().expect("a bad entry is refused").to_string();
        assert!(
            msg.contains("--endpoint-allow-list") && msg.contains("ftp://bad"),
            "{msg}"
        );
    }
}
