//! Shared harness for integration tests: a real etcd + kube-apiserver (built from pinned Go modules,
//! see hack/tools/) started on loopback by hack/control-plane.sh, with one kubeconfig per test user.
#![allow(dead_code)] // each test binary uses a different part of the harness

use partner_center_emulator::{self as emulator, EmulatorConfig, Fixtures, RunningEmulator};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The identities tests act as (static tokens, see hack/control-plane.sh).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum User {
    /// system:masters
    Admin,
    /// "provider-admin", group channel:provider-admins
    ProviderAdmin,
    /// "reseller-admin-<x>", group channel:reseller-admins; x is "a", "b" or "c"
    ResellerAdmin(&'static str),
    /// "operator": no groups; tests bind what the operator needs
    Operator,
    /// "operator-2": a second operator replica's identity
    Operator2,
}

impl User {
    pub fn name(self) -> String {
        match self {
            User::Admin => "admin".into(),
            User::ProviderAdmin => "provider-admin".into(),
            User::ResellerAdmin(x) => format!("reseller-admin-{x}"),
            User::Operator => "operator".into(),
            User::Operator2 => "operator-2".into(),
        }
    }
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Directory holding the pinned kube-apiserver, etcd and kubectl (built once, cached).
pub fn tool_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo_root().join("hack/tools/build.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run hack/tools/build.sh");
        assert!(out.status.success(), "building the test tools failed");
        let stdout = String::from_utf8(out.stdout).expect("utf8");
        PathBuf::from(stdout.lines().last().expect("build.sh prints the bin dir").trim())
    })
}

/// A running control plane; stopped (processes killed, data removed) on drop.
pub struct ControlPlane {
    dir: tempfile::TempDir,
}

impl ControlPlane {
    pub async fn start() -> anyhow::Result<Self> {
        tokio::task::spawn_blocking(Self::start_blocking).await?
    }

    pub fn start_blocking() -> anyhow::Result<Self> {
        Self::start_blocking_with_apiserver_args("")
    }

    /// [`ControlPlane::start_blocking`] with extra kube-apiserver flags (PCO_APISERVER_EXTRA_ARGS).
    fn start_blocking_with_apiserver_args(extra: &str) -> anyhow::Result<Self> {
        tool_bin(); // build (or find) the tools once per test binary, outside the start timeout
        let dir = tempfile::Builder::new().prefix("pco-cp-").tempdir()?;
        let out = Command::new("bash")
            .arg(repo_root().join("hack/control-plane.sh"))
            .arg("start")
            .arg(dir.path())
            .env("PCO_APISERVER_EXTRA_ARGS", extra)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "control plane did not start: {}",
            output_text(&out)
        );
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn kubeconfig(&self, user: User) -> PathBuf {
        self.dir.path().join(format!("kubeconfig-{}", user.name()))
    }

    /// The API server's audit log (JSON lines; writes to channel.csp.dev, Secrets, Events, Leases).
    pub fn audit_log(&self) -> PathBuf {
        self.dir.path().join("audit.log")
    }

    /// The pinned kubectl acting as `user`.
    pub fn kubectl(&self, user: User) -> Command {
        let mut cmd = Command::new(tool_bin().join("kubectl"));
        cmd.arg("--kubeconfig").arg(self.kubeconfig(user));
        cmd
    }

    /// `kubectl <args>` as `user`; the output whatever the exit status.
    pub fn kubectl_run(&self, user: User, args: &[&str]) -> Output {
        self.kubectl(user).args(args).output().expect("run kubectl")
    }

    /// `kubectl apply -f -` of `yaml` as `user`.
    pub fn apply_yaml(&self, user: User, yaml: &str) -> Output {
        self.kubectl_stdin(user, &["apply", "-f", "-"], yaml)
    }

    /// `kubectl <args>` with `input` on stdin.
    pub fn kubectl_stdin(&self, user: User, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .kubectl(user)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kubectl");
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().expect("kubectl output")
    }

