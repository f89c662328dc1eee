//! The tools for people (src/cli: trace, what-if, onboard-reseller) run the way a user runs them:
//! `kubectl channel ...` (the real kubectl finding the `kubectl-channel` plugin on the PATH) against
//! a real kube-apiserver, with the operator converging the examples, as the provider's admins and as
//! a reseller's admin with its limited rights.
//!
//! trace outputs are golden files (tests/fixtures/tools/, timestamps normalised); regenerate them
//! with `UPDATE_GOLDEN=1 cargo test --test tools` and review the diff.

mod support;

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};
use support::{
    Channel, ControlPlane, Operator, User, apply_ok, kubectl_ok, operator_bin, output_text, read_repo_file, repo_root,
    tool_bin,
};

/// Six more resellers under the root, each granted the production plan: with the root itself,
/// eight resellers (with the examples' wingtip) provision through `csp-system/contoso-nz-production` by the plan.
fn extra_resellers() -> String {
    (1..=6)
        .map(|i| {
            format!(
                "apiVersion: channel.csp.dev/v1alpha1\nkind: Reseller\nmetadata:\n  name: auckland-{i}\nspec:\n  \
                 displayName: Auckland {i}\n  shortName: AKL{i}\n  parent: contoso\n  region: NZ\n  services:\n    \
                 azureAD:\n      enabled: true\n      customerPlans:\n        - plan: nz-indirect-production\n---\n"
            )
        })
        .collect()
}

/// `kubectl channel <args>` as `user`: kubectl looks the plugin up on the PATH (flags before the
/// plugin's name would stop kubectl from finding it, so the kubeconfig comes from KUBECONFIG).
fn channel(cp: &ControlPlane, user: User, args: &[&str]) -> Output {
    let plugin_dir = operator_bin().parent().expect("bin dir").to_path_buf();
    assert!(
        plugin_dir.join("kubectl-channel").exists(),
        "no kubectl-channel next to the operator binary: cargo build --bins"
    );
    Command::new(tool_bin().join("kubectl"))
        .arg("channel")
        .args(args)
        .env("KUBECONFIG", cp.kubeconfig(user))
        .env(
            "PATH",
            format!("{}:{}", plugin_dir.display(), std::env::var("PATH").unwrap_or_default()),
        )
        .output()
        .expect("run kubectl channel")
}

