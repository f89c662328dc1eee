//! The consent helper and the connection check, end to end: the operator binary's `consent`
//! subcommand runs the authorization-code flow against the emulator's authorize endpoint, receives
//! the code on its localhost redirect, redeems it and writes the Secret into the real API server;
//! `check --connection` then verifies that connection as the operator would.

mod support;
use partner_center_emulator::{self as emulator, EmulatorConfig, Fixtures};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use support::{ControlPlane, User, output_text};

const TENANT: &str = "11111111-1111-4111-8111-111111111111";
const CLIENT_ID: &str = "5a0c1e2d-0000-4000-8000-00000000e001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_writes_a_working_secret_and_check_verifies_the_connection() {
    partner_center_operator::tls::install_crypto_provider();
    let cp = ControlPlane::start().await.expect("control plane");
    cp.install_crds().unwrap();
    let fixtures = Fixtures::from_yaml(&support::example_fixtures()).unwrap();
    let emu = emulator::start(EmulatorConfig {
        fixtures,
        bind: "127.0.0.1:0".parse().unwrap(),
    })
    .await
    .unwrap();
    let base = emu.base_url();
    assert!(
        cp.kubectl_run(User::Admin, &["create", "namespace", "csp-system"])
            .status
            .success()
    );

    let bin = env!("CARGO_BIN_EXE_partner-center-operator");
    let mut consent = Command::new(bin)
        .args([
            "consent",
            "--tenant-id",
            TENANT,
            "--login-endpoint",
            &base,
            "--partner-center-endpoint",
            &base,
        ])
        .args([
            "--client-id",
            CLIENT_ID,
            "--port",
            "0",
            "--wait",
            "60s",
            "--namespace",
            "csp-system",
            "--secret-name",
            "eur-creds",
        ])
        .env("PARTNER_CENTER_CLIENT_SECRET", "demo-secret-eur")
        .env("KUBECONFIG", cp.kubeconfig(User::Admin))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The helper prints the authorize URL; "the admin's browser" opens it and follows the redirect.
    let mut lines = BufReader::new(consent.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("consent printed no URL").unwrap();
        if let Some(u) = line.trim().strip_prefix("http") {
            break format!("http{u}");
        }
    };
    assert!(url.starts_with(&format!("{base}/{TENANT}/oauth2/authorize?")), "{url}");
    assert!(
        url.contains("response_type=code") && url.contains(&format!("client_id={CLIENT_ID}")),
        "{url}"
    );
    let browser = reqwest::get(&url).await.expect("follow the consent redirect");
    assert!(browser.status().is_success(), "{}", browser.status());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = consent.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut consent.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "consent failed: {rest:?} {stderr}");
    assert!(
        rest.iter().any(|l| l.contains("Secret csp-system/eur-creds written")),
        "{rest:?}"
    );

    let secret = cp.get_json(&["-n", "csp-system", "secret", "eur-creds"]);
    for key in ["clientId", "clientSecret", "refreshToken"] {
        assert!(
            secret["data"][key].as_str().is_some_and(|v| !v.is_empty()),
            "{key} missing"
        );
    }

    // A connection using that Secret, checked as the operator would check it.
    let conn = format!(
        r#"{{"apiVersion":"channel.csp.dev/v1alpha1","kind":"PartnerCenterConnection","metadata":{{"name":"eur","namespace":"csp-system"}},
        "spec":{{"partnerTenantId":"{TENANT}","region":"EUR","cspType":"Direct","environment":"Sandbox",
        "auth":{{"secretRef":{{"name":"eur-creds"}}}},"endpoints":{{"partnerCenter":"{base}","login":"{base}"}}}}}}"#
    );
    let out = cp.apply_yaml(User::Admin, &conn);
    assert!(out.status.success(), "{}", output_text(&out));
    let check = Command::new(bin)
        .args(["check", "--connection", "csp-system/eur"])
        .env("KUBECONFIG", cp.kubeconfig(User::Admin))
        .output()
        .unwrap();
    let report = output_text(&check);
    assert!(check.status.success(), "{report}");
    for want in ["Contoso Europe GmbH", "DE", "verdict", "Verified"] {
        assert!(report.contains(want), "{want} in {report}");
    }
    assert!(!report.contains("demo-secret-eur"));

    // A second check works: the first wrote the rotated refresh token back (strict rotation in the
    // emulator would refuse the old one). Then a wrong client secret: refused with its reason.
    let wrong = Command::new(bin)
        .args(["check", "--connection", "csp-system/eur"])
        .env("KUBECONFIG", cp.kubeconfig(User::Admin))
        .output()
        .unwrap();
    assert!(
        wrong.status.success(),
        "rotated refresh token was written back: {}",
        output_text(&wrong)
    );
    let out = cp.kubectl_run(
        User::Admin,
        &[
            "-n",
            "csp-system",
            "patch",
            "secret",
            "eur-creds",
            "--type=merge",
            "-p",
            r#"{"stringData":{"clientSecret":"not-the-secret"}}"#,
        ],
    );
    assert!(out.status.success());
    let bad = Command::new(bin)
        .args(["check", "--connection", "csp-system/eur"])
        .env("KUBECONFIG", cp.kubeconfig(User::Admin))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        output_text(&bad).contains("InvalidClientSecret"),
        "{}",
        output_text(&bad)
    );
}
