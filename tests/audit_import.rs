//! `audit` and `import` (src/cli/audit.rs, src/cli/import.rs) run the way a user runs them:
//! `kubectl channel ...` (the real kubectl finding the plugin on the PATH) against a real
//! kube-apiserver, with the operator converging the examples and the emulator behind the
//! connections. The provider's New Zealand account lists five explicit customers here (instead of
//! the demo's 640 generated ones): one already declared, one associated with the indirect
//! reseller Wingtip, one with Tailspin (which no Reseller declares), one plain, one mapped by a
//! mapping file to a reseller that provisions through another account.
//!
//! The Observed conditions and `status.inventory` counts that audit reports are the operator's own:
//! Harakeke Farms is declared as the root's customer while Partner Center associates it with
//! Wingtip (WrongReseller), and Northwind's first customer is removed from its account
//! (TenantGone); the test requests syncs until both findings are published.
//!
//! Outputs are golden files (tests/fixtures/audit_import/); regenerate them with
//! `UPDATE_GOLDEN=1 cargo test --test audit_import` and review the diff.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{
    Channel, ControlPlane, EmulatorControl, OPERATOR_NAMESPACES, Operator, User, apply_ok, example_fixtures,
    example_manifests, kubectl_ok, operator_bin, output_text, read_repo_file, repo_root, start_emulator, tool_bin,
};

const NZ_PARTNER: &str = "22222222-2222-4222-8222-222222222222";
const NORTHWIND_PARTNER: &str = "33333333-3333-4333-8333-333333333333";
const NZ: &str = "csp-system/contoso-nz-production";

/// The provider's NZ account's customers (tenant, company, domain, associated indirect reseller).
const NZ_CUSTOMERS: [(&str, &str, &str, Option<&str>); 5] = [
    (
        "c0000001-0000-4000-8000-000000000001",
        "Harakeke Farms",
        "harakekefarms.onmicrosoft.com",
        Some("44444444-4444-4444-8444-444444444404"),
    ),
    (
        "c0000002-0000-4000-8000-000000000002",
        "Kowhai Books",
        "kowhaibooks.onmicrosoft.com",
        Some("44444444-4444-4444-8444-444444444404"),
    ),
    (
        "c0000003-0000-4000-8000-000000000003",
        "Rimu Dental",
        "rimudental.onmicrosoft.com",
        None,
    ),
    (
        "c0000004-0000-4000-8000-000000000004",
        "Tui Surf",
        "tuisurf.onmicrosoft.com",
        None,
    ),
    (
        "c0000005-0000-4000-8000-000000000005",
        "Matai & Sons",
        "mataisons.onmicrosoft.com",
        Some("44444444-4444-4444-8444-444444444402"),
    ),
];

fn fixtures() -> String {
    let mut list = String::from("    generatedCustomers: 0\n    customers:\n");
    for (id, company, domain, associated) in NZ_CUSTOMERS {
        list.push_str(&format!(
            "      - {{ tenantId: {id}, companyName: \"{company}\", domain: {domain}{} }}\n",
            associated.map_or(String::new(), |a| format!(", associatedPartnerId: {a}"))
        ));
    }
    let all = example_fixtures();
    assert!(
        all.contains("    generatedCustomers: 640\n"),
        "the NZ account's fixture line"
    );
    all.replace("    generatedCustomers: 640\n", &list)
}

/// `kubectl channel <args>` as `user` (the kubeconfig from KUBECONFIG: flags before the plugin's
/// name would stop kubectl from finding it).
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

