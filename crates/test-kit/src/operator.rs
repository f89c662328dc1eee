//! The operator binary as a process of its own, the way it runs in a cluster: its own user (a
//! kubeconfig), its log in a file, its admin server on loopback.

use crate::control_plane::{ControlPlane, User};
use anyhow::Context as _;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command};

/// The operator binary the integration tests run: `PCO_OPERATOR_BIN` when set, else the
/// `partner-center-operator` next to the running test binary (cargo builds a package's binaries
/// into the directory above the test binaries' `deps/` before it runs its integration tests).
pub fn operator_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("PCO_OPERATOR_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut dir = exe.parent().expect("the test binary's directory").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("partner-center-operator");
    assert!(
        bin.exists(),
        "no operator binary at {}: build it (cargo build --bin partner-center-operator) or set PCO_OPERATOR_BIN",
        bin.display()
    );
    bin
}

/// `127.0.0.1:<a free port>`, for a server whose address the harness must know in advance.
pub fn free_loopback_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    format!("127.0.0.1:{port}")
}

/// The operator process; killed (SIGKILL) on drop.
pub struct Operator {
    child: Child,
    /// Its stdout and stderr.
    pub log: PathBuf,
    /// `host:port` of its admin server (probes, /metrics), when the harness chose it.
    admin: Option<String>,
}

impl Operator {
    /// `partner-center-operator run <args>` as `user` of `cp` (JSON logs, debug for the operator).
    pub fn start(cp: &ControlPlane, user: User, args: &[&str]) -> Operator {
        Self::start_with(cp, user, args, &[], &std::process::id().to_string())
    }

    /// Like [`Operator::start`] with extra environment variables; `tag` keeps log files apart
    /// when one user's operator is started several times.
    pub fn start_with(cp: &ControlPlane, user: User, args: &[&str], env: &[(&str, &str)], tag: &str) -> Operator {
        let mut cmd = Command::new(operator_bin());
        cmd.arg("run")
            .args(args)
            .env("KUBECONFIG", cp.kubeconfig(user))
            .env("PCO_LOG_FORMAT", "json")
            .env("PCO_LOG_LEVEL", "info,partner_center_operator=debug")
            .envs(env.iter().copied());
        let log = cp.dir().join(format!("operator-{}-{tag}.log", user.name()));
        Self::spawn(cmd, log, None).expect("start operator")
    }

    /// Starts `cmd` (an operator command line and environment the caller built) with its output
    /// in `log`; `admin` is the address its `--admin-addr` (or PCO_ADMIN_ADDR) names.
    pub fn spawn(mut cmd: Command, log: PathBuf, admin: Option<String>) -> anyhow::Result<Operator> {
        let file = std::fs::File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let child = cmd
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("start {:?}", cmd.get_program()))?;
        Ok(Operator { child, log, admin })
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: the process ends mid-whatever, as when a node dies.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits until it has exited: a graceful shutdown.
    pub fn stop(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child's pid, which stays reserved until we wait for it.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let _ = self.child.wait();
    }

    /// Whether the process is still running (not exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// GET `path` on the admin server: (HTTP status, body); status 0 while the server is not up
    /// (or when the harness did not choose its address).
    pub fn admin_get(&self, path: &str) -> (u16, String) {
        let Some(Ok(mut s)) = self.admin.as_ref().map(std::net::TcpStream::connect) else {
            return (0, String::new());
        };
        let _ = s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes());
        let mut resp = String::new();
        let _ = s.read_to_string(&mut resp);
        let status = resp.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = resp
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// The HTTP status of /readyz (0 while the admin server is not up).
    pub fn readyz(&self) -> u16 {
        self.admin_get("/readyz").0
    }

    /// pco_reconciles_total per kind, from /metrics (empty while the admin server is not up).
    pub fn reconciles(&self) -> BTreeMap<String, u64> {
        let (_, text) = self.admin_get("/metrics");
        let mut out = BTreeMap::new();
        for line in text.lines().filter(|l| l.starts_with("pco_reconciles_total{")) {
            let kind = line
                .split("kind=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or_default();
            let value = line
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
            out.insert(kind.to_string(), value as u64);
        }
        out
    }

    /// The sum of a metric's samples (all label sets) on the admin server's /metrics; 0 if absent.
    pub fn counter(&self, name: &str) -> f64 {
        let (_, text) = self.admin_get("/metrics");
        text.lines()
            .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with([' ', '{'])))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// CPU seconds the operator process has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        crate::tools::cpu_seconds(self.child.id())
    }

    /// (peak, current) resident memory in MiB: VmHWM and VmRSS of /proc/<pid>/status.
    pub fn memory_mib(&self) -> (f64, f64) {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .map(|kib| kib / 1024.0)
                .unwrap_or(f64::NAN)
        };
        (field("VmHWM:"), field("VmRSS:"))
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}
