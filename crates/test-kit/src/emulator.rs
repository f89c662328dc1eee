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
}
