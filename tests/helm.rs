//! The Helm chart (charts/partner-center-operator) with real tools: pinned helm 3 and helm 4 builds
//! (hack/tools/helm3, helm4), a real kube-apiserver, and the operator binary running under the
//! chart's ServiceAccount.

mod support;
use serde_json::{Value, json};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::{ControlPlane, Operator, User, output_text, ready_of, repo_root, tool_bin, wait_until};

const RELEASE: &str = "pco";
const NS: &str = "csp-system";
const RESELLER_NS: &str = "reseller-northwind";
/// The chart's ServiceAccount (release "pco" contains no chart name, so fullname = pco-partner-center-operator).
const SA: &str = "pco-partner-center-operator";

#[derive(Clone, Copy, Debug)]
enum Helm {
    V3,
    V4,
}

impl Helm {
    fn cmd(self) -> Command {
        Command::new(tool_bin().join(match self {
            Helm::V3 => "helm3",
            Helm::V4 => "helm4",
        }))
    }
}

fn chart() -> PathBuf {
    repo_root().join("charts/partner-center-operator")
}

/// The Kubernetes version of the test control plane (hack/tools/kubernetes/go.mod), for
/// `--kube-version`: a helm built from source would otherwise assume another version.
fn kube_version() -> String {
    let gomod = std::fs::read_to_string(repo_root().join("hack/tools/kubernetes/go.mod")).unwrap();
    gomod
        .lines()
        .find_map(|l| l.strip_prefix("require k8s.io/kubernetes "))
        .expect("k8s.io/kubernetes in go.mod")
        .trim()
        .to_string()
}

