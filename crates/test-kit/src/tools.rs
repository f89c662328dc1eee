//! The repository, the pinned tools, and the small helpers every harness part uses.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The repository root (this crate lives in crates/test-kit).
pub fn repo_root() -> PathBuf {
    let kit = Path::new(env!("CARGO_MANIFEST_DIR"));
    kit.ancestors()
        .nth(2)
        .expect("crates/test-kit has a repository root")
        .to_path_buf()
}

/// Directory holding the pinned kube-apiserver, etcd, kubectl, helm and luahealth (built once by
/// hack/tools/build.sh, cached).
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

/// Stdout and stderr of a command as one string, for assertions and failure messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The last `lines` lines of `text` (an operator log in a failure message).
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Calls `check` every `every` until it answers `Break(value)`; the value and the time it took.
/// `Continue(progress)` says how far it got: printed every 10 s (a benchmark's phase can take
/// minutes) and in the error after `limit`.
pub async fn wait_until<T>(
    what: &str,
    limit: Duration,
    every: Duration,
    mut check: impl FnMut() -> ControlFlow<T, String>,
) -> anyhow::Result<(T, Duration)> {
    let started = Instant::now();
    let mut last_print = started;
    loop {
        let progress = match check() {
            ControlFlow::Break(v) => return Ok((v, started.elapsed())),
            ControlFlow::Continue(progress) => progress,
        };
        if started.elapsed() > limit {
            anyhow::bail!("{what}: not done after {limit:?} ({progress})");
        }
        if last_print.elapsed() > Duration::from_secs(10) {
            eprintln!("  {what}: {progress} after {:.0}s", started.elapsed().as_secs_f64());
            last_print = Instant::now();
        }
        tokio::time::sleep(every).await;
    }
}

/// A file of the repository, as text; panics naming it when it cannot be read.
pub fn read_repo_file(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// CPU time (user + system, seconds) a process and its waited-for children have used so far:
/// fields 14–17 of /proc/<pid>/stat. NaN when the process is gone.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // The command name (field 2) may hold spaces; the fields after it follow its closing ')'.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return f64::NAN;
    };
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14, i.e. index 11 here.
    let sum: f64 = fields
        .get(11..15)
        .unwrap_or_default()
        .iter()
        .filter_map(|f| f.parse::<f64>().ok())
        .sum();
    sum / ticks
}