    /// Applies the checked-in CRDs and waits until they are Established.
    pub fn install_crds(&self) -> anyhow::Result<()> {
        let crds = repo_root().join("crds");
        let out = self.kubectl_run(User::Admin, &["apply", "-f", crds.to_str().unwrap()]);
        anyhow::ensure!(
            out.status.success(),
            "apply crds: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = self.kubectl_run(
            User::Admin,
            &["wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"],
        );
        anyhow::ensure!(
            out.status.success(),
            "wait crds: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// A kube-rs client acting as `user`.
    pub async fn client(&self, user: User) -> anyhow::Result<kube::Client> {
        let kubeconfig = kube::config::Kubeconfig::read_from(self.kubeconfig(user))?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo_root().join("hack/control-plane.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// Stdout and stderr of a command as one string, for assertions and failure messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl ControlPlane {
    /// `hack/install-dev.sh` against this control plane: CRDs, admission policy, roles, and the
    /// operator user's bindings (Secrets readable in `namespaces`; the first holds the Lease).
    pub fn install_operator(&self, namespaces: &[&str]) {
        let out = Command::new("bash")
            .arg(repo_root().join("hack/install-dev.sh"))
            .args(namespaces)
            .env("KUBECONFIG", self.kubeconfig(User::Admin))
            .env(
                "PATH",
                format!("{}:{}", tool_bin().display(), std::env::var("PATH").unwrap_or_default()),
            )
            .output()
            .expect("run install-dev.sh");
        assert!(out.status.success(), "install-dev.sh: {}", output_text(&out));
    }

    /// `kubectl get <args> -o json` as admin, parsed.
    pub fn get_json(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["get"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["-o", "json"]);
        let out = self.kubectl_run(User::Admin, &full);
        assert!(out.status.success(), "kubectl {full:?}: {}", output_text(&out));
        serde_json::from_slice(&out.stdout).expect("kubectl json")
    }

    /// `kubectl wait <args>` as admin; panics with the object's YAML when it times out.
    pub fn wait(&self, args: &[&str]) {
        let mut full = vec!["wait"];
        full.extend_from_slice(args);
        let out = self.kubectl_run(User::Admin, &full);
        if !out.status.success() {
            let mut get = vec!["get", "-o", "yaml"];
            get.extend(args.iter().filter(|a| !a.starts_with("--")));
            let state = output_text(&self.kubectl_run(User::Admin, &get));
            panic!("kubectl {full:?} failed: {}\n{state}", output_text(&out));
        }
    }
}

/// The operator binary, running as a user of the control plane; killed on drop.
pub struct Operator {
    child: std::process::Child,
    pub log: PathBuf,
}

impl Operator {
    pub fn start(cp: &ControlPlane, user: User, args: &[&str]) -> Operator {
        Self::start_with(cp, user, args, &[], &std::process::id().to_string())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The checked-in examples, pointed at an emulator listening on `emulator_addr` instead of the
/// demo's fixed port.
pub fn example_manifests(emulator_addr: &str) -> String {
    let mut all = String::new();
    for f in [
        "00-namespaces.yaml",
        "10-credentials.yaml",
        "20-connections.yaml",
        "30-plans.yaml",
        "40-resellers.yaml",
        "90-misconfigured.yaml",
    ] {
        let text = std::fs::read_to_string(repo_root().join("examples").join(f)).expect("example");
        all.push_str(&text.replace("127.0.0.1:18085", emulator_addr));
        all.push_str("\n---\n");
    }
    all
}

/// The demo's emulator fixtures (examples/emulator/fixtures.yaml).
pub fn example_fixtures() -> String {
    std::fs::read_to_string(repo_root().join("examples/emulator/fixtures.yaml")).expect("fixtures")
}

/// Status writes recorded in the API server's audit log by `user` (patch/update of a `status` subresource).
pub fn status_writes_by(cp: &ControlPlane, user: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(cp.audit_log()).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| {
            e["user"]["username"] == user
                && e["objectRef"]["subresource"] == "status"
                && matches!(e["verb"].as_str(), Some("patch" | "update"))
                && e["stage"] == "ResponseComplete"
        })
        .collect()
}

// ---- Helpers for the fault tests (tests/faults.rs) ----

impl ControlPlane {
    /// Like [`ControlPlane::start`], with extra kube-apiserver flags (PCO_APISERVER_EXTRA_ARGS),
    /// e.g. `--watch-cache=false` so an expired watch answers 410.
    pub async fn start_with_apiserver_args(extra: &str) -> anyhow::Result<Self> {
        let extra = extra.to_string();
        tokio::task::spawn_blocking(move || Self::start_blocking_with_apiserver_args(&extra)).await?
    }

    /// `hack/control-plane.sh restart-apiserver`: same port, flags and data; returns when ready.
    pub async fn restart_apiserver(&self) -> anyhow::Result<()> {
        let dir = self.dir.path().to_path_buf();
        let out = tokio::task::spawn_blocking(move || {
            Command::new("bash")
                .arg(repo_root().join("hack/control-plane.sh"))
                .arg("restart-apiserver")
                .arg(dir)
                .output()
        })
        .await??;
        anyhow::ensure!(out.status.success(), "restart-apiserver: {}", output_text(&out));
        Ok(())
    }

    /// Binds the operator roles to another user (a second replica's identity), as install-dev.sh
    /// does for `operator`: cluster role, Secrets in `namespaces`, the Lease in the first one.
    pub fn bind_operator_roles(&self, user: User, namespaces: &[&str]) {
        let name = user.name();
        let run = |args: Vec<String>| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = self.kubectl_run(User::Admin, &args);
            assert!(out.status.success(), "kubectl {args:?}: {}", output_text(&out));
        };
        run(vec![
            "create".into(),
            "clusterrolebinding".into(),
            format!("pco-{name}"),
            "--clusterrole=partner-center-operator".into(),
            format!("--user={name}"),
        ]);
        for ns in namespaces {
            run(vec![
                "-n".into(),
                ns.to_string(),
                "create".into(),
                "rolebinding".into(),
                format!("pco-{name}-secrets"),
                "--clusterrole=partner-center-operator-secrets".into(),
                format!("--user={name}"),
            ]);
        }
        if let Some(ns) = namespaces.first() {
            run(vec![
                "-n".into(),
                ns.to_string(),
                "create".into(),
                "rolebinding".into(),
                format!("pco-{name}-lease"),
                "--clusterrole=partner-center-operator-leader-election".into(),
                format!("--user={name}"),
            ]);
        }
    }

    /// Every audit event (JSON lines) with stage ResponseComplete.
    pub fn audit_events(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.audit_log()).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["stage"] == "ResponseComplete")
            .collect()
    }
}

impl Operator {
    /// Like [`Operator::start`] with extra environment variables; `tag` keeps log files apart
    /// when one user's operator is started several times.
    pub fn start_with(cp: &ControlPlane, user: User, args: &[&str], env: &[(&str, &str)], tag: &str) -> Operator {
        let log = cp.dir().join(format!("operator-{}-{tag}.log", user.name()));
        let file = std::fs::File::create(&log).expect("operator log");
        let child = Command::new(env!("CARGO_BIN_EXE_partner-center-operator"))
            .arg("run")
            .args(args)
            .env("KUBECONFIG", cp.kubeconfig(user))
            .env("PCO_LOG_FORMAT", "json")
            .env("PCO_LOG_LEVEL", "info,partner_center_operator=debug")
            .envs(env.iter().copied())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("start operator");
        Operator { child, log }
    }

    /// Whether the process is still running (not exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// The condition `type_` of a status (JSON), or null.
pub fn condition(status: &serde_json::Value, type_: &str) -> serde_json::Value {
    status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == type_))
        .cloned()
        .unwrap_or(serde_json::Value::Null)
}

/// The Ready condition of a status (JSON), or null.
pub fn ready_of(status: &serde_json::Value) -> serde_json::Value {
    condition(status, "Ready")
}

impl ControlPlane {
    /// Asks the operator to sync a connection now (the documented annotation), as admin.
    pub fn request_sync(&self, ns: &str, name: &str, value: &str) {
        let annotation = format!("channel.csp.dev/sync-requested={value}");
        let out = self.kubectl_run(
            User::Admin,
            &["-n", ns, "annotate", "pcc", name, &annotation, "--overwrite"],
        );
        assert!(out.status.success(), "{}", output_text(&out));
    }
}

impl ControlPlane {
    /// Writes `token` into the `refreshToken` key of a connection's Secret, as admin (a re-consent,
    /// or a restore of an old value).
    pub fn store_refresh_token(&self, ns: &str, secret: &str, token: &str) {
        let patch = serde_json::json!({"stringData": {"refreshToken": token}}).to_string();
        let out = self.kubectl_run(
            User::Admin,
            &["-n", ns, "patch", "secret", secret, "--type=merge", "-p", &patch],
        );
        assert!(out.status.success(), "{}", output_text(&out));
    }
}

/// The last `lines` lines of `text` (an operator log in a failure message).
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl ControlPlane {
    /// Waits until condition `type_` of the object `kubectl get <args>` names has `status` (and
    /// `reason`, when given); returns the object. Panics after `limit` with its status and the end
    /// of `log`.
    pub async fn wait_condition(
        &self,
        args: &[&str],
        type_: &str,
        status: &str,
        reason: Option<&str>,
        limit: Duration,
        log: impl Fn() -> String,
    ) -> serde_json::Value {
        let deadline = Instant::now() + limit;
        loop {
            let obj = self.get_json(args);
            let c = condition(&obj["status"], type_);
            if c["status"] == status && reason.is_none_or(|r| c["reason"] == r) {
                return obj;
            }
            if Instant::now() > deadline {
                panic!(
                    "{args:?}: wanted {type_}={status}/{reason:?} within {limit:?}; status: {:#}\nlog:\n{}",
                    obj["status"],
                    tail(&log(), 60)
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

// ---- The demo channel (tests/operator.rs, tests/faults.rs) ----

/// The provider's namespace in the examples: the operator's `--provider-namespace`.
pub const PROVIDER_NS: &str = "csp-system";

/// The namespaces whose Secrets the operator reads in the examples; the first holds the Lease.
pub const OPERATOR_NAMESPACES: [&str; 2] = [PROVIDER_NS, "reseller-northwind"];

/// The demo channel: a control plane, the emulator with the example fixtures, the operator's roles
/// and the example manifests (pointed at that emulator). No operator runs until one is started.
pub struct Channel {
    pub cp: ControlPlane,
    pub emulator: RunningEmulator,
    /// The emulator's `host:port`, as the manifests and `--endpoint-allow-list` name it.
    pub addr: String,
}

impl Channel {
    pub async fn start() -> Channel {
        Self::start_with_apiserver_args("").await
    }

    /// Like [`Channel::start`], with extra kube-apiserver flags.
    pub async fn start_with_apiserver_args(args: &str) -> Channel {
        partner_center_operator::tls::install_crypto_provider();
        let cp = ControlPlane::start_with_apiserver_args(args)
            .await
            .expect("control plane");
        let fixtures = Fixtures::from_yaml(&example_fixtures()).expect("fixtures");
        let emulator = emulator::start(EmulatorConfig {
            fixtures,
            bind: "127.0.0.1:0".parse().unwrap(),
        })
        .await
        .expect("emulator");
        cp.install_operator(&OPERATOR_NAMESPACES);
        let addr = emulator.addr.to_string();
        let channel = Channel { cp, emulator, addr };
        channel.apply(&example_manifests(&channel.addr));
        channel
    }

    /// The operator's arguments for this channel, as replica `identity`.
    pub fn operator_args<'a>(&'a self, identity: &'a str) -> Vec<&'a str> {
        vec![
            "--provider-namespace",
            PROVIDER_NS,
            "--endpoint-allow-list",
            &self.addr,
            "--admin-addr",
            "127.0.0.1:0",
            "--identity",
            identity,
        ]
    }

    /// The operator as `user` and replica `identity` (which also names its log), with extra `env`.
    pub fn start_operator(&self, user: User, identity: &str, env: &[(&str, &str)]) -> Operator {
        Operator::start_with(&self.cp, user, &self.operator_args(identity), env, identity)
    }

    /// `kubectl apply` of `yaml` as admin; panics when it fails.
    pub fn apply(&self, yaml: &str) {
        let out = self.cp.apply_yaml(User::Admin, yaml);
        assert!(out.status.success(), "{}\n{yaml}", output_text(&out));
    }

    /// A call to the emulator's control API (`/_emulator/...`); panics unless it succeeds. Its JSON
    /// answer, or null.
    pub async fn emulator_control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let url = format!("{}{path}", self.emulator.base_url());
        let mut req = reqwest::Client::new().request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("emulator control API");
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap_or(serde_json::Value::Null)
    }
}
