//! The Partner Center emulator (the only stand-in of the tests) in this process, and a client of
//! its control API (`/_emulator/...`: faults, clock, partner changes, the request log).

use partner_center_emulator::{self as emulator, EmulatorConfig, Fixtures, RunningEmulator};
use serde_json::Value;

/// The emulator with the fixtures `yaml`, on a free loopback port.
pub async fn start_emulator(yaml: &str) -> anyhow::Result<RunningEmulator> {
    partner_center_operator::tls::install_crypto_provider();
    let fixtures = Fixtures::from_yaml(yaml).map_err(|e| anyhow::anyhow!("emulator fixtures: {e}"))?;
    emulator::start(EmulatorConfig {
        fixtures,
        bind: "127.0.0.1:0".parse()?,
    })
    .await
}

/// A client of a running emulator's control API.
#[derive(Clone)]
pub struct EmulatorControl {
    base_url: String,
    http: reqwest::Client,
}

impl EmulatorControl {
    pub fn new(emulator: &RunningEmulator) -> Self {
        partner_center_operator::tls::install_crypto_provider();
        Self {
            base_url: emulator.base_url(),
            http: reqwest::Client::new(),
        }
    }

    /// `method path` with `body` as JSON; the JSON answer (null when it has none), or an error
    /// naming the path and the status when it did not succeed.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.base_url));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        anyhow::ensure!(resp.status().is_success(), "{path}: {}", resp.status());
        Ok(resp.json().await.unwrap_or(Value::Null))
    }

    /// The partner's customers with exactly `domain` (case-insensitive; every customer when None),
    /// as the emulator holds them: `id`, `domain`, `associatedPartnerId`, `enableGDAPByDefault`,
    /// `addressInvalid`, ... (docs/emulator.md, control API). Exactly-once tests count these.
    pub async fn customers(&self, partner: &str, domain: Option<&str>) -> anyhow::Result<Vec<Value>> {
        let mut query = format!("partner={}", percent(partner));
        if let Some(d) = domain {
            query.push_str(&format!("&domain={}", percent(d)));
        }
        let list = self
            .call(reqwest::Method::GET, &format!("/_emulator/customers?{query}"), None)
            .await?;
        Ok(list.as_array().cloned().unwrap_or_default())
    }

    /// Adds a fault (`{"match": {...}, "fault": {"kind": ...}, "count": N}`, docs/emulator.md) and
    /// returns its id. For a create whose answer is lost after the tenant exists:
    /// `{"match": {"pathPrefix": "/v1/customers", "method": "POST"}, "fault": {"kind": "dropConnection", "after": true}}`.
    pub async fn add_fault(&self, spec: Value) -> anyhow::Result<u64> {
        let created = self
            .call(reqwest::Method::POST, "/_emulator/faults", Some(spec))
            .await?;
        created["id"]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("/_emulator/faults: no id in {created}"))
    }

    /// Removes every fault.
    pub async fn clear_faults(&self) -> anyhow::Result<()> {
        self.call(reqwest::Method::DELETE, "/_emulator/faults", None)
            .await
            .map(drop)
    }

    /// Changes a partner (`country`, `sandbox`, `sellCountries`, `customerCreationAllowed`, ...).
    pub async fn patch_partner(&self, tenant: &str, patch: Value) -> anyhow::Result<Value> {
        self.call(
            reqwest::Method::POST,
            &format!("/_emulator/partners/{tenant}"),
            Some(patch),
        )
        .await
    }

    /// Adds or replaces an indirect reseller of an indirect provider (`id`, `name`, `mpnId`,
    /// `location`, `state`?, `mpaAccepted`?).
    pub async fn upsert_reseller(&self, provider: &str, reseller: Value) -> anyhow::Result<Value> {
        self.call(
            reqwest::Method::POST,
            &format!("/_emulator/partners/{provider}/indirect-resellers"),
            Some(reseller),
        )
        .await
    }

    /// The emulator's request log after sequence number `since` (0: all of it), oldest first.
    pub async fn requests_since(&self, since: u64) -> anyhow::Result<Vec<Value>> {
        let log = self
            .call(
                reqwest::Method::GET,
                &format!("/_emulator/requests?since={since}"),
                None,
            )
            .await?;
        Ok(log.as_array().cloned().unwrap_or_default())
    }

    /// The sequence number of the last request logged (0 when none): pass it to
    /// [`Self::requests_since`] to see only what comes after now.
    pub async fn last_seq(&self) -> anyhow::Result<u64> {
        let log = self.requests_since(0).await?;
        Ok(log.last().and_then(|e| e["seq"].as_u64()).unwrap_or(0))
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
fn percent(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
