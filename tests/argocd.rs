//! Argo CD: the health check of deploy/argocd/ run in gopher-lua (the Lua VM Argo CD embeds, built
//! as hack/tools/luahealth) against statuses the operator really wrote — live from a converged
//! scenario, and checked-in captures (tests/fixtures/argocd/, see its README.md) — and the GitOps
//! property Argo CD relies on: re-applying the manifests server-side changes nothing.

mod support;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use support::{ControlPlane, PROVIDER_NS, User, output_text, repo_root, tool_bin, wait_until};

const KINDS: [&str; 3] = ["PartnerCenterConnection", "CustomerPlan", "Reseller"];

/// The health scripts exactly as shipped to Argo CD: argocd-cm.yaml's entry for each kind.
fn shipped_scripts() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(repo_root().join("deploy/argocd/argocd-cm.yaml")).unwrap();
    let cm: Value = serde_saphyr::from_str(&text).expect("argocd-cm.yaml parses");
    KINDS
        .iter()
        .map(|k| {
            let key = format!("resource.customizations.health.channel.csp.dev_{k}");
            let script = cm["data"][&key]
                .as_str()
                .unwrap_or_else(|| panic!("argocd-cm.yaml has no {key}"));
            (k.to_string(), script.to_string())
        })
        .collect()
}

