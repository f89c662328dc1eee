//! A real etcd + kube-apiserver started by hack/control-plane.sh, and kubectl as each of its users.

use crate::channel::{condition, converged};
use crate::tools::{output_text, repo_root, tail, tool_bin, wait_until};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

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

/// A running control plane; stopped (processes killed, data removed unless kept) on drop.
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

    /// Like [`ControlPlane::start`], with extra kube-apiserver flags (PCO_APISERVER_EXTRA_ARGS),
    /// e.g. `--watch-cache=false` so an expired watch answers 410.
    pub async fn start_with_apiserver_args(extra: &str) -> anyhow::Result<Self> {
        let extra = extra.to_string();
        tokio::task::spawn_blocking(move || Self::start_blocking_with_apiserver_args(&extra)).await?
    }

    /// [`ControlPlane::start_blocking`] with extra kube-apiserver flags (PCO_APISERVER_EXTRA_ARGS).
    pub fn start_blocking_with_apiserver_args(extra: &str) -> anyhow::Result<Self> {
        tool_bin(); // build (or find) the tools once per process, outside the start timeout
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

    /// CPU seconds kube-apiserver and etcd have used so far (since they started).
    pub fn cpu_seconds(&self) -> (f64, f64) {
        let of = |p: &str| {
            std::fs::read_to_string(self.dir.path().join(format!("{p}.pid")))
                .ok()
                .and_then(|pid| pid.trim().parse::<u32>().ok())
                .map_or(f64::NAN, crate::tools::cpu_seconds)
        };
        (of("apiserver"), of("etcd"))
    }

    /// Leaves the directory (logs, audit log, kubeconfigs) in place when the control plane stops.
    pub fn keep_data(&mut self) {
        self.dir.disable_cleanup(true);
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

    /// `kubectl <args>` as admin; panics when it fails.
    fn kubectl_ok(&self, args: &[&str]) -> Output {
        let out = self.kubectl_run(User::Admin, args);
        assert!(out.status.success(), "kubectl {args:?}: {}", output_text(&out));
        out
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

    /// `kubectl create namespace` of each of `namespaces`, as admin.
    pub fn create_namespaces(&self, namespaces: &[&str]) {
        for ns in namespaces {
            self.kubectl_ok(&["create", "namespace", ns]);
        }
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
        Ok(kube::Client::try_from(self.client_config(user).await?)?)
    }

    /// A kube-rs client acting as `user` with its own User-Agent, so its writes can be told apart
    /// in the audit log from another client's of the same user.
    pub async fn client_with_agent(&self, user: User, agent: &'static str) -> anyhow::Result<kube::Client> {
        let mut config = self.client_config(user).await?;
        config
            .headers
            .push((http::header::USER_AGENT, http::HeaderValue::from_static(agent)));
        Ok(kube::Client::try_from(config)?)
    }

    async fn client_config(&self, user: User) -> anyhow::Result<kube::Config> {
        let kubeconfig = kube::config::Kubeconfig::read_from(self.kubeconfig(user))?;
        Ok(kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await?)
    }

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
        let out = self.kubectl_ok(&full);
        serde_json::from_slice(&out.stdout).expect("kubectl json")
    }

    /// Whether `kubectl get <args>` finds the object, as admin.
    pub fn exists(&self, args: &[&str]) -> bool {
        let mut full = vec!["get"];
        full.extend_from_slice(args);
        self.kubectl_run(User::Admin, &full).status.success()
    }

    /// `kubectl wait <args>` as admin; panics with the object's YAML when it times out.
    pub fn wait(&self, args: &[&str]) {
        self.wait_or_show(args, String::new);
    }

    /// Like [`ControlPlane::wait`]; the panic also shows the end of `log` (an operator's).
    pub fn wait_or_show(&self, args: &[&str], log: impl Fn() -> String) {
        let mut full = vec!["wait"];
        full.extend_from_slice(args);
        let out = self.kubectl_run(User::Admin, &full);
        if !out.status.success() {
            let mut get = vec!["get", "-o", "yaml"];
            get.extend(args.iter().filter(|a| !a.starts_with("--")));
            let state = output_text(&self.kubectl_run(User::Admin, &get));
            panic!(
                "kubectl {full:?} failed: {}\n{state}\nlog:\n{}",
                output_text(&out),
                tail(&log(), 60)
            );
        }
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
        let user_flag = format!("--user={name}");
        self.kubectl_ok(&[
            "create",
            "clusterrolebinding",
            &format!("pco-{name}"),
            "--clusterrole=partner-center-operator",
            &user_flag,
        ]);
        let bind = |ns: &str, binding: &str, role: &str| {
            let binding = format!("pco-{name}-{binding}");
            let role = format!("--clusterrole={role}");
            self.kubectl_ok(&["-n", ns, "create", "rolebinding", &binding, &role, &user_flag]);
        };
        for ns in namespaces {
            bind(ns, "secrets", "partner-center-operator-secrets");
        }
        if let Some(ns) = namespaces.first() {
            bind(ns, "lease", "partner-center-operator-leader-election");
        }
    }

    /// Asks the operator to sync a connection now (the documented annotation), as admin.
    pub fn request_sync(&self, ns: &str, name: &str, value: &str) {
        let annotation = format!("channel.csp.dev/sync-requested={value}");
        self.kubectl_ok(&["-n", ns, "annotate", "pcc", name, &annotation, "--overwrite"]);
    }

    /// Writes `token` into the `refreshToken` key of a connection's Secret, as admin (a re-consent,
    /// or a restore of an old value).
    pub fn store_refresh_token(&self, ns: &str, secret: &str, token: &str) {
        let patch = serde_json::json!({"stringData": {"refreshToken": token}}).to_string();
        self.kubectl_ok(&["-n", ns, "patch", "secret", secret, "--type=merge", "-p", &patch]);
    }

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
        let mut last = serde_json::Value::Null;
        let wanted = wait_until("condition", limit, Duration::from_millis(250), || {
            let obj = self.get_json(args);
            let c = condition(&obj["status"], type_);
            if c["status"] == status && reason.is_none_or(|r| c["reason"] == r) {
                return ControlFlow::Break(obj);
            }
            last = obj["status"].clone();
            ControlFlow::Continue(String::new())
        })
        .await;
        wanted.map(|(obj, _)| obj).unwrap_or_else(|_| {
            panic!(
                "{args:?}: wanted {type_}={status}/{reason:?} within {limit:?}; status: {last:#}\nlog:\n{}",
                tail(&log(), 60)
            )
        })
    }

    /// Every connection, plan and reseller, as `kubectl get -o json` shows them.
    pub fn channel_objects(&self) -> Vec<serde_json::Value> {
        let list = self.get_json(&["pcc,cplan,rsl", "-A"]);
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// How far the operator got with every connection, plan and reseller (see [`converged`]).
    pub fn convergence(&self) -> Convergence {
        let items = self.channel_objects();
        let pending: Vec<String> = items
            .iter()
            .filter(|o| !converged(o))
            .map(|o| {
                format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap_or_default(),
                    o["metadata"]["name"].as_str().unwrap_or_default()
                )
            })
            .collect();
        Convergence {
            done: items.len() - pending.len(),
            total: items.len(),
            pending,
        }
    }

    /// Waits until every connection, plan and reseller has converged; panics after `limit` with
    /// what is pending and the end of `log`.
    pub async fn wait_converged(&self, limit: Duration, log: impl Fn() -> String) {
        let mut last = None;
        let done = wait_until("convergence", limit, Duration::from_millis(500), || {
            let c = self.convergence();
            if c.pending.is_empty() {
                return ControlFlow::Break(());
            }
            let progress = format!("{}/{} converged", c.done, c.total);
            last = Some(c);
            ControlFlow::Continue(progress)
        })
        .await;
        if done.is_err() {
            let c = last.unwrap_or_default();
            panic!(
                "not converged after {limit:?}: {}/{}, pending {:?}\nlog:\n{}",
                c.done,
                c.total,
                &c.pending[..c.pending.len().min(10)],
                tail(&log(), 60)
            );
        }
    }
}

/// Connections, plans and resellers: how many have converged, and the names of the others.
#[derive(Clone, Debug, Default)]
pub struct Convergence {
    pub done: usize,
    pub total: usize,
    /// `Kind/name` of each object not converged yet.
    pub pending: Vec<String>,
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

/// Applies `yaml` as `user`; panics with kubectl's output (and the manifest) when refused.
pub fn apply_ok(cp: &ControlPlane, user: User, yaml: &str) -> String {
    let out = cp.apply_yaml(user, yaml);
    assert!(
        out.status.success(),
        "{user:?} apply failed:\n{}\n--- manifest:\n{yaml}",
        crate::output_text(&out)
    );
    crate::output_text(&out)
}

/// `kubectl <args>` as `user`; panics with kubectl's output when it fails.
pub fn kubectl_ok(cp: &ControlPlane, user: User, args: &[&str]) -> String {
    let out = cp.kubectl_run(user, args);
    assert!(
        out.status.success(),
        "{user:?} kubectl {args:?} failed:\n{}",
        crate::output_text(&out)
    );
    crate::output_text(&out)
}
