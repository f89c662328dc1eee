//! The demo channel (examples/ and examples/emulator/fixtures.yaml) and what "converged" means
//! for the objects the operator publishes status on.

use crate::control_plane::{ControlPlane, User};
use crate::emulator::{EmulatorControl, start_emulator};
use crate::operator::Operator;
use crate::tools::{output_text, repo_root};
use partner_center_emulator::RunningEmulator;
use serde_json::Value;

/// The provider's namespace in the examples: the operator's `--provider-namespace`.
pub const PROVIDER_NS: &str = "csp-system";

/// The namespaces whose Secrets the operator reads in the examples; the first holds the Lease.
pub const OPERATOR_NAMESPACES: [&str; 2] = [PROVIDER_NS, "reseller-northwind"];

/// The checked-in examples, pointed at an emulator listening on `emulator_addr` instead of the
/// demo's fixed port.
pub fn example_manifests(emulator_addr: &str) -> String {
    examples(
        &[
            "00-namespaces.yaml",
            "10-credentials.yaml",
            "20-connections.yaml",
            "30-plans.yaml",
            "40-resellers.yaml",
            "90-misconfigured.yaml",
        ],
        emulator_addr,
    )
}

/// The example `files` (in examples/), one YAML stream, pointed at an emulator listening on
/// `emulator_addr`.
pub fn examples(files: &[&str], emulator_addr: &str) -> String {
    let mut all = String::new();
    for f in files {
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

/// The condition `type_` of a status (JSON), or null.
pub fn condition(status: &Value, type_: &str) -> Value {
    status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == type_))
        .cloned()
        .unwrap_or(Value::Null)
}

/// The Ready condition of a status (JSON), or null.
pub fn ready_of(status: &Value) -> Value {
    condition(status, "Ready")
}

/// Converged: the operator has evaluated the current spec (`status.observedGeneration ==
/// metadata.generation`) and given its verdict (a Ready condition that is not Unknown).
pub fn is_converged(generation: Option<i64>, status: &Value) -> bool {
    status["observedGeneration"].as_i64() == generation
        && ready_of(status)["status"].as_str().is_some_and(|s| s != "Unknown")
}

/// [`is_converged`] of an object as `kubectl get -o json` shows it.
pub fn converged(obj: &Value) -> bool {
    is_converged(obj["metadata"]["generation"].as_i64(), &obj["status"])
}

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
        let cp = ControlPlane::start_with_apiserver_args(args)
            .await
            .expect("control plane");
        let emulator = start_emulator(&example_fixtures()).await.expect("emulator");
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
    pub async fn emulator_control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        EmulatorControl::new(&self.emulator)
            .call(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("emulator control API: {e:#}"))
    }
}

impl ControlPlane {
    /// Waits until the demo channel (the examples) has converged the way the examples promise:
    /// the connections in [`OPERATOR_NAMESPACES`] and every plan Ready, the resellers Ready but
    /// tailspin-demo (sandbox-only, granted a production plan: Ready=False). Panics with the
    /// object and the end of `log` (the operator's) when a wait times out.
    pub fn wait_demo_converged(&self, log: impl Fn() -> String) {
        let [provider, reseller] = OPERATOR_NAMESPACES;
        let waits: &[&[&str]] = &[
            &["--for=condition=Ready", "pcc", "--all", "-n", provider, "--timeout=90s"],
            &["--for=condition=Ready", "pcc", "--all", "-n", reseller, "--timeout=60s"],
            &["--for=condition=Ready", "cplan", "--all", "--timeout=60s"],
            &[
                "--for=condition=Ready",
                "rsl",
                "contoso",
                "contoso-test",
                "northwind",
                "northwind-wellington",
                "--timeout=60s",
            ],
            &["--for=condition=Ready=False", "rsl", "tailspin-demo", "--timeout=60s"],
        ];
        for w in waits {
            self.wait_or_show(w, &log);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn converged_means_the_current_generation_evaluated_with_a_verdict() {
        let ready = |status: &str| json!({"conditions": [{"type": "Ready", "status": status}]});
        let with_generation = |mut s: Value, g: i64| {
            s["observedGeneration"] = json!(g);
            s
        };
        let cases = [
            (
                "Ready=True at the generation",
                Some(2),
                with_generation(ready("True"), 2),
                true,
            ),
            (
                "Ready=False at the generation",
                Some(2),
                with_generation(ready("False"), 2),
                true,
            ),
            (
                "Ready=Unknown: still in progress",
                Some(2),
                with_generation(ready("Unknown"), 2),
                false,
            ),
            (
                "an older generation evaluated",
                Some(3),
                with_generation(ready("True"), 2),
                false,
            ),
            ("no Ready condition", Some(1), json!({"observedGeneration": 1}), false),
            ("no status at all", Some(1), Value::Null, false),
        ];
        for (case, generation, status, want) in cases {
            assert_eq!(is_converged(generation, &status), want, "{case}");
            let obj = json!({"metadata": {"generation": generation}, "status": status});
            assert_eq!(converged(&obj), want, "{case} (object)");
        }
    }
}