/// Runs the kind's health script on `obj` in gopher-lua: (status, message).
fn health(obj: &Value) -> (String, String) {
    let kind = obj["kind"].as_str().expect("kind");
    let script = shipped_scripts()
        .remove(kind)
        .unwrap_or_else(|| panic!("no health check for {kind}"));
    let dir = tempfile::tempdir().unwrap();
    let (lua, json) = (dir.path().join("health.lua"), dir.path().join("obj.json"));
    std::fs::write(&lua, script).unwrap();
    std::fs::write(&json, obj.to_string()).unwrap();
    let out = Command::new(tool_bin().join("luahealth"))
        .arg(&lua)
        .arg(&json)
        .output()
        .expect("run luahealth");
    assert!(
        out.status.success(),
        "luahealth failed on {}: {}",
        obj["metadata"]["name"],
        output_text(&out)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("luahealth JSON");
    (
        v["status"].as_str().unwrap().to_string(),
        v["message"].as_str().unwrap().to_string(),
    )
}

fn ready_of(obj: &Value) -> Value {
    support::ready_of(&obj["status"])
}

/// What the health message must say for a status at the current generation: the Ready reason and message.
fn ready_detail(obj: &Value) -> String {
    let ready = ready_of(obj);
    let reason = ready["reason"].as_str().unwrap_or("");
    match ready["message"].as_str() {
        Some(m) if !m.is_empty() => format!("{reason}: {m}"),
        _ => reason.to_string(),
    }
}

#[test]
fn argocd_cm_is_generated_from_health_lua() {
    let out = Command::new("bash")
        .arg(repo_root().join("deploy/argocd/gen-argocd-cm.sh"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let source = std::fs::read_to_string(repo_root().join("deploy/argocd/health.lua")).unwrap();
    for (kind, script) in shipped_scripts() {
        assert_eq!(
            script.trim_end(),
            source.trim_end(),
            "{kind}: argocd-cm.yaml does not carry health.lua"
        );
    }
}

/// Checked-in captures of real operator statuses (how: tests/fixtures/argocd/README.md).
#[test]
fn health_of_captured_statuses() {
    let cases: &[(&str, &str, &str)] = &[
        ("pcc-contoso-nz-production-ready.json", "Healthy", "Verified"),
        ("cplan-nz-indirect-production-ready.json", "Healthy", ""),
        ("rsl-northwind-ready.json", "Healthy", ""),
        ("rsl-tailspin-demo-sandbox-only.json", "Degraded", "SandboxOnlyReseller"),
        (
            "pcc-fabrikam-namespace-not-owned.json",
            "Degraded",
            "ConnectionNamespaceNotOwned",
        ),
        // captured by tests/helm.rs (the chart's Secret RoleBinding removed)
        (
            "pcc-northwind-nz-production-secret-forbidden.json",
            "Degraded",
            "SecretForbidden",
        ),
        (
            "pcc-contoso-eur-sandbox-consent-revoked.json",
            "Degraded",
            "ConsentRevoked",
        ),
        (
            "rsl-northwind-spec-changed.json",
            "Progressing",
            "has not evaluated the current spec yet",
        ),
    ];
    let dir = repo_root().join("tests/fixtures/argocd");
    let mut seen = 0;
    for (file, want_status, want_in_message) in cases {
        let obj: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}")))
                .unwrap();
        let (status, message) = health(&obj);
        assert_eq!(status, *want_status, "{file}: {message}");
        assert!(
            message.contains(want_in_message),
            "{file}: message {message:?} lacks {want_in_message:?}"
        );
        if status != "Progressing" {
            assert_eq!(
                message,
                ready_detail(&obj),
                "{file}: the message is the Ready reason and message"
            );
        }
        seen += 1;
    }
    // Every capture is in the table (a new capture without an expectation fails).
    let files = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json"))
        .count();
    assert_eq!(
        files, seen,
        "tests/fixtures/argocd has captures that this test does not check"
    );
}

/// Edge cases derived from a real capture: the generation rules of Healthy.
#[test]
fn healthy_only_for_ready_true_at_the_current_generation() {
    let dir = repo_root().join("tests/fixtures/argocd");
    let ready: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("rsl-northwind-ready.json")).unwrap()).unwrap();
    let generation = ready["metadata"]["generation"].as_i64().unwrap();
    let ready_index = ready["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["type"] == "Ready")
        .unwrap();
    type Edit = fn(&mut Value, i64, usize);
    let cases: &[(&str, Edit, &str, &str)] = &[
        ("as captured", |_, _, _| {}, "Healthy", ""),
        (
            "no status yet",
            |o, _, _| {
                o.as_object_mut().unwrap().remove("status");
            },
            "Progressing",
            "Waiting for the operator",
        ),
        (
            "status older than spec",
            |o, g, _| o["metadata"]["generation"] = (g + 1).into(),
            "Progressing",
            "has not evaluated the current spec",
        ),
        (
            "Ready condition older than spec",
            |o, g, i| o["status"]["conditions"][i]["observedGeneration"] = (g - 1).into(),
            "Progressing",
            "older than the spec",
        ),
        (
            "Ready condition without observedGeneration",
            |o, _, i| {
                o["status"]["conditions"][i]
                    .as_object_mut()
                    .unwrap()
                    .remove("observedGeneration");
            },
            "Progressing",
            "older than the spec",
        ),
        (
            "Ready=Unknown",
            |o, _, i| o["status"]["conditions"][i]["status"] = "Unknown".into(),
            "Progressing",
            "",
        ),
        (
            "Ready=False",
            |o, _, i| o["status"]["conditions"][i]["status"] = "False".into(),
            "Degraded",
            "",
        ),
        (
            "no Ready condition",
            |o, _, _| o["status"]["conditions"] = Value::Array(vec![]),
            "Progressing",
            "No Ready condition",
        ),
        (
            "deleting, the operator's verdict: what still uses it",
            |o, _, i| {
                o["metadata"]["deletionTimestamp"] = "2026-12-01T14:00:00Z".into();
                o["status"]["conditions"][i]["status"] = "False".into();
                o["status"]["conditions"][i]["reason"] = "Deleting".into();
                o["status"]["conditions"][i]["message"] = "deletion waits: referenced by X".into();
            },
            "Degraded",
            "Deleting: deletion waits: referenced by X",
        ),
        (
            "deleting, before the operator has looked (generation moved)",
            |o, g, _| {
                o["metadata"]["deletionTimestamp"] = "2026-12-01T14:00:00Z".into();
                o["metadata"]["generation"] = (g + 1).into();
            },
            "Degraded",
            "Deleting: waiting for the operator to release it",
        ),
    ];
    for (name, edit, want_status, want_in_message) in cases {
        let mut obj = ready.clone();
        edit(&mut obj, generation, ready_index);
        let (status, message) = health(&obj);
        assert_eq!(status, *want_status, "{name}: {message}");
        assert!(message.contains(want_in_message), "{name}: {message:?}");
    }
}

// --- live -------------------------------------------------------------------------------------

fn all_objects(cp: &ControlPlane) -> Vec<Value> {
    cp.channel_objects()
}

fn key(obj: &Value) -> String {
    format!(
        "{}/{}/{}",
        obj["kind"].as_str().unwrap(),
        obj["metadata"]["namespace"].as_str().unwrap_or(""),
        obj["metadata"]["name"].as_str().unwrap()
    )
}

/// `PCO_CAPTURE_ARGOCD_FIXTURES=1` writes the object as a checked-in capture (managedFields dropped).
fn capture(obj: &Value, file: &str) {
    if std::env::var_os("PCO_CAPTURE_ARGOCD_FIXTURES").is_some() {
        let mut obj = obj.clone();
        obj["metadata"].as_object_mut().unwrap().remove("managedFields");
        let path: PathBuf = repo_root().join("tests/fixtures/argocd").join(file);
        std::fs::write(&path, serde_json::to_string_pretty(&obj).unwrap() + "\n").unwrap();
    }
}

fn get(cp: &ControlPlane, args: &[&str]) -> Value {
    cp.get_json(args)
}

async fn wait_for(what: &str, mut f: impl FnMut() -> Option<Value>) -> Value {
    let found = wait_until(what, Duration::from_secs(90), Duration::from_millis(250), || {
        match f() {
            Some(v) => ControlFlow::Break(v),
            None => ControlFlow::Continue(String::new()),
        }
    })
    .await;
    found.unwrap_or_else(|e| panic!("timed out waiting for {what}: {e}")).0
}

fn resource_versions(cp: &ControlPlane) -> BTreeMap<String, String> {
    all_objects(cp)
        .iter()
        .map(|o| (key(o), o["metadata"]["resourceVersion"].as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_of_a_live_scenario_and_server_side_reapply_is_a_no_op() {
    let channel = support::Channel::start().await;
    let cp = &channel.cp;
    // A connection in a namespace that belongs to no Reseller: refused by the operator (Degraded).
    let fabrikam = get(cp, &["-n", "reseller-northwind", "pcc", "northwind-nz-production"]);
    let out = cp.kubectl_run(User::Admin, &["create", "namespace", "reseller-fabrikam"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let mut pcc = serde_json::json!({"apiVersion": fabrikam["apiVersion"], "kind": "PartnerCenterConnection",
        "metadata": {"name": "fabrikam-nz-production", "namespace": "reseller-fabrikam"}, "spec": fabrikam["spec"]});
    pcc["spec"]["auth"]["secretRef"]["name"] = "fabrikam-credentials".into();
    let out = cp.apply_yaml(User::Admin, &pcc.to_string());
    assert!(out.status.success(), "{}", output_text(&out));

    let mut operator = channel.start_operator(User::Operator, "argocd-test", &[]);
    cp.wait_demo_converged(|| operator.log_text());
    cp.wait(&[
        "--for=condition=Ready=False",
        "-n",
        "reseller-fabrikam",
        "pcc",
        "fabrikam-nz-production",
        "--timeout=60s",
    ]);

    // Every object: the health follows its Ready condition at the current generation.
    let objects = all_objects(cp);
    assert_eq!(
        objects.len(),
        3 + 1 + 2 + 6,
        "{:?}",
        objects.iter().map(key).collect::<Vec<_>>()
    );
    let mut by_key = BTreeMap::new();
    for obj in &objects {
        let (status, message) = health(obj);
        let want = match ready_of(obj)["status"].as_str() {
            Some("True") => "Healthy",
            Some("False") => "Degraded",
            _ => "Progressing",
        };
        assert_eq!(status, want, "{}: {message}\n{:#}", key(obj), obj["status"]);
        assert_eq!(message, ready_detail(obj), "{}", key(obj));
        by_key.insert(key(obj), (status, message));
    }
    let expect: &[(&str, &str, &str)] = &[
        (
            "PartnerCenterConnection/csp-system/contoso-nz-production",
            "Healthy",
            "",
        ),
        (
            "PartnerCenterConnection/reseller-northwind/northwind-nz-production",
            "Healthy",
            "",
        ),
        (
            "PartnerCenterConnection/reseller-fabrikam/fabrikam-nz-production",
            "Degraded",
            "ConnectionNamespaceNotOwned",
        ),
        ("CustomerPlan//nz-indirect-production", "Healthy", ""),
        ("Reseller//northwind", "Healthy", ""),
        ("Reseller//wingtip", "Healthy", ""),
        ("Reseller//tailspin-demo", "Degraded", "SandboxOnlyReseller"),
    ];
    for (k, status, in_message) in expect {
        let (got, message) = by_key.get(*k).unwrap_or_else(|| panic!("no {k}"));
        assert_eq!(got, status, "{k}: {message}");
        assert!(message.contains(in_message), "{k}: {message}");
    }
    capture(
        &get(cp, &["-n", PROVIDER_NS, "pcc", "contoso-nz-production"]),
        "pcc-contoso-nz-production-ready.json",
    );
    capture(
        &get(cp, &["cplan", "nz-indirect-production"]),
        "cplan-nz-indirect-production-ready.json",
    );
    capture(&get(cp, &["rsl", "northwind"]), "rsl-northwind-ready.json");
    capture(
        &get(cp, &["rsl", "tailspin-demo"]),
        "rsl-tailspin-demo-sandbox-only.json",
    );
    capture(
        &get(cp, &["-n", "reseller-fabrikam", "pcc", "fabrikam-nz-production"]),
        "pcc-fabrikam-namespace-not-owned.json",
    );

    // GitOps: Argo CD applies server-side on every sync. After one server-side apply (which may
    // take over field ownership), a second one must change nothing: same resourceVersions.
    // Secrets are left out on purpose: Git must not own the rotated refreshToken (README).
    let desired = support::examples(
        &[
            "20-connections.yaml",
            "30-plans.yaml",
            "40-resellers.yaml",
            "90-misconfigured.yaml",
        ],
        &channel.addr,
    );
    let ssa = ["apply", "--server-side", "--field-manager=argocd-controller", "-f", "-"];
    let out = cp.kubectl_stdin(User::Admin, &ssa, &desired);
    assert!(out.status.success(), "{}", output_text(&out));
    tokio::time::sleep(Duration::from_secs(2)).await; // let the operator see the apply (it must not write)
    let before = resource_versions(cp);
    let out = cp.kubectl_stdin(User::Admin, &ssa, &desired);
    assert!(out.status.success(), "{}", output_text(&out));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        resource_versions(cp),
        before,
        "a repeated server-side apply changed objects"
    );

    // Spec changed (displayName) while the operator is down: Progressing until it has evaluated the new generation.
    operator.kill();
    let out = cp.kubectl_run(
        User::Admin,
        &[
            "patch",
            "rsl",
            "northwind",
            "--type=merge",
            "-p",
            r#"{"spec":{"displayName":"Northwind Traders Ltd"}}"#,
        ],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let changed = get(cp, &["rsl", "northwind"]);
    let (status, message) = health(&changed);
    assert_eq!(status, "Progressing", "{message}");
    assert!(message.contains("has not evaluated the current spec yet"), "{message}");
    capture(&changed, "rsl-northwind-spec-changed.json");
    let _operator = channel.start_operator(User::Operator, "argocd-test", &[]);
    let healthy = wait_for("the reseller's new generation to be evaluated", || {
        let obj = get(cp, &["rsl", "northwind"]);
        (obj["status"]["observedGeneration"] == obj["metadata"]["generation"]).then_some(obj)
    })
    .await;
    assert_eq!(health(&healthy).0, "Healthy", "{:#}", healthy["status"]);

    // A real failure reported by Partner Center: consent revoked (and the cached access token expired).
    for (path, body) in [
        (
            "/_emulator/refresh-tokens/revoke",
            serde_json::json!({"tenantId": "11111111-1111-4111-8111-111111111111"}),
        ),
        ("/_emulator/clock/advance", serde_json::json!({"seconds": 3700})),
    ] {
        channel.emulator_control(reqwest::Method::POST, path, Some(body)).await;
    }
    cp.request_sync(PROVIDER_NS, "contoso-eur-sandbox", "argocd-test");
    let degraded = wait_for("the revoked connection to be Ready=False", || {
        let obj = get(cp, &["-n", PROVIDER_NS, "pcc", "contoso-eur-sandbox"]);
        (ready_of(&obj)["status"] == "False").then_some(obj)
    })
    .await;
    let (status, message) = health(&degraded);
    assert_eq!(status, "Degraded", "{message}");
    assert!(message.starts_with("ConsentRevoked: "), "{message}");
    capture(&degraded, "pcc-contoso-eur-sandbox-consent-revoked.json");
}