fn run(mut cmd: Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

/// `helm template` of the chart with `args` (e.g. `--set`, `-f`).
fn template(helm: Helm, args: &[&str]) -> Output {
    let mut cmd = helm.cmd();
    cmd.args(["template", RELEASE])
        .arg(chart())
        .args(["-n", NS, "--kube-version", &kube_version()])
        .args(args);
    run(cmd)
}

fn template_ok(helm: Helm, args: &[&str]) -> String {
    let out = template(helm, args);
    assert!(
        out.status.success(),
        "{helm:?} template {args:?}: {}",
        output_text(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn docs(yaml: &str) -> Vec<Value> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(yaml).expect("YAML");
    docs.into_iter().filter(|d| d.is_object()).collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"))
}

/// All features on that need no third-party CRDs (used for lint and the server-side dry run).
fn all_features() -> PathBuf {
    chart().join("ci/all-features-values.yaml")
}

#[test]
fn chart_copies_are_identical_to_their_sources() {
    // hack/sync-chart.sh --check compares every copy with its source and finds stale copies.
    let out = run({
        let mut c = Command::new("bash");
        c.arg(repo_root().join("hack/sync-chart.sh")).arg("--check");
        c
    });
    assert!(out.status.success(), "chart copies drifted: {}", output_text(&out));
}

/// The chart renders the CRDs and the deploy/ YAML from one source: each rendered object equals the
/// source object but for the chart's labels and the keep annotation.
#[test]
fn rendered_crds_and_deploy_yaml_equal_their_sources() {
    let sources = ["crds", "deploy/admission", "deploy/rbac"];
    for helm in [Helm::V3, Helm::V4] {
        let rendered = docs(&template_ok(
            helm,
            &[
                "--set",
                "rbac.resellerAdmins[0].reseller=r1,rbac.resellerAdmins[0].namespace=r1,rbac.resellerAdmins[0].subjectKind=Group,rbac.resellerAdmins[0].subjectName=g1",
            ],
        ));
        let mut compared = 0;
        for dir in sources {
            for entry in std::fs::read_dir(repo_root().join(dir)).unwrap() {
                let path = entry.unwrap().path();
                // Rendered by hand per reseller (its subtree and plans are lists the chart does not know).
                if path.ends_with("reseller-viewer-template.yaml") {
                    continue;
                }
                let mut text = std::fs::read_to_string(&path).unwrap();
                for (from, to) in [
                    ("${RESELLER}", "r1"),
                    ("${NAMESPACE}", "r1"),
                    ("${SUBJECT_KIND}", "Group"),
                    ("${SUBJECT_NAME}", "g1"),
                ] {
                    text = text.replace(from, to);
                }
                for source in docs(&text) {
                    let name = source["metadata"]["name"].as_str().unwrap();
                    let mut got = find(&rendered, source["kind"].as_str().unwrap(), name).clone();
                    let meta = got["metadata"].as_object_mut().unwrap();
                    let labels = meta.get_mut("labels").and_then(Value::as_object_mut).unwrap();
                    let source_labels = source["metadata"]["labels"].as_object().cloned().unwrap_or_default();
                    for chart_label in [
                        "helm.sh/chart",
                        "app.kubernetes.io/name",
                        "app.kubernetes.io/instance",
                        "app.kubernetes.io/version",
                        "app.kubernetes.io/managed-by",
                        "app.kubernetes.io/part-of",
                    ] {
                        assert!(
                            labels.contains_key(chart_label),
                            "{helm:?} {name}: label {chart_label} missing"
                        );
                        if !source_labels.contains_key(chart_label) {
                            labels.remove(chart_label);
                        }
                    }
                    if labels.is_empty() {
                        meta.remove("labels");
                    }
                    if source["kind"] == "CustomResourceDefinition" {
                        let annotations = meta.remove("annotations").expect("keep annotation");
                        // Argo CD ignores Helm's keep policy: its own sync options keep the CRDs too.
                        assert_eq!(
                            annotations,
                            json!({"helm.sh/resource-policy": "keep",
                                   "argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}),
                            "{name}"
                        );
                    }
                    assert_eq!(got, source, "{helm:?}: rendered {name} differs from {}", path.display());
                    compared += 1;
                }
            }
        }
        assert!(compared >= 13, "compared only {compared} objects");
    }
    // crds.keep=false drops the keep annotation, crds.annotations replace or add to Argo CD's (null
    // drops it), crds.enabled=false drops the CRDs. Rows: values, the CRDs' annotations.
    let rows: [(&[&str], Value); 3] = [
        (
            &["--set", "crds.keep=false"],
            json!({"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}),
        ),
        (
            &[
                "--set",
                "crds.keep=false,crds.annotations.argocd\\.argoproj\\.io/sync-options=null",
            ],
            Value::Null,
        ),
        (
            &["--set", "crds.annotations.example\\.com/owner=platform"],
            json!({"helm.sh/resource-policy": "keep", "example.com/owner": "platform",
                   "argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}),
        ),
    ];
    for (args, want) in rows {
        for helm in [Helm::V3, Helm::V4] {
            let rendered = docs(&template_ok(helm, args));
            for crd in rendered.iter().filter(|d| d["kind"] == "CustomResourceDefinition") {
                assert_eq!(crd["metadata"]["annotations"], want, "{helm:?} {args:?}");
            }
        }
    }
    let no_crds = docs(&template_ok(Helm::V3, &["--set", "crds.enabled=false"]));
    assert!(!no_crds.iter().any(|d| d["kind"] == "CustomResourceDefinition"));
}

#[test]
fn lint_strict_passes_with_helm_3_and_helm_4() {
    let kv = kube_version();
    for helm in [Helm::V3, Helm::V4] {
        for values in [None, Some(all_features())] {
            let mut cmd = helm.cmd();
            cmd.args(["lint", "--strict", "--kube-version", &kv]).arg(chart());
            if let Some(v) = &values {
                cmd.arg("-f").arg(v);
            }
            let out = run(cmd);
            assert!(out.status.success(), "{helm:?} lint {values:?}: {}", output_text(&out));
            assert!(output_text(&out).contains("0 chart(s) failed"), "{}", output_text(&out));
        }
    }
}

#[test]
fn deployment_carries_the_settings_and_the_restricted_profile() {
    let rendered = docs(&template_ok(
        Helm::V4,
        &[
            "--set",
            "operator.providerNamespace=csp-provider,operator.endpointAllowList={a.example:8443,b.example}",
            "--set",
            "operator.sandboxStandardIsError=true,operator.defaultSyncInterval=30m,operator.logFormat=plain,operator.logLevel=debug",
            "--set",
            "operator.regionTable.ANZ={AU,NZ},operator.concurrency=4,adminPort=9090",
        ],
    ));
    let deploy = find(&rendered, "Deployment", SA);
    let pod = &deploy["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let env: std::collections::BTreeMap<String, Value> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e.get("value").cloned().unwrap_or(e["valueFrom"].clone()),
            )
        })
        .collect();
    let cases = [
        ("PCO_PROVIDER_NAMESPACE", json!("csp-provider")),
        ("PCO_ENDPOINT_ALLOW_LIST", json!("a.example:8443,b.example")),
        ("PCO_SANDBOX_STANDARD_IS_ERROR", json!("true")),
        ("PCO_DEFAULT_SYNC_INTERVAL", json!("30m")),
        ("PCO_REGION_TABLE", json!("/etc/partner-center-operator/regions.yaml")),
        ("PCO_ADMIN_ADDR", json!("0.0.0.0:9090")),
        ("PCO_LEADER_ELECTION", json!("true")),
        ("PCO_CONCURRENCY", json!("4")),
        ("PCO_LOG_FORMAT", json!("plain")),
        ("PCO_LOG_LEVEL", json!("debug")),
        (
            "POD_NAMESPACE",
            json!({"fieldRef": {"fieldPath": "metadata.namespace"}}),
        ),
    ];
    for (name, want) in cases {
        assert_eq!(env.get(name), Some(&want), "env {name}");
    }
    // Every operator setting (an `env = "PCO_..."` of src/runtime/settings.rs) is wired by the chart.
    let settings = std::fs::read_to_string(repo_root().join("src/runtime/settings.rs")).unwrap();
    let names: Vec<&str> = settings
        .split("env = \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(names.len() >= 12, "{names:?}");
    for name in names {
        assert!(
            env.contains_key(name),
            "setting {name} is not set by the chart's Deployment"
        );
    }
    let regions = find(&rendered, "ConfigMap", "pco-partner-center-operator-regions");
    assert_eq!(regions["data"]["regions.yaml"], "ANZ:\n- AU\n- NZ\n");
    assert_eq!(
        c["readinessProbe"]["httpGet"],
        json!({"path": "/readyz", "port": "admin"})
    );
    assert_eq!(
        c["livenessProbe"]["httpGet"],
        json!({"path": "/livez", "port": "admin"})
    );
    assert_eq!(c["ports"][0]["containerPort"], 9090);
    assert_eq!(
        c["securityContext"],
        json!({"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsNonRoot": true,
               "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}})
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    assert!(c["resources"]["limits"]["memory"].is_string());
    // No wildcard anywhere in the chart's RBAC.
    for d in rendered
        .iter()
        .filter(|d| matches!(d["kind"].as_str(), Some("ClusterRole" | "Role")))
    {
        let text = d["rules"].to_string();
        assert!(!text.contains("\"*\""), "wildcard in {}: {text}", d["metadata"]["name"]);
    }
}

/// /metrics is unauthenticated and names every tenant's connections: by default the NetworkPolicy
/// lets no pod reach the admin port, `networkPolicy.metricsFrom` opens it to the named peers only,
/// and a ServiceMonitor that the policy would starve is refused with the fix.
#[test]
fn metrics_are_closed_by_default_and_opened_only_to_named_peers() {
    let peer = json!({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}});
    let metrics_from = format!("networkPolicy.metricsFrom=[{peer}]");
    for helm in [Helm::V3, Helm::V4] {
        let default = docs(&template_ok(helm, &[]));
        let np = &find(&default, "NetworkPolicy", SA)["spec"];
        assert_eq!(np["policyTypes"], json!(["Ingress"]), "{helm:?}: {np:#}");
        assert_eq!(
            np["ingress"],
            json!([]),
            "{helm:?}: nobody may reach the admin port by default: {np:#}"
        );
        assert_eq!(
            np["podSelector"]["matchLabels"]["app.kubernetes.io/component"],
            "operator"
        );
        assert!(
            np.get("egress").is_none(),
            "{helm:?}: egress is restricted only on request: {np:#}"
        );

        let open = docs(&template_ok(helm, &["--set-json", &metrics_from]));
        assert_eq!(
            find(&open, "NetworkPolicy", SA)["spec"]["ingress"],
            json!([{"ports": [{"port": "admin", "protocol": "TCP"}], "from": [peer]}]),
            "{helm:?}"
        );

        let egress = docs(&template_ok(helm, &["--set", "networkPolicy.restrictEgress=true"]));
        let np = &find(&egress, "NetworkPolicy", SA)["spec"];
        assert_eq!(np["policyTypes"], json!(["Ingress", "Egress"]), "{helm:?}");
        assert_eq!(
            np["egress"][1]["ports"],
            json!([{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]),
            "{helm:?}: {np:#}"
        );

        let out = template(helm, &["--set", "serviceMonitor.enabled=true"]);
        let text = output_text(&out);
        assert!(
            !out.status.success()
                && text.contains("serviceMonitor.enabled")
                && text.contains("set networkPolicy.metricsFrom"),
            "{helm:?}: a ServiceMonitor nobody lets through must be refused: {text}"
        );
        let monitored = docs(&template_ok(
            helm,
            &["--set", "serviceMonitor.enabled=true", "--set-json", &metrics_from],
        ));
        assert!(monitored.iter().any(|d| d["kind"] == "ServiceMonitor"), "{helm:?}");

        let off = docs(&template_ok(helm, &["--set", "networkPolicy.enabled=false"]));
        assert!(!off.iter().any(|d| d["kind"] == "NetworkPolicy"), "{helm:?}");
    }
}

/// The Lease role names the release's Lease (get/update/patch by resourceNames); `create` cannot
/// be limited by name and stays a rule of its own.
#[test]
fn the_lease_role_is_limited_to_the_release_lease() {
    let rendered = docs(&template_ok(
        Helm::V3,
        &["--set", "operator.leaderElection.leaseName=pco-lease"],
    ));
    let role = find(&rendered, "ClusterRole", "partner-center-operator-leader-election");
    assert_eq!(
        role["rules"],
        json!([
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["pco-lease"],
             "verbs": ["get", "update", "patch"]},
        ])
    );
    let env = &find(&rendered, "Deployment", SA)["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(
        env.as_array()
            .unwrap()
            .contains(&json!({"name": "PCO_LEASE_NAME", "value": "pco-lease"})),
        "{env:#}"
    );
}

/// values.schema.json refuses unknown keys and bad values; each case names the field.
#[test]
fn schema_refuses_bad_values_naming_the_field() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--set", "replicas=2"], &["replicas"]),
        (&["--set", "crds.kep=true"], &["kep"]),
        (&["--set", "operator.logformat=json"], &["logformat"]),
        (&["--set", "operator.logFormat=xml"], &["logFormat"]),
        (
            &["--set", "operator.defaultSyncInterval=soon"],
            &["defaultSyncInterval"],
        ),
        // The template names the bad key and the fix (a schema propertyNames error names a random path).
        (
            &["--set", "operator.regionTable.NZ={NZ}"],
            &[
                "operator.regionTable: key \"NZ\" is not a composite region code",
                "3 to 5 upper-case letters",
            ],
        ),
        (
            &["--set", "operator.regionTable.anz={AU}"],
            &["operator.regionTable: key \"anz\""],
        ),
        (&["--set", "operator.regionTable.ANZ={au}"], &["regionTable"]),
        (&["--set", "image.registry=bad registry"], &["registry"]),
        (&["--set", "dashboard.enabeld=true"], &["enabeld"]),
        (&["--set", "prometheusRule.runbookBaseUrl=docs"], &["runbookBaseUrl"]),
        (&["--set", "rbac.secretNamespaces={Bad_NS}"], &["secretNamespaces"]),
        (&["--set", "rbac.resellerAdmins[0].reseller=r1"], &["resellerAdmins"]),
        (&["--set", "image.digest=latest"], &["digest"]),
        (&["--set", "networkPolicy.egressPorts={0}"], &["egressPorts"]),
        (&["--set", "networkPolicy.restrictEgres=true"], &["restrictEgres"]),
        (&["--set", "emulator.enabeld=true"], &["enabeld"]),
        (
            &[
                "--set",
                "podDisruptionBudget.enabled=true,podDisruptionBudget.minAvailable=1",
            ],
            &["set only one of minAvailable and maxUnavailable"],
        ),
        (&["--set", "serviceAccount.create=false"], &["serviceAccount.name"]),
    ];
    for helm in [Helm::V3, Helm::V4] {
        for (args, want) in cases {
            let out = template(helm, args);
            let text = output_text(&out);
            assert!(!out.status.success(), "{helm:?} {args:?} was accepted");
            for w in *want {
                assert!(text.contains(w), "{helm:?} {args:?}: error does not name {w}: {text}");
            }
        }
    }
}

fn control_plane_with_namespaces() -> ControlPlane {
    let cp = ControlPlane::start_blocking().expect("control plane");
    cp.create_namespaces(&[NS, RESELLER_NS]);
    cp
}

#[test]
fn rendered_chart_is_accepted_by_the_api_server() {
    let cp = control_plane_with_namespaces();
    for helm in [Helm::V3, Helm::V4] {
        let yaml = template_ok(helm, &["-f", all_features().to_str().unwrap()]);
        let kinds: Vec<_> = docs(&yaml)
            .iter()
            .map(|d| d["kind"].as_str().unwrap().to_string())
            .collect();
        for k in [
            "CustomResourceDefinition",
            "ValidatingAdmissionPolicy",
            "Deployment",
            "PodDisruptionBudget",
            "NetworkPolicy",
            "ConfigMap",
            "Service",
            "Role",
            "RoleBinding",
        ] {
            assert!(
                kinds.iter().any(|x| x == k),
                "{k} not rendered with all features: {kinds:?}"
            );
        }
        let out = cp.kubectl_stdin(User::Admin, &["apply", "--dry-run=server", "-f", "-"], &yaml);
        assert!(out.status.success(), "{helm:?}: {}", output_text(&out));
        let text = output_text(&out);
        assert_eq!(text.matches("(server dry run)").count(), kinds.len(), "{text}");
    }
}

fn helm_in(cp: &ControlPlane, helm: Helm, args: &[&str]) -> Output {
    let mut cmd = helm.cmd();
    cmd.args(args)
        .env("KUBECONFIG", cp.kubeconfig(User::Admin))
        .env("HELM_CACHE_HOME", cp.dir().join("helm-cache"))
        .env("HELM_CONFIG_HOME", cp.dir().join("helm-config"))
        .env("HELM_DATA_HOME", cp.dir().join("helm-data"));
    run(cmd)
}

fn helm_ok(cp: &ControlPlane, helm: Helm, args: &[&str]) -> String {
    let out = helm_in(cp, helm, args);
    assert!(out.status.success(), "{helm:?} {args:?}: {}", output_text(&out));
    output_text(&out)
}

fn install_upgrade_uninstall(helm: Helm) {
    let cp = control_plane_with_namespaces();
    let chart = chart();
    let chart = chart.to_str().unwrap();
    helm_ok(
        &cp,
        helm,
        &[
            "install",
            RELEASE,
            chart,
            "-n",
            NS,
            "--set",
            &format!("rbac.secretNamespaces={{{RESELLER_NS}}}"),
        ],
    );
    cp.wait(&["--for=condition=Established", "crd", "--all", "--timeout=60s"]);
    for obj in [
        vec!["-n", NS, "deployment", SA],
        vec!["-n", NS, "serviceaccount", SA],
        vec!["-n", NS, "rolebinding", "pco-partner-center-operator-secrets"],
        vec!["-n", RESELLER_NS, "rolebinding", "pco-partner-center-operator-secrets"],
        vec!["-n", NS, "rolebinding", "pco-partner-center-operator-leader-election"],
        vec!["clusterrole", "partner-center-operator"],
        vec!["clusterrole", "channel-provider-admin"],
        vec!["validatingadmissionpolicy", "reseller-guard.channel.csp.dev"],
        vec!["validatingadmissionpolicybinding", "reseller-guard.channel.csp.dev"],
        vec!["validatingadmissionpolicy", "in-use-protection.channel.csp.dev"],
        vec!["validatingadmissionpolicybinding", "in-use-protection.channel.csp.dev"],
        vec!["-n", NS, "networkpolicy", SA],
    ] {
        assert!(cp.exists(&obj), "{helm:?}: {obj:?} not installed");
    }
    // Objects in the chart's CRDs, to prove they survive the uninstall below.
    let plan = std::fs::read_to_string(repo_root().join("examples/30-plans.yaml")).unwrap();
    let out = cp.apply_yaml(User::Admin, &plan);
    assert!(out.status.success(), "{}", output_text(&out));

    if let Helm::V4 = helm {
        // Helm 4 applies server-side: its field manager owns the Deployment's fields through Apply.
        let d = cp.get_json(&["-n", NS, "deployment", SA, "--show-managed-fields"]);
        let managers: Vec<_> = d["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["manager"].clone(), m["operation"].clone()))
            .collect();
        assert!(managers.contains(&(json!("helm"), json!("Apply"))), "{managers:?}");
    }

    helm_ok(
        &cp,
        helm,
        &[
            "upgrade",
            RELEASE,
            chart,
            "-n",
            NS,
            "--reuse-values",
            "--set",
            "operator.logLevel=debug,replicaCount=3",
        ],
    );
    let d = cp.get_json(&["-n", NS, "deployment", SA]);
    assert_eq!(d["spec"]["replicas"], 3);
    let env = d["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    assert!(
        env.contains(&json!({"name": "PCO_LOG_LEVEL", "value": "debug"})),
        "{env:?}"
    );
    assert!(
        cp.exists(&["-n", RESELLER_NS, "rolebinding", "pco-partner-center-operator-secrets"]),
        "--reuse-values kept the namespaces"
    );
    // Dropping a namespace from the values removes its RoleBinding.
    helm_ok(
        &cp,
        helm,
        &[
            "upgrade",
            RELEASE,
            chart,
            "-n",
            NS,
            "--set",
            "rbac.secretNamespaces=null",
        ],
    );
    assert!(!cp.exists(&["-n", RESELLER_NS, "rolebinding", "pco-partner-center-operator-secrets"]));

    helm_ok(&cp, helm, &["uninstall", RELEASE, "-n", NS]);
    for obj in [
        vec!["-n", NS, "deployment", SA],
        vec!["clusterrole", "partner-center-operator"],
        vec!["validatingadmissionpolicy", "reseller-guard.channel.csp.dev"],
    ] {
        assert!(!cp.exists(&obj), "{helm:?}: {obj:?} left after uninstall");
    }
    // crds.keep: the CRDs and the objects in them survive the uninstall.
    for crd in [
        "partnercenterconnections.channel.csp.dev",
        "customerplans.channel.csp.dev",
        "resellers.channel.csp.dev",
        "customers.channel.csp.dev",
    ] {
        assert!(cp.exists(&["crd", crd]), "{helm:?}: CRD {crd} deleted on uninstall");
    }
    assert!(cp.exists(&["customerplan", "nz-indirect-production"]));

    // Reinstalling over the kept CRDs works (Helm adopts them: they carry the release annotations).
    helm_ok(&cp, helm, &["install", RELEASE, chart, "-n", NS]);
    // And crds.keep=false really deletes them.
    helm_ok(
        &cp,
        helm,
        &["upgrade", RELEASE, chart, "-n", NS, "--set", "crds.keep=false"],
    );
    helm_ok(&cp, helm, &["uninstall", RELEASE, "-n", NS]);
    // The API server deletes the custom resources first; on a loaded machine that takes a while.
    let deadline = Instant::now() + Duration::from_secs(180);
    while cp.exists(&["crd", "resellers.channel.csp.dev"]) {
        assert!(Instant::now() < deadline, "CRD not deleted with crds.keep=false");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn helm_3_installs_upgrades_and_uninstalls_keeping_crds() {
    install_upgrade_uninstall(Helm::V3);
}

#[test]
fn helm_4_installs_upgrades_and_uninstalls_keeping_crds() {
    install_upgrade_uninstall(Helm::V4);
}

// --- RBAC: the operator under the chart's ServiceAccount --------------------------------------

/// A kubeconfig for the chart's ServiceAccount: a TokenRequest (no controller-manager needed).
fn service_account_kubeconfig(cp: &ControlPlane) -> PathBuf {
    let out = cp.kubectl_run(User::Admin, &["-n", NS, "create", "token", SA, "--duration", "2h"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let admin = std::fs::read_to_string(cp.kubeconfig(User::Admin)).unwrap();
    let path = cp.dir().join("kubeconfig-chart-sa");
    let admin_token = admin
        .lines()
        .find_map(|l| l.trim().strip_prefix("user: {token: \""))
        .unwrap()
        .trim_end_matches("\"}");
    std::fs::write(&path, admin.replace(admin_token, &token)).unwrap();
    path
}

/// The operator binary with the environment of the installed Deployment (the chart's wiring),
/// as the Pod would get it: POD_NAMESPACE and PCO_IDENTITY from the downward API.
fn start_as_deployment(cp: &ControlPlane, kubeconfig: &PathBuf, identity: &str) -> Operator {
    let d = cp.get_json(&["-n", NS, "deployment", SA]);
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    let admin = support::free_loopback_addr();
    let mut cmd = Command::new(support::operator_bin());
    cmd.args(c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()));
    cmd.env_clear().env("KUBECONFIG", kubeconfig);
    for e in c["env"].as_array().unwrap() {
        if let Some(v) = e["value"].as_str() {
            cmd.env(e["name"].as_str().unwrap(), v);
        }
    }
    // Downward API values, and a loopback admin port instead of the Pod's 0.0.0.0.
    cmd.env("POD_NAMESPACE", NS)
        .env("PCO_IDENTITY", identity)
        .env("PCO_ADMIN_ADDR", &admin);
    let log = cp.dir().join(format!("operator-{identity}.log"));
    Operator::spawn(cmd, log, Some(admin)).expect("start the operator")
}

fn ready_condition(cp: &ControlPlane, args: &[&str]) -> Value {
    ready_of(&cp.get_json(args)["status"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_rbac_is_sufficient_and_a_missing_permission_fails_clearly() {
    let emu = support::start_emulator(&support::example_fixtures())
        .await
        .expect("emulator");
    let addr = emu.addr.to_string();
    let cp = tokio::task::spawn_blocking(control_plane_with_namespaces)
        .await
        .unwrap();
    let chart = chart();
    helm_ok(
        &cp,
        Helm::V3,
        &[
            "install",
            RELEASE,
            chart.to_str().unwrap(),
            "-n",
            NS,
            "--set",
            &format!("rbac.secretNamespaces={{{RESELLER_NS}}}"),
            "--set",
            &format!("operator.endpointAllowList={{{addr}}}"),
            "--set",
            "operator.logFormat=json",
        ],
    );
    cp.wait(&["--for=condition=Established", "crd", "--all", "--timeout=60s"]);
    let out = cp.apply_yaml(User::Admin, &support::example_manifests(&addr));
    assert!(out.status.success(), "{}", output_text(&out));

    let kubeconfig = service_account_kubeconfig(&cp);
    let op = start_as_deployment(&cp, &kubeconfig, "chart-sa-1");
    cp.wait_demo_converged(|| op.log_text());
    // The writes were made by the ServiceAccount, through its token.
    let sa_user = format!("system:serviceaccount:{NS}:{SA}");
    assert!(
        !support::status_writes_by(&cp, &sa_user).is_empty(),
        "no status writes by {sa_user}"
    );
    assert!(
        cp.exists(&["-n", NS, "lease", "partner-center-operator"]),
        "leader-election Lease"
    );
    // The rotated refresh token was written back: patch on Secrets is granted in both namespaces.
    assert!(ready_condition(&cp, &["-n", RESELLER_NS, "pcc", "northwind-nz-production"])["status"] == "True");

    // The chart's PrometheusRule uses only metrics this operator exports, and the per-connection
    // gauges carry every connection.
    // The gauges are refreshed from the caches every 15 s: wait until they show the converged state.
    let connections = [
        (NS, "contoso-nz-production"),
        (NS, "contoso-eur-sandbox"),
        (RESELLER_NS, "northwind-nz-production"),
    ];
    let sample = |metrics: &str, family: &str, ns: &str, name: &str| -> Option<String> {
        let labels = format!("{{namespace=\"{ns}\",name=\"{name}\"}} ");
        metrics.lines().find_map(|l| {
            l.strip_prefix(family)
                .and_then(|rest| rest.strip_prefix(labels.as_str()))
                .map(str::to_string)
        })
    };
    let mut last = String::new();
    let gauges = wait_until(
        "per-connection gauges",
        Duration::from_secs(45),
        Duration::from_millis(500),
        || {
            let (code, metrics) = op.admin_get("/metrics");
            assert_eq!(code, 200, "{metrics}");
            let converged = connections.iter().all(|(ns, name)| {
                sample(&metrics, "pco_connection_ready", ns, name).as_deref() == Some("1")
                    && sample(
                        &metrics,
                        "pco_connection_refresh_token_expiry_timestamp_seconds",
                        ns,
                        name,
                    )
                    .is_some()
            });
            if converged {
                return ControlFlow::Break(metrics);
            }
            last = metrics;
            ControlFlow::Continue(String::new())
        },
    )
    .await;
    let metrics = gauges
        .map(|(metrics, _)| metrics)
        .unwrap_or_else(|_| panic!("per-connection gauges do not show the Ready connections:\n{last}"));
    // Every metric an alert uses is exported now or (a counter without samples yet, e.g. no
    // reconcile error happened) registered by the operator.
    let registered = std::fs::read_to_string(repo_root().join("src/runtime/metrics.rs")).unwrap();
    let rule = docs(&template_ok(Helm::V3, &["--set", "prometheusRule.enabled=true"]));
    let rule = rule
        .iter()
        .find(|d| d["kind"] == "PrometheusRule")
        .expect("PrometheusRule rendered");
    let mut used = 0;
    for r in rule["spec"]["groups"][0]["rules"].as_array().unwrap() {
        let expr = r["expr"].as_str().unwrap();
        for name in expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("pco_"))
        {
            let family = name.strip_suffix("_total").unwrap_or(name);
            let exported = metrics.contains(&format!("# TYPE {family} "));
            let is_registered = registered.contains(&format!("\"{}\"", &family["pco_".len()..]));
            assert!(
                exported || is_registered,
                "alert {} uses {name}, which the operator does not export:\n{metrics}",
                r["alert"]
            );
            used += 1;
        }
    }
    assert!(used >= 4, "{rule:#}");

    // 1. Without the Secret RoleBinding in the reseller's namespace, its connection reports SecretForbidden.
    let out = cp.kubectl_run(
        User::Admin,
        &[
            "-n",
            RESELLER_NS,
            "delete",
            "rolebinding",
            "pco-partner-center-operator-secrets",
        ],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    cp.request_sync(RESELLER_NS, "northwind-nz-production", "rbac-test");
    let mut ready = Value::Null;
    let _ = wait_until(
        "SecretForbidden",
        Duration::from_secs(90),
        Duration::from_millis(250),
        || {
            ready = ready_condition(&cp, &["-n", RESELLER_NS, "pcc", "northwind-nz-production"]);
            if ready["reason"] == "SecretForbidden" {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(String::new())
            }
        },
    )
    .await;
    assert_eq!(ready["status"], "False", "{ready:#}\n{}", op.log_text());
    assert_eq!(ready["reason"], "SecretForbidden", "{ready:#}");
    assert!(
        ready["message"]
            .as_str()
            .unwrap()
            .contains("partner-center-operator-secrets"),
        "{ready:#}"
    );
    if std::env::var_os("PCO_CAPTURE_ARGOCD_FIXTURES").is_some() {
        // A checked-in capture for tests/argocd.rs (see tests/fixtures/argocd/README.md).
        let mut obj = cp.get_json(&["-n", RESELLER_NS, "pcc", "northwind-nz-production"]);
        obj["metadata"].as_object_mut().unwrap().remove("managedFields");
        let path = repo_root().join("tests/fixtures/argocd/pcc-northwind-nz-production-secret-forbidden.json");
        std::fs::write(path, serde_json::to_string_pretty(&obj).unwrap() + "\n").unwrap();
    }
    drop(op);

    // 2. Without list/watch on resellers, a starting operator never becomes ready and says why.
    let role = cp.get_json(&["clusterrole", "partner-center-operator"]);
    let mut rules = role["rules"].as_array().unwrap().clone();
    rules[0]["resources"] = json!(["partnercenterconnections", "customerplans"]);
    rules.push(json!({"apiGroups": ["channel.csp.dev"], "resources": ["resellers"], "verbs": ["get", "patch"]}));
    let patch = json!({"rules": rules}).to_string();
    let out = cp.kubectl_run(
        User::Admin,
        &[
            "patch",
            "clusterrole",
            "partner-center-operator",
            "--type=merge",
            "-p",
            &patch,
        ],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let op = start_as_deployment(&cp, &kubeconfig, "chart-sa-2");
    // The operator's own error (not only kube-runtime's) names the kind and the API's refusal.
    let is_clear = |l: &str| {
        l.contains("watch error")
            && l.contains("Reseller")
            && l.contains("cannot list resource")
            && l.contains("resellers")
    };
    let _ = wait_until(
        "a clear error",
        Duration::from_secs(30),
        Duration::from_millis(250),
        || {
            if op.log_text().lines().any(is_clear) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(String::new())
            }
        },
    )
    .await;
    let log = op.log_text();
    assert!(
        log.lines().any(is_clear),
        "no clear error about the missing permission:\n{log}"
    );
    assert_eq!(
        op.readyz(),
        503,
        "readiness must stay false without list/watch on resellers\n{log}"
    );
}

// --- Conventions a platform team expects -------------------------------------------------------

/// Each convention value, as a user sets it, and what the rendered objects then carry.
#[test]
fn platform_conventions_render_as_set() {
    let proxy_env = json!([{"name": "HTTPS_PROXY", "value": "http://proxy.example:3128"},
                           {"name": "NO_PROXY", "value": ".svc,.cluster.local"}]);
    let volumes = json!([{"name": "proxy-ca", "configMap": {"name": "proxy-ca"}}]);
    let mounts = json!([{"name": "proxy-ca", "mountPath": "/etc/proxy-ca", "readOnly": true}]);
    let values = [
        format!("extraEnv={proxy_env}"),
        format!("extraVolumes={volumes}"),
        format!("extraVolumeMounts={mounts}"),
        r#"extraArgs=["--concurrency=16"]"#.to_string(),
        r#"commonLabels={"team":"platform","cost-center":"42"}"#.to_string(),
    ];
    for helm in [Helm::V3, Helm::V4] {
        let mut args = vec![];
        for v in &values {
            args.extend(["--set-json", v.as_str()]);
        }
        args.extend(["--set", "operator.regionTable.ANZ={AU,NZ},emulator.enabled=true"]);
        let rendered = docs(&template_ok(helm, &args));
        let deploy = find(&rendered, "Deployment", SA);
        let pod = &deploy["spec"]["template"]["spec"];
        let c = &pod["containers"][0];
        let env = c["env"].as_array().unwrap();
        // The chart's own settings stay; the extras come after them.
        assert!(env.iter().any(|e| e["name"] == "PCO_LOG_LEVEL"), "{helm:?}");
        assert_eq!(env[env.len() - 2..], proxy_env.as_array().unwrap()[..], "{helm:?}");
        assert_eq!(c["args"], json!(["run", "--concurrency=16"]), "{helm:?}");
        assert_eq!(
            c["volumeMounts"],
            json!([{"name": "regions", "mountPath": "/etc/partner-center-operator", "readOnly": true},
                   {"name": "proxy-ca", "mountPath": "/etc/proxy-ca", "readOnly": true}]),
            "{helm:?}"
        );
        assert_eq!(pod["volumes"][1], volumes[0], "{helm:?}");
        // commonLabels on every object and on the pods, never in selectors.
        for d in &rendered {
            let what = format!("{helm:?} {} {}", d["kind"], d["metadata"]["name"]);
            assert_eq!(d["metadata"]["labels"]["team"], "platform", "{what}");
            assert_eq!(d["metadata"]["labels"]["cost-center"], "42", "{what}");
            if d["kind"] == "Deployment" {
                assert_eq!(
                    d["spec"]["template"]["metadata"]["labels"]["team"], "platform",
                    "{what}"
                );
                assert!(d["spec"]["selector"]["matchLabels"].get("team").is_none(), "{what}");
            }
        }
    }
}

/// Rows: values, the image, and the pod and container security contexts of operator and emulator.
#[test]
fn image_registry_and_security_context_overrides() {
    let restricted_pod = json!({"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532,
                                "seccompProfile": {"type": "RuntimeDefault"}});
    let restricted_container = json!({"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
        "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}});
    let openshift_pod = json!({"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}});
    let rows: [(&[&str], &str, Value, Value); 5] = [
        (
            &[],
            "ghcr.io/csp-dev/partner-center-operator:0.1.0",
            restricted_pod.clone(),
            restricted_container.clone(),
        ),
        (
            &["--set", "image.registry=registry.example:5000/mirror"],
            "registry.example:5000/mirror/csp-dev/partner-center-operator:0.1.0",
            restricted_pod.clone(),
            restricted_container.clone(),
        ),
        (
            &[
                "--set",
                "image.registry=,image.repository=quay.example/pco,image.tag=1.2.3",
            ],
            "quay.example/pco:1.2.3",
            restricted_pod.clone(),
            restricted_container.clone(),
        ),
        // OpenShift: its restricted SCC assigns the user and group from the namespace's range.
        (
            &[
                "--set",
                "podSecurityContext.runAsUser=null,podSecurityContext.runAsGroup=null",
            ],
            "ghcr.io/csp-dev/partner-center-operator:0.1.0",
            openshift_pod,
            restricted_container.clone(),
        ),
        (
            &[
                "--set",
                "securityContext.readOnlyRootFilesystem=null,podSecurityContext.fsGroup=2000",
            ],
            "ghcr.io/csp-dev/partner-center-operator:0.1.0",
            json!({"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 2000,
                   "seccompProfile": {"type": "RuntimeDefault"}}),
            json!({"allowPrivilegeEscalation": false, "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]},
                   "seccompProfile": {"type": "RuntimeDefault"}}),
        ),
    ];
    for (args, image, pod_sc, container_sc) in rows {
        for helm in [Helm::V3, Helm::V4] {
            let mut all = args.to_vec();
            all.extend(["--set", "emulator.enabled=true"]);
            let rendered = docs(&template_ok(helm, &all));
            for name in [SA.to_string(), format!("{SA}-emulator")] {
                let pod = &find(&rendered, "Deployment", &name)["spec"]["template"]["spec"];
                assert_eq!(pod["containers"][0]["image"], image, "{helm:?} {args:?} {name}");
                assert_eq!(pod["securityContext"], pod_sc, "{helm:?} {args:?} {name}");
                assert_eq!(
                    pod["containers"][0]["securityContext"], container_sc,
                    "{helm:?} {args:?} {name}"
                );
            }
        }
    }
}

/// Chart.yaml carries what Artifact Hub and `helm show chart` readers look for, and NOTES.txt
/// names the next steps.
#[test]
fn chart_metadata_and_notes() {
    let chart_yaml: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(chart().join("Chart.yaml")).unwrap()).unwrap();
    for key in ["home", "icon", "sources", "maintainers", "kubeVersion"] {
        assert!(!chart_yaml[key].is_null(), "Chart.yaml has no {key}");
    }
    let icon = chart_yaml["icon"].as_str().unwrap();
    let local_icon = icon.rsplit("/main/").next().unwrap();
    assert!(
        repo_root().join(local_icon).is_file(),
        "icon {icon} is not in the repository"
    );
    let annotations = &chart_yaml["annotations"];
    assert_eq!(annotations["artifacthub.io/license"], "Apache-2.0");
    let crds: Vec<Value> = serde_saphyr::from_str(annotations["artifacthub.io/crds"].as_str().unwrap()).unwrap();
    let mut listed: Vec<&str> = crds.iter().map(|c| c["name"].as_str().unwrap()).collect();
    listed.sort_unstable();
    let mut files: Vec<String> = std::fs::read_dir(repo_root().join("crds"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".yaml")
                .to_string()
        })
        .collect();
    files.sort_unstable();
    assert_eq!(listed, files, "artifacthub.io/crds lists every CRD");

    // NOTES.txt: rendered by helm 4's `install --dry-run=client` (template does not render it, and
    // helm 3's client dry run still asks a cluster for its version).
    let cp_free_notes = |args: &[&str]| {
        let mut cmd = Helm::V4.cmd();
        cmd.args(["install", RELEASE])
            .arg(chart())
            .args(["-n", NS, "--dry-run=client"])
            .args(args);
        let out = run(cmd);
        assert!(out.status.success(), "{}", output_text(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        text.split("NOTES:").nth(1).unwrap_or_default().to_string()
    };
    let notes = cp_free_notes(&[]);
    for want in [
        "Next steps:",
        "partner-center-operator consent",
        "partner-center-operator check",
        "kubectl -n csp-system wait pcc --all --for=condition=Ready",
        "set prometheusRule.enabled=true",
        "networkPolicy.metricsFrom is empty",
        "docs/operations.md, \"Uninstall\"",
    ] {
        assert!(notes.contains(want), "NOTES lack {want:?}:\n{notes}");
    }
    let notes = cp_free_notes(&["--set", "prometheusRule.enabled=true,crds.keep=false"]);
    assert!(!notes.contains("prometheusRule.enabled=true"), "{notes}");
    assert!(!notes.contains("Uninstall"), "{notes}");
}

/// Every value of values.yaml has a description in values.schema.json, and the chart's README.md
/// is generated from them (hack/gen-chart-readme.sh, which sets UPDATE_CHART_README=1).
#[test]
fn chart_readme_is_generated_from_the_schema() {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(chart().join("values.schema.json")).unwrap()).unwrap();
    let values: Value = serde_saphyr::from_str(&std::fs::read_to_string(chart().join("values.yaml")).unwrap()).unwrap();
    let mut rows = Vec::new();
    let mut undocumented = Vec::new();
    schema_rows(&schema, &values, "", &mut rows, &mut undocumented);
    assert!(
        undocumented.is_empty(),
        "values without a schema description: {undocumented:?}"
    );
    assert!(rows.len() > 100, "{} rows", rows.len());
    let generated = chart_readme(&rows);
    let path = chart().join("README.md");
    if std::env::var_os("UPDATE_CHART_README").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "charts/partner-center-operator/README.md is not generated from values.schema.json: run hack/gen-chart-readme.sh"
    );
    // `helm show readme` prints it.
    for helm in [Helm::V3, Helm::V4] {
        let mut cmd = helm.cmd();
        cmd.args(["show", "readme"]).arg(chart());
        let out = run(cmd);
        assert!(out.status.success(), "{}", output_text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("| `crds.annotations` |"),
            "{helm:?}"
        );
    }
}

/// (key, type, default, description) of every schema property, depth first in schema order;
/// keys of values.yaml that the schema does not describe go to `undocumented`.
fn schema_rows(
    schema: &Value,
    values: &Value,
    prefix: &str,
    rows: &mut Vec<(String, String, String, String)>,
    undocumented: &mut Vec<String>,
) {
    let props = schema["properties"].as_object();
    if let Some(map) = values.as_object() {
        for key in map.keys() {
            if props.is_none_or(|p| p.get(key).is_none_or(|s| s["description"].is_null())) && props.is_some() {
                undocumented.push(format!("{prefix}{key}"));
            }
        }
    }
    let Some(props) = props else { return };
    for (key, sub) in props {
        let path = format!("{prefix}{key}");
        let description = sub["description"].as_str().unwrap_or_default();
        if description.is_empty() {
            undocumented.push(path.clone());
        }
        let ty = match (&sub["type"], &sub["enum"]) {
            (Value::String(t), _) => t.clone(),
            (Value::Array(ts), _) => ts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" or "),
            (_, Value::Array(e)) => e.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" \\| "),
            _ => String::new(),
        };
        let given = values.as_object().and_then(|m| m.get(key));
        let value = given.unwrap_or(&Value::Null);
        let nested = sub["properties"].is_object() && !sub["properties"].as_object().unwrap().is_empty();
        // Objects with properties show their defaults in their own rows; an absent key is unset.
        let default = match given {
            _ if nested => String::new(),
            None => String::new(),
            Some(v) => format!("`{}`", v.to_string().replace('|', "\\|")),
        };
        rows.push((path.clone(), ty, default, description.replace('|', "\\|")));
        if nested {
            schema_rows(sub, value, &format!("{path}."), rows, undocumented);
        }
    }
}

fn chart_readme(rows: &[(String, String, String, String)]) -> String {
    let mut out = String::from(
        "<!-- Generated from values.schema.json and values.yaml by hack/gen-chart-readme.sh; edit those, not this file. -->\n\
# partner-center-operator\n\n\
A Kubernetes operator that publishes, for every reseller and customer plan, the Microsoft Partner Center connection \
provisioning must use (`PartnerCenterConnection`, `CustomerPlan`, `Reseller`; `Customer` as an API only). Kubernetes \
1.34 or later; Helm 3 or 4.\n\n\
```\n\
kubectl create namespace csp-system\n\
helm install pco charts/partner-center-operator -n csp-system \\\n  --set rbac.secretNamespaces='{reseller-northwind}'\n\
```\n\n\
The namespaces the chart binds must exist. `values.schema.json` refuses unknown keys, so a typo fails the install. \
The CRDs are templates (upgraded with the release), kept on uninstall (`crds.keep`) and annotated so that Argo CD \
neither prunes nor deletes them (`crds.annotations`). Uninstalling, Argo CD and the alerts' runbooks: \
`docs/operations.md` in the repository.\n\n\
## Values\n\n\
| key | type | default | description |\n|---|---|---|---|\n",
    );
    for (key, ty, default, description) in rows {
        out.push_str(&format!("| `{key}` | {ty} | {default} | {description} |\n"));
    }
    out
}

/// The dashboard ConfigMap: off by default; on, it carries the Grafana sidecar's label and the
/// dashboard file unchanged, in the namespace asked for.
#[test]
fn dashboard_configmap_for_the_grafana_sidecar() {
    let file = std::fs::read_to_string(chart().join("files/dashboards/partner-center-operator.json")).unwrap();
    let name = format!("{SA}-dashboard");
    for helm in [Helm::V3, Helm::V4] {
        let off = docs(&template_ok(helm, &[]));
        assert!(!off.iter().any(|d| d["metadata"]["name"] == name.as_str()), "{helm:?}");
        let on = docs(&template_ok(
            helm,
            &["--set", "dashboard.enabled=true,dashboard.namespace=monitoring"],
        ));
        let cm = find(&on, "ConfigMap", &name);
        assert_eq!(cm["metadata"]["namespace"], "monitoring", "{helm:?}");
        assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1", "{helm:?}");
        let embedded: Value =
            serde_json::from_str(cm["data"]["partner-center-operator.json"].as_str().unwrap()).unwrap();
        assert_eq!(embedded, serde_json::from_str::<Value>(&file).unwrap(), "{helm:?}");
    }
}
