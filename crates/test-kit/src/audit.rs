//! The API server's audit log (hack/control-plane.sh writes it at metadata level): writes are
//! counted where they land, not by the operator's own metrics.

use crate::control_plane::ControlPlane;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, Seek};
use std::path::PathBuf;

/// The completed requests (stage ResponseComplete) among audit log `lines`.
fn completed<'a>(lines: impl Iterator<Item = &'a str>) -> impl Iterator<Item = Value> {
    lines
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["stage"] == "ResponseComplete")
}

/// Whether audit event `e` is a write (patch or update) of a `status` subresource.
pub fn is_status_write(e: &Value) -> bool {
    e["objectRef"]["subresource"] == "status" && matches!(e["verb"].as_str(), Some("patch" | "update"))
}

impl ControlPlane {
    /// Every audit event (JSON lines) with stage ResponseComplete.
    pub fn audit_events(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.audit_log()).unwrap_or_default();
        completed(text.lines()).collect()
    }
}

/// Status writes recorded in the API server's audit log by `user` (patch/update of a `status`
/// subresource); each event carries the writer's `userAgent`, which tells replicas apart.
pub fn status_writes_by(cp: &ControlPlane, user: &str) -> Vec<Value> {
    cp.audit_events()
        .into_iter()
        .filter(|e| e["user"]["username"] == user && is_status_write(e))
        .collect()
}

/// What one user wrote in a stretch of the audit log.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// resource (e.g. "resellers") -> status writes
    pub status_writes: BTreeMap<String, u64>,
    /// requests on Events (the operator only creates them)
    pub events: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.status_writes.values().sum()
    }

    pub fn of(&self, resource: &str) -> u64 {
        self.status_writes.get(resource).copied().unwrap_or(0)
    }
}

/// The audit log read as it grows: each [`AuditLog::take`] counts what was logged since the last.
pub struct AuditLog {
    path: PathBuf,
    offset: u64,
}

impl AuditLog {
    /// Counting starts at the control plane's audit log's current end.
    pub fn from_now(cp: &ControlPlane) -> Self {
        Self::at_end(cp.audit_log())
    }

    /// Counting starts at the current end of the audit log at `path`.
    pub fn at_end(path: PathBuf) -> Self {
        let offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Self { path, offset }
    }

    /// What `user` wrote since the last call.
    pub fn take(&mut self, user: &str) -> anyhow::Result<Counts> {
        let mut file = std::fs::File::open(&self.path)?;
        // A shorter file is a rotated one: what was written since is elsewhere, and a count of 0
        // would be a wrong figure, not an empty one.
        let len = file.metadata()?.len();
        anyhow::ensure!(
            len >= self.offset,
            "the audit log {} is shorter ({len} bytes) than where counting stopped ({}): it was rotated",
            self.path.display(),
            self.offset
        );
        file.seek(std::io::SeekFrom::Start(self.offset))?;
        let mut reader = std::io::BufReader::new(file);
        let mut lines = String::new();
        loop {
            let start = lines.len();
            let n = reader.read_line(&mut lines)?;
            if n == 0 || !lines.ends_with('\n') {
                lines.truncate(start); // a partial last line is read next time
                break;
            }
            self.offset = self.offset.saturating_add(n as u64);
        }
        let mut counts = Counts::default();
        for e in completed(lines.lines()).filter(|e| e["user"]["username"] == user) {
            let resource = e["objectRef"]["resource"].as_str().unwrap_or_default();
            if is_status_write(&e) {
                *counts.status_writes.entry(resource.to_string()).or_default() += 1;
            } else if resource == "events" {
                counts.events += 1;
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn event(user: &str, verb: &str, resource: &str, subresource: &str, stage: &str) -> String {
        serde_json::json!({"stage": stage, "verb": verb, "user": {"username": user},
            "objectRef": {"resource": resource, "subresource": subresource}})
        .to_string()
    }

    #[test]
    fn take_counts_each_completed_write_of_the_user_once_and_waits_for_a_partial_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut log = std::fs::File::create(&path).unwrap();
        writeln!(
            log,
            "{}",
            event("operator", "patch", "resellers", "status", "ResponseComplete")
        )
        .unwrap();
        let mut audit = AuditLog::at_end(path.clone());
        let lines = [
            event("operator", "patch", "resellers", "status", "ResponseComplete"),
            event("operator", "update", "customerplans", "status", "ResponseComplete"),
            event("operator", "patch", "resellers", "status", "RequestReceived"),
            event("operator", "patch", "resellers", "", "ResponseComplete"),
            event("operator", "get", "resellers", "status", "ResponseComplete"),
            event("operator", "create", "events", "", "ResponseComplete"),
            event("admin", "patch", "resellers", "status", "ResponseComplete"),
            "not json".to_string(),
        ];
        for l in &lines {
            writeln!(log, "{l}").unwrap();
        }
        let partial = event("operator", "patch", "resellers", "status", "ResponseComplete");
        write!(log, "{}", &partial[..20]).unwrap();
        log.flush().unwrap();

        let counts = audit.take("operator").unwrap();
        assert_eq!(
            counts.status_writes,
            BTreeMap::from([("customerplans".into(), 1), ("resellers".into(), 1)])
        );
        assert_eq!(
            (counts.total(), counts.events, counts.of("resellers"), counts.of("pcc")),
            (2, 1, 1, 0)
        );

        writeln!(log, "{}", &partial[20..]).unwrap();
        log.flush().unwrap();
        let counts = audit.take("operator").unwrap();
        assert_eq!(
            (counts.total(), counts.events),
            (1, 0),
            "the completed partial line, once"
        );
        assert_eq!(audit.take("operator").unwrap().total(), 0, "nothing new");

        // A rotated log (the file at the path is new and shorter) is an error, not a count of 0.
        drop(log);
        std::fs::write(
            &path,
            event("operator", "patch", "resellers", "status", "ResponseComplete") + "\n",
        )
        .unwrap();
        let err = audit.take("operator").unwrap_err().to_string();
        assert!(err.contains("rotated"), "{err}");
    }
}