fn channel_ok(cp: &ControlPlane, user: User, args: &[&str]) -> String {
    let out = channel(cp, user, args);
    assert!(out.status.success(), "kubectl channel {args:?}: {}", output_text(&out));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Timestamps (RFC 3339, as the statuses hold them) replaced by `<time>`.
fn normalise(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let digit = |j: usize| b.get(j).is_some_and(u8::is_ascii_digit);
    let at = |j: usize, c: u8| b.get(j) == Some(&c);
    while i < b.len() {
        let looks = (0..4).all(|k| digit(i + k))
            && at(i + 4, b'-')
            && digit(i + 5)
            && at(i + 7, b'-')
            && at(i + 10, b'T')
            && at(i + 13, b':')
            && at(i + 16, b':');
        if looks {
            let mut j = i + 19;
            if at(j, b'.') {
                j += 1;
                while digit(j) {
                    j += 1;
                }
            }
            if at(j, b'Z') {
                out.push_str("<time>");
                i = j + 1;
                continue;
            }
        }
        let ch = text[i..].chars().next().expect("a char");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn golden(name: &str, got: &str) {
    let path: PathBuf = repo_root().join("tests/fixtures/tools").join(name);
    let got = normalise(got);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("no golden file {}: run with UPDATE_GOLDEN=1", path.display()));
    assert_eq!(
        got,
        want,
        "{name} differs from {} (UPDATE_GOLDEN=1 to accept)",
        path.display()
    );
}

/// The reseller-admin template rendered for Northwind, bound to user reseller-admin-a.
fn bind_northwind_admin(cp: &ControlPlane) {
    let rendered = read_repo_file("deploy/rbac/reseller-admin-template.yaml")
        .replace("${RESELLER}", "northwind")
        .replace("${NAMESPACE}", "reseller-northwind")
        .replace("${SUBJECT_KIND}", "User")
        .replace("${SUBJECT_NAME}", "reseller-admin-a");
    apply_ok(cp, User::Admin, &rendered);
}

struct Scenario {
    channel: Channel,
    operator: Operator,
}

impl Scenario {
    async fn start() -> Scenario {
        let channel = Channel::start().await;
        channel.apply(&extra_resellers());
        let operator = channel.start_operator(User::Operator, "tools-operator", &[]);
        let cp = &channel.cp;
        cp.wait_demo_converged(|| operator.log_text());
        let extras: Vec<String> = (1..=6).map(|i| format!("auckland-{i}")).collect();
        let mut wait = vec!["--for=condition=Ready", "rsl", "--timeout=60s"];
        wait.extend(extras.iter().map(String::as_str));
        cp.wait_or_show(&wait, || operator.log_text());
        kubectl_ok(
            cp,
            User::Admin,
            &[
                "create",
                "clusterrolebinding",
                "channel-provider-admin",
                "--clusterrole=channel-provider-admin",
                "--group=channel:provider-admins",
            ],
        );
        bind_northwind_admin(cp);
        Scenario { channel, operator }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_what_if_and_onboarding_against_the_live_channel() {
    let s = Scenario::start().await;
    let cp = &s.channel.cp;

    // --- trace: golden trees, as the provider's admin and as Northwind's admin.
    // (golden file, user, arguments)
    let traces: &[(&str, User, &[&str])] = &[
        (
            "trace-reseller-northwind-wellington.txt",
            User::ProviderAdmin,
            &["trace", "reseller", "northwind-wellington"],
        ),
        (
            "trace-reseller-tailspin-demo.txt",
            User::ProviderAdmin,
            &["trace", "reseller", "tailspin-demo"],
        ),
        (
            "trace-connection-contoso-nz-production.txt",
            User::ProviderAdmin,
            &["trace", "connection", "csp-system/contoso-nz-production"],
        ),
        (
            "trace-reseller-northwind-as-its-admin.txt",
            User::ResellerAdmin("a"),
            &["trace", "reseller", "northwind"],
        ),
        (
            "trace-connection-northwind-as-its-admin.txt",
            User::ResellerAdmin("a"),
            &["trace", "connection", "reseller-northwind/northwind-nz-production"],
        ),
    ];
    for (file, user, args) in traces {
        golden(file, &channel_ok(cp, *user, args));
    }
    // The same tree as JSON: the blocking node is data, not only a mark in the text.
    let json: Value = serde_json::from_str(&channel_ok(
        cp,
        User::ProviderAdmin,
        &["trace", "reseller", "tailspin-demo", "-o", "json"],
    ))
    .expect("trace -o json");
    let plan = &json["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "EffectivePlan")
        .expect("an effective plan")
        .clone();
    assert_eq!(
        (
            plan["name"].as_str(),
            plan["ready"].as_str(),
            plan["reason"].as_str(),
            plan["blocking"].as_bool()
        ),
        (
            Some("nz-indirect-production"),
            Some("unusable"),
            Some("SandboxOnlyReseller"),
            Some(true)
        ),
        "{json:#}"
    );
    let out = channel(cp, User::ResellerAdmin("a"), &["trace", "reseller", "contoso"]);
    assert!(!out.status.success());
    assert!(
        output_text(&out).contains("forbidden: you may not read Reseller 'contoso'"),
        "{}",
        output_text(&out)
    );

    // --- the reseller-viewer role (deploy/rbac/reseller-viewer-template.yaml) for Northwind, as
    // reseller-admin-c: its subtree, the plans granted to it, its namespace's connections and Events.
    let viewer = read_repo_file("deploy/rbac/reseller-viewer-template.yaml")
        .replace("${RESELLER}", "northwind")
        .replace("${NAMESPACE}", "reseller-northwind")
        .replace("${SUBTREE}", r#"["northwind", "northwind-wellington"]"#)
        .replace("${PLANS}", r#"["nz-indirect-production"]"#)
        .replace("${SUBJECT_KIND}", "User")
        .replace("${SUBJECT_NAME}", "reseller-admin-c");
    assert!(!viewer.contains("${"), "a placeholder is left:\n{viewer}");
    apply_ok(cp, User::Admin, &viewer);
    let c = User::ResellerAdmin("c");
    let cases: &[(&[&str], bool)] = &[
        (&["get", "rsl", "northwind"], true),
        (&["get", "rsl", "northwind-wellington"], true),
        (&["get", "cplan", "nz-indirect-production"], true),
        (&["-n", "reseller-northwind", "get", "pcc"], true),
        (&["-n", "reseller-northwind", "get", "events"], true),
        (&["get", "rsl", "contoso"], false),
        (&["get", "cplan", "eur-direct-sandbox"], false),
        (&["-n", "reseller-northwind", "get", "secrets"], false),
        (
            &[
                "-n",
                "reseller-northwind",
                "delete",
                "pcc",
                "northwind-nz-production",
                "--dry-run=server",
            ],
            false,
        ),
        (&["-n", "csp-system", "get", "pcc"], false),
    ];
    for (args, allowed) in cases {
        let out = cp.kubectl_run(c, args);
        assert_eq!(
            out.status.success(),
            *allowed,
            "viewer: kubectl {args:?}: {}",
            output_text(&out)
        );
    }
    golden(
        "trace-reseller-northwind-wellington-as-viewer.txt",
        &channel_ok(cp, c, &["trace", "reseller", "northwind-wellington"]),
    );

    // --- kubectl says why: the printer columns. (kubectl get args, columns, one row's cells in order)
    let tables: &[(&[&str], &[&str], &[&str])] = &[
        (
            &["get", "rsl"],
            &["NAME", "READY", "REASON", "PLANS", "WARNINGS"],
            &["tailspin-demo", "False", "SandboxOnlyReseller", "0/1", "0"],
        ),
        (
            &["get", "rsl"],
            &["NAME", "READY", "REASON", "PLANS", "WARNINGS"],
            &["contoso", "True", "Ready", "2/2", "0"],
        ),
        (
            &["get", "rsl", "-o", "wide"],
            &["MESSAGE"],
            &["tailspin-demo", "Reseller 'tailspin-demo' is sandbox-only"],
        ),
        (
            &["get", "pcc", "-n", "csp-system"],
            &["READY", "REASON", "LAST SYNC", "USED BY"],
            &["contoso-nz-production", "True", "Verified", "1"],
        ),
        (
            &["get", "cplan", "-o", "wide"],
            &["READY", "REASON", "MESSAGE"],
            &[
                "nz-indirect-production",
                "True",
                "Ready",
                "the plan is valid and its connection is ready",
            ],
        ),
    ];
    for (args, columns, cells) in tables {
        let table = kubectl_ok(cp, User::ProviderAdmin, args);
        let header = table.lines().next().unwrap_or_default();
        for c in *columns {
            assert!(header.contains(c), "kubectl {args:?}: column {c} missing:\n{table}");
        }
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("{} ", cells[0])))
            .unwrap_or_else(|| panic!("kubectl {args:?}: no row {}:\n{table}", cells[0]));
        let mut rest = row;
        for c in *cells {
            let at = rest
                .find(c)
                .unwrap_or_else(|| panic!("kubectl {args:?}: {c:?} not in order in {row:?}"));
            rest = &rest[at + c.len()..];
        }
    }

    // --- what-if: (case, manifest, exit code, lines the report must hold)
    let before = cp.get_json(&["cplan", "nz-indirect-production"]);
    let repoint = read_repo_file("examples/30-plans.yaml").replace(
        "namespace: csp-system\n    name: contoso-nz-production",
        "namespace: csp-system\n    name: contoso-eur-sandbox",
    );
    assert_ne!(
        repoint,
        read_repo_file("examples/30-plans.yaml"),
        "the re-pointing edit applies"
    );
    // The root, the six resellers this test adds, and the examples' indirect reseller wingtip.
    let users = [
        "contoso",
        "auckland-1",
        "auckland-2",
        "auckland-3",
        "auckland-4",
        "auckland-5",
        "auckland-6",
        "wingtip",
    ];
    let cases: Vec<(&str, String, i32, Vec<String>)> = vec![
        (
            "the checked-in plans, unchanged",
            read_repo_file("examples/30-plans.yaml"),
            0,
            vec!["nothing that works now would break".into()],
        ),
        (
            "the production plan re-pointed at the sandbox connection",
            repoint,
            1,
            {
                let mut want: Vec<String> = users
                .iter()
                .map(|r| {
                    format!(
                        "Reseller {r}\n  BREAKS plan nz-indirect-production: connection csp-system/contoso-nz-production -> \
                         csp-system/contoso-eur-sandbox, usable -> NOT USABLE: PlanConnectionMismatch: "
                    )
                })
                .collect();
                want.push(format!(
                    "would break {} object(s): CustomerPlan nz-indirect-production, {}",
                    users.len() + 1,
                    {
                        let mut names: Vec<String> = users.iter().map(|r| format!("Reseller {r}")).collect();
                        names.sort();
                        names.join(", ")
                    }
                ));
                want
            },
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (case, manifest, code, want) in cases {
        let sub = dir.path().join(case.replace(' ', "-"));
        std::fs::create_dir_all(sub.join("plans")).unwrap();
        std::fs::write(sub.join("plans/30-plans.yaml"), &manifest).unwrap();
        let out = channel(cp, User::ProviderAdmin, &["what-if", "-f", sub.to_str().unwrap()]);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(code), "{case}: exit code\n{text}");
        for w in &want {
            assert!(text.contains(w.as_str()), "{case}: missing\n{w}\nin\n{text}");
        }
        if code == 1 {
            println!("what-if ({case}):\n{text}");
            // Northwind and its sub-reseller keep Northwind's own account (the override): unaffected.
            assert!(!text.contains("Reseller northwind"), "{case}: {text}");
        }
    }
    // Nothing was written: the plan is the very same object version.
    let after = cp.get_json(&["cplan", "nz-indirect-production"]);
    assert_eq!(
        (
            &after["metadata"]["resourceVersion"],
            &after["spec"]["connectionRef"]["name"]
        ),
        (
            &before["metadata"]["resourceVersion"],
            &Value::from("contoso-nz-production")
        )
    );
    // A reseller's admin cannot see the whole channel, and is told so instead of a partial verdict.
    let out = channel(
        cp,
        User::ResellerAdmin("a"),
        &["what-if", "-f", dir.path().to_str().unwrap()],
    );
    assert!(
        !out.status.success() && output_text(&out).contains("what-if needs to list every Reseller"),
        "{}",
        output_text(&out)
    );

    // --- onboard-reseller: printed, then applied; the operator makes the Reseller Ready and its
    // admin (reseller-admin-b) may act in its namespace.
    let args = [
        "onboard-reseller",
        "fabrikam",
        "--parent",
        "contoso",
        "--namespace",
        "reseller-fabrikam",
        "--region",
        "NZ",
        "--plan",
        "nz-indirect-production",
        "--admin-kind",
        "user",
        "--admin",
        "reseller-admin-b",
    ];
    let printed = channel(cp, User::Admin, &args);
    assert!(printed.status.success(), "{}", output_text(&printed));
    let printed_text = String::from_utf8_lossy(&printed.stdout).to_string();
    assert!(!cp.exists(&["rsl", "fabrikam"]), "printing applied nothing");
    let mut apply = args.to_vec();
    apply.push("--apply");
    let applied = channel(cp, User::Admin, &apply);
    let applied_text = output_text(&applied);
    assert!(applied.status.success(), "{applied_text}");
    println!("onboard-reseller (printed):\n{printed_text}\nonboard-reseller --apply:\n{applied_text}");
    for line in [
        "applied Namespace reseller-fabrikam",
        "applied ClusterRole channel-reseller-admin-fabrikam",
        "applied RoleBinding reseller-fabrikam/channel-reseller-admin",
        "applied Reseller fabrikam",
        "What is left:",
        "rbac.secretNamespaces",
    ] {
        assert!(applied_text.contains(line), "missing {line:?} in\n{applied_text}");
    }
    cp.wait_or_show(&["--for=condition=Ready", "rsl", "fabrikam", "--timeout=60s"], || {
        s.operator.log_text()
    });
    let b = User::ResellerAdmin("b");
    let cases: &[(&[&str], bool)] = &[
        (&["get", "rsl", "fabrikam"], true),
        (
            &[
                "-n",
                "reseller-fabrikam",
                "create",
                "secret",
                "generic",
                "fab-credentials",
                "--from-literal=clientId=x",
            ],
            true,
        ),
        (&["-n", "reseller-fabrikam", "get", "events"], true),
        (&["get", "rsl", "contoso"], false),
        (&["-n", "reseller-northwind", "get", "secrets"], false),
    ];
    for (args, allowed) in cases {
        let out = cp.kubectl_run(b, args);
        assert_eq!(
            out.status.success(),
            *allowed,
            "reseller-admin-b: kubectl {args:?}: {}",
            output_text(&out)
        );
    }
}
