//! Shared harness for integration tests: a real etcd + kube-apiserver (built from pinned Go modules,
//! see hack/tools/) started on loopback by hack/control-plane.sh, with one kubeconfig per test user.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

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
        tool_bin(); // build (or find) the tools once per test binary, outside the start timeout
        let dir = tempfile::Builder::new().prefix("pco-cp-").tempdir()?;
        let out = Command::new("bash")
            .arg(repo_root().join("hack/control-plane.sh"))
            .arg("start")
            .arg(dir.path())
            .output()?;
        if !out.status.success() {
            anyhow::bail!(
                "control plane did not start: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
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