fn golden(name: &str, got: &str) {
    let path: PathBuf = repo_root().join("tests/fixtures/audit_import").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
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

fn existing_customer(ns: &str, name: &str, reseller: &str, key: &str, value: &str) -> String {
    format!(
        "apiVersion: channel.csp.dev/v1alpha1\nkind: Customer\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  \
         reseller: {reseller}\n  plan: nz-indirect-production\n  tenant:\n    existing:\n      {key}: {value}\n"
    )
}

/// Requests syncs of connection `ns/name` (answered at most every 30 s) until `done` holds for
/// its status, or panics with the operator's log after three minutes.
fn sync_until(cp: &ControlPlane, ns: &str, name: &str, operator: &Operator, done: impl Fn(&Value) -> bool) {
    let started = std::time::Instant::now();
    let mut asked = 0;
    while started.elapsed() < std::time::Duration::from_secs(180) {
        if asked * 35 <= started.elapsed().as_secs() {
            asked += 1;
            cp.request_sync(ns, name, &format!("audit-{asked}"));
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
        let conn: Value = serde_json::from_str(&kubectl_ok(
            cp,
            User::Admin,
            &["get", "pcc", "-n", ns, name, "-o", "json"],
        ))
        .unwrap();
        if done(&conn["status"]) {
            return;
        }
    }
    panic!("{ns}/{name}: the status never got there\n{}", operator.log_text());
}

fn wait_adopted(cp: &ControlPlane, ns: &str, name: &str, operator: &Operator) {
    cp.wait_or_show(
        &[
            "--for=jsonpath={.status.provisioning.phase}=Adopted",
            "cust",
            name,
            "-n",
            ns,
            "--timeout=90s",
        ],
        || operator.log_text(),
    );
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for ns in std::fs::read_dir(dir).unwrap() {
        let ns = ns.unwrap().path();
        for f in std::fs::read_dir(&ns).unwrap() {
            out.push(f.unwrap().path().strip_prefix(dir).unwrap().display().to_string());
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_and_import_against_the_live_channel() {
    // --- the channel, with the NZ account's customers above.
    let cp = ControlPlane::start().await.expect("control plane");
    let emulator = start_emulator(&fixtures()).await.expect("emulator");
    cp.install_operator(&OPERATOR_NAMESPACES);
    let addr = emulator.addr.to_string();
    let ch = Channel { cp, emulator, addr };
    ch.apply(&example_manifests(&ch.addr));
    let control = EmulatorControl::new(&ch.emulator);
    let northwind_tenant = control
        .customers(NORTHWIND_PARTNER, None)
        .await
        .expect("northwind's customers")[0]["id"]
        .as_str()
        .expect("a tenant id")
        .to_string();
    // Declared before the import: Harakeke by domain (the provider's), one of Northwind's own account by tenant id.
    ch.apply(&existing_customer(
        "csp-system",
        "harakeke-farms",
        "contoso",
        "domain",
        "harakekefarms.onmicrosoft.com",
    ));
    ch.apply(&existing_customer(
        "reseller-northwind",
        "northwind-first",
        "northwind",
        "tenantId",
        &northwind_tenant,
    ));
    let operator = ch.start_operator(User::Operator, "audit-operator", &[]);
    let cp = &ch.cp;
    cp.wait_demo_converged(|| operator.log_text());
    wait_adopted(cp, "csp-system", "harakeke-farms", &operator);
    wait_adopted(cp, "reseller-northwind", "northwind-first", &operator);
    for args in [
        &[
            "create",
            "clusterrolebinding",
            "channel-provider-admin",
            "--clusterrole=channel-provider-admin",
            "--group=channel:provider-admins",
        ][..],
        // The provider's admins read the provider namespace's connection Secrets (deploy/rbac/provider-admin.yaml).
        &[
            "-n",
            "csp-system",
            "create",
            "rolebinding",
            "channel-provider-secrets",
            "--clusterrole=channel-connection-secrets",
            "--group=channel:provider-admins",
        ][..],
    ] {
        kubectl_ok(cp, User::Admin, args);
    }
    let admin_template = read_repo_file("deploy/rbac/reseller-admin-template.yaml")
        .replace("${RESELLER}", "northwind")
        .replace("${NAMESPACE}", "reseller-northwind")
        .replace("${SUBJECT_KIND}", "User")
        .replace("${SUBJECT_NAME}", "reseller-admin-a");
    apply_ok(cp, User::Admin, &admin_template);

    // --- the findings, published by the operator's syncs (see the module comment).
    control
        .call(
            reqwest::Method::DELETE,
            &format!("/_emulator/partners/{NORTHWIND_PARTNER}/customers/{northwind_tenant}"),
            None,
        )
        .await
        .expect("remove Northwind's first customer");
    sync_until(cp, "reseller-northwind", "northwind-nz-production", &operator, |st| {
        st["inventory"]["missing"] == 1
    });
    sync_until(cp, "csp-system", "contoso-nz-production", &operator, |st| {
        st["inventory"]["wrongReseller"] == 1 && st["inventory"]["detailsPending"] == 0
    });
    for (ns, name, reason) in [
        ("csp-system", "harakeke-farms", "WrongReseller"),
        ("reseller-northwind", "northwind-first", "TenantGone"),
    ] {
        cp.wait_or_show(
            &[
                &format!("--for=jsonpath={{.status.conditions[?(@.type==\"Observed\")].reason}}={reason}"),
                "cust",
                name,
                "-n",
                ns,
                "--timeout=90s",
            ],
            || operator.log_text(),
        );
    }

    // --- audit: (golden file, user, arguments, exit code)
    let provider = User::ProviderAdmin;
    let reseller_admin = User::ResellerAdmin("a");
    let audits: &[(&str, User, &[&str], i32)] = &[
        (
            "audit-nz-live-as-provider.txt",
            provider,
            &["audit", "--connection", NZ, "--live"],
            0,
        ),
        ("audit-all-as-provider.json", provider, &["audit", "-o", "json"], 0),
        (
            "audit-all-as-provider-fail.txt",
            provider,
            &["audit", "--fail-on-findings"],
            1,
        ),
        (
            "audit-all-as-reseller-admin.txt",
            reseller_admin,
            &["audit", "--all"],
            0,
        ),
        (
            "audit-namespace-as-reseller-admin.txt",
            reseller_admin,
            &["audit", "-n", "reseller-northwind"],
            0,
        ),
        (
            "audit-namespace-as-reseller-admin.json",
            reseller_admin,
            &["audit", "-n", "reseller-northwind", "-o", "json", "--fail-on-findings"],
            1,
        ),
    ];
    for (file, user, args, code) in audits {
        let out = channel(cp, *user, args);
        assert_eq!(out.status.code(), Some(*code), "audit {args:?}: {}", output_text(&out));
        golden(file, &String::from_utf8(out.stdout).unwrap());
    }
    // The JSON is data: the finding's reason, per connection, and the findings in all.
    let json: Value = serde_json::from_str(&channel_ok(
        cp,
        provider,
        &["audit", "--connection", NZ, "--live", "-o", "json"],
    ))
    .expect("audit -o json");
    let nz = &json["connections"][0];
    assert_eq!(
        (
            nz["name"].as_str(),
            nz["notAsDeclared"][0]["customer"].as_str(),
            nz["notAsDeclared"][0]["reason"].as_str(),
            nz["undeclared"].as_array().map(Vec::len),
            nz["undeclared"][0]["reseller"].as_str(),
            json["findings"].as_u64(),
        ),
        (
            Some("contoso-nz-production"),
            Some("csp-system/harakeke-farms"),
            Some("WrongReseller"),
            Some(4),
            Some("wingtip"),
            Some(5),
        ),
        "{json:#}"
    );

    // --- import: the stream (golden), then one file per customer.
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("mapping.yaml");
    std::fs::write(
        &mapping,
        "mappings:\n  - domain: tuisurf.onmicrosoft.com\n    reseller: northwind-wellington\n",
    )
    .unwrap();
    let mapping_arg = mapping.to_str().unwrap();
    let out = channel(cp, provider, &["import", "--connection", NZ, "--mapping", mapping_arg]);
    let stream = String::from_utf8(out.stdout.clone()).unwrap();
    let said = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    golden("import-contoso-nz-production.yaml", &stream);
    assert_eq!(
        said,
        "4 undeclared customer(s) of csp-system/contoso-nz-production (5 listed, 1 declared)\n\
         1 need a plan (spec.plan is a TODO):\n  reseller-northwind/tui-surf: Reseller northwind-wellington is \
         granted no plan whose connection is this one: grant one, or set spec.plan (or pass --plan, or a mapping \
         row's plan)\n"
    );
    // Mapping rows that cannot apply are refused, naming the row's field: (file text, message).
    let refusals = [
        (
            "mappings:\n  - domain: tuisurf.onmicrosoft.com\n    reseller: northwind-welington\n",
            "mappings[0].reseller: no Reseller \"northwind-welington\" (did you mean 'northwind-wellington'?)",
        ),
        (
            "mappings:\n  - tenantId: tui\n    reseller: contoso\n",
            "mappings[0].tenantId: \"tui\" is not a tenant id (a GUID)",
        ),
        ("rows: []\n", "not a mapping file"),
    ];
    for (text, want) in refusals {
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, text).unwrap();
        let out = channel(
            cp,
            provider,
            &["import", "--connection", NZ, "--mapping", bad.to_str().unwrap()],
        );
        assert!(
            !out.status.success() && output_text(&out).contains(want),
            "{text}: {}",
            output_text(&out)
        );
    }
    // A reseller's admin may not read the provider's connection: said, not a partial import.
    let out = channel(cp, reseller_admin, &["import", "--connection", NZ]);
    assert!(
        !out.status.success()
            && output_text(&out).contains("cannot read PartnerCenterConnection csp-system/contoso-nz-production"),
        "{}",
        output_text(&out)
    );

    let out_dir = dir.path().join("customers");
    channel_ok(
        cp,
        provider,
        &[
            "import",
            "--connection",
            NZ,
            "--mapping",
            mapping_arg,
            "-o",
            out_dir.to_str().unwrap(),
        ],
    );
    let files = files_under(&out_dir);
    assert_eq!(
        files,
        [
            "csp-system/kowhai-books.yaml",
            "csp-system/matai-sons.yaml",
            "csp-system/rimu-dental.yaml",
            "reseller-northwind/tui-surf.yaml"
        ]
    );
    for f in &files {
        let text = std::fs::read_to_string(out_dir.join(f)).unwrap();
        assert!(
            text.starts_with("# Customers of the Partner Center account "),
            "{f}: header"
        );
        let doc = text.split_once("apiVersion").map(|(_, rest)| rest).unwrap();
        assert!(stream.contains(doc), "{f} is the stream's document");
    }
    // The TODO manifest is refused as it is (spec.plan is empty): nothing is applied by guess.
    let todo = out_dir.join("reseller-northwind/tui-surf.yaml");
    let todo_text = std::fs::read_to_string(&todo).unwrap();
    assert!(todo_text.contains("  plan: \"\"  # TODO: "), "{todo_text}");
    let refused = cp.kubectl_run(provider, &["apply", "-f", todo.to_str().unwrap()]);
    assert!(
        !refused.status.success() && output_text(&refused).contains("spec.plan"),
        "{}",
        output_text(&refused)
    );
    std::fs::remove_file(&todo).unwrap();

    // --- applying the others adopts every tenant, and Partner Center is not written to.
    let seq = control
        .requests_since(0)
        .await
        .unwrap()
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .max()
        .unwrap_or(0);
    kubectl_ok(cp, provider, &["apply", "-R", "-f", out_dir.to_str().unwrap()]);
    // (Customer, tenant it adopts)
    let imported = [
        ("kowhai-books", NZ_CUSTOMERS[1].0, Some("wingtip")),
        ("matai-sons", NZ_CUSTOMERS[4].0, Some("contoso")),
        ("rimu-dental", NZ_CUSTOMERS[2].0, Some("contoso")),
    ];
    for (name, tenant, reseller) in imported {
        wait_adopted(cp, "csp-system", name, &operator);
        let c = cp.get_json(&["cust", name, "-n", "csp-system"]);
        assert_eq!(
            (
                c["status"]["tenantId"].as_str(),
                c["status"]["connection"]["name"].as_str(),
                c["spec"]["reseller"].as_str()
            ),
            (Some(tenant), Some("contoso-nz-production"), reseller),
            "{c:#}"
        );
    }
    let log = control.requests_since(seq).await.unwrap();
    let mut by_method: BTreeMap<String, u64> = BTreeMap::new();
    for e in &log {
        let kind = if e["path"].as_str().is_some_and(|p| p.starts_with("/v1/")) {
            "Partner Center"
        } else {
            "login"
        };
        *by_method
            .entry(format!("{kind} {}", e["method"].as_str().unwrap_or("?")))
            .or_default() += 1;
    }
    println!("emulator requests while the imported Customers were adopted: {by_method:?}");
    let writes: Vec<&Value> = log
        .iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.starts_with("/v1/")) && e["method"] != "GET")
        .collect();
    assert!(writes.is_empty(), "Partner Center writes during adoption: {writes:#?}");
    // No invitation either: the look-up found each tenant among the account's customers.
    let invitations: Vec<&Value> = log
        .iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.contains("relationshiprequests")))
        .collect();
    assert!(invitations.is_empty(), "invitation URLs asked for: {invitations:#?}");
    assert!(
        by_method.get("Partner Center GET").copied().unwrap_or(0) > 0,
        "the operator looked the tenants up: {by_method:?}"
    );

    assert_eq!(
        control.customers(NZ_PARTNER, None).await.unwrap().len(),
        NZ_CUSTOMERS.len(),
        "the account holds the same customers: none created"
    );

    // --- once imported, only the customer needing a plan is left, with the very same manifest.
    let again = channel_ok(cp, provider, &["import", "--connection", NZ, "--mapping", mapping_arg]);
    let left: Vec<&str> = again.split("---\n").skip(1).collect();
    assert_eq!(left.len(), 1, "{again}");
    assert!(todo_text.ends_with(left[0]), "{again}");
}
