//! Microsoft's own SDK against the emulator: MSAL for Python (pinned in
//! hack/tools/python/requirements.txt, installed by hack/tools/python/venv.sh into a cached
//! virtualenv) obtains tokens from the emulator's TLS listener by client credentials, authorization
//! code with PKCE (this test plays the browser on the authorize step), refresh token and MSAL's
//! cache; each token is then accepted by the emulator's Partner Center API.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use partner_center_emulator::{EmulatorConfig, Fixtures, TlsSource, start_tls};
use serde_json::Value;

fn repo_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const TENANT: &str = "aaaaaaaa-0000-4000-8000-0000000000a1";
const CLIENT_ID: &str = "aaaaaaaa-1111-4000-8000-0000000000a1";
const SECRET: &str = "secret-msal-app";
const UPN: &str = "admin@contosomsal.onmicrosoft.com";
const REDIRECT_URI: &str = "http://localhost/callback";

fn msal_python() -> String {
    let out = Command::new("bash")
        .arg(repo_root().join("hack/tools/python/venv.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run hack/tools/python/venv.sh");
    assert!(out.status.success(), "hack/tools/python/venv.sh failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_gets_tokens_by_every_flow_and_partner_center_accepts_them() {
    partner_center_operator::tls::install_crypto_provider();
    let python = msal_python();
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Fixtures::from_yaml(include_str!("fixtures/emulator-msal.yaml")).unwrap();
    let emu = start_tls(
        EmulatorConfig {
            fixtures,
            bind: "127.0.0.1:0".parse().unwrap(),
        },
        &TlsSource::SelfSigned {
            dir: dir.path().to_path_buf(),
            hosts: vec![],
        },
    )
    .await
    .expect("emulator with TLS");
    let base = emu.base_url();
    assert!(base.starts_with("https://"), "{base}");
    let ca_file = emu.ca_file.clone().expect("self-signed mode writes the CA");
    let ca = std::fs::read(&ca_file).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let mut child = Command::new(&python)
        .arg(repo_root().join("hack/tools/python/msal_flows.py"))
        .args([&format!("{base}/{TENANT}"), CLIENT_ID])
        .arg(&ca_file)
        .args([REDIRECT_URI, UPN])
        .env("MSAL_CLIENT_SECRET", SECRET)
        // requests lets these override MSAL's `verify` (a session setting): point them at the CA too.
        .env("REQUESTS_CA_BUNDLE", &ca_file)
        .env_remove("CURL_CA_BUNDLE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start MSAL for Python");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut steps: Vec<Value> = vec![];
    let mut nonce_sent = None;
    while let Some(Ok(line)) = tokio::task::block_in_place(|| lines.next()) {
        let msg: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if let Some(url) = msg["authorize"].as_str() {
            // The browser: the emulator's authorize endpoint consents at once and redirects back.
            assert!(
                url.starts_with(&format!("{base}/{TENANT}/oauth2/v2.0/authorize?")),
                "{url}"
            );
            let q: std::collections::HashMap<String, String> =
                url::Url::parse(url).unwrap().query_pairs().into_owned().collect();
            assert_eq!(
                q.get("code_challenge_method").map(String::as_str),
                Some("S256"),
                "{url}"
            );
            nonce_sent = q.get("nonce").cloned();
            let resp = http.get(url).send().await.unwrap();
            assert_eq!(resp.status(), reqwest::StatusCode::FOUND, "{:?}", resp.text().await);
            let location = resp.headers()["location"].to_str().unwrap().to_string();
            assert!(location.starts_with(REDIRECT_URI), "{location}");
            writeln!(stdin, "{location}").unwrap();
            continue;
        }
        steps.push(msg);
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "MSAL for Python failed: {steps:?}\n{stderr}");

    let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap_or("?")).collect();
    assert_eq!(
        names,
        [
            "client_credentials",
            "authorization_code",
            "refresh_token",
            "silent_refresh"
        ],
        "{steps:?}"
    );
    let code = &steps[1];
    assert_eq!(
        code["has_refresh_token"], true,
        "offline_access (MSAL adds it) brings a refresh token"
    );
    let claims = &code["id_token_claims"];
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["preferred_username"], UPN);
    // MSAL sends a hash of its nonce and checks the id_token carries that value.
    assert_eq!(claims["nonce"].as_str(), nonce_sent.as_deref(), "nonce echoed");
    assert!(nonce_sent.is_some());
    assert!(claims["sub"].as_str().is_some_and(|s| !s.is_empty()), "{claims}");
    assert_eq!(
        code["accounts"],
        serde_json::json!([UPN]),
        "MSAL's cache has the account"
    );
    assert_eq!(
        steps[3]["source"], "identity_provider",
        "silent refresh went to the emulator"
    );

    // Every token works against the Partner Center API: the app-only one on an App-or-User
    // resource, the user ones on an App+User-only resource.
    for (i, step) in steps.iter().enumerate() {
        let path = if i == 0 {
            "/v1/profiles/legalbusiness"
        } else {
            "/v1/profiles/organization"
        };
        let resp = http
            .get(format!("{base}{path}"))
            .bearer_auth(step["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, reqwest::StatusCode::OK, "{} on {path}: {body}", step["step"]);
        assert_eq!(body["companyName"], "Contoso MSAL", "{body}");
    }
}
