//! Admission against a real kube-apiserver with the real kubectl, acting as the users the
//! product has: the CRD validation rules (every rule of docs/rules.md that needs only the object), the
//! reseller-guard ValidatingAdmissionPolicy (rule 4) with the shipped RBAC, the seed scenarios,
//! and the kubectl experience (category, short names, printer columns, explain).

mod support;

use std::time::{Duration, Instant};
use support::{ControlPlane, User, apply_ok, kubectl_ok, output_text, read_repo_file as read};

const POLICY: &str = "ValidatingAdmissionPolicy 'reseller-guard.channel.csp.dev'";

/// CRDs, the admission policies, and the shipped RBAC: provider admins bound by group, the
/// operator's ClusterRole bound to the user `operator` (as hack/install-dev.sh binds it), the
/// reseller-admin template rendered for reseller-a (user reseller-admin-a, namespace ra) and
/// reseller-b (user reseller-admin-b, namespace rb).
fn install(cp: &ControlPlane) {
    cp.install_crds()
        .expect("CRDs are accepted by the API server (CEL cost included)");
    apply_ok(cp, User::Admin, &read("deploy/admission/reseller-guard.yaml"));
    apply_ok(cp, User::Admin, &read("deploy/admission/in-use-protection.yaml"));
    apply_ok(cp, User::Admin, &read("deploy/admission/delete-in-use.yaml"));
    apply_ok(cp, User::Admin, &read("deploy/rbac/provider-admin.yaml"));
    apply_ok(cp, User::Admin, &read("deploy/rbac/operator.yaml"));
    kubectl_ok(
        cp,
        User::Admin,
        &[
            "create",
            "clusterrolebinding",
            "pco-operator",
            "--clusterrole=partner-center-operator",
            "--user=operator",
        ],
    );
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
    for ns in ["channel-system", "ra", "rb", "cnz"] {
        kubectl_ok(cp, User::Admin, &["create", "namespace", ns]);
    }
    kubectl_ok(
        cp,
        User::Admin,
        &[
            "-n",
            "channel-system",
            "create",
            "rolebinding",
            "channel-provider-secrets",
            "--clusterrole=channel-connection-secrets",
            "--group=channel:provider-admins",
        ],
    );
    let template = read("deploy/rbac/reseller-admin-template.yaml");
    for (reseller, ns, user) in [
        ("reseller-a", "ra", "reseller-admin-a"),
        ("reseller-b", "rb", "reseller-admin-b"),
    ] {
        let rendered = template
            .replace("${RESELLER}", reseller)
            .replace("${NAMESPACE}", ns)
            .replace("${SUBJECT_KIND}", "User")
            .replace("${SUBJECT_NAME}", user);
        assert!(
            !rendered.contains("${"),
            "a placeholder is left in the template:\n{rendered}"
        );
        apply_ok(cp, User::Admin, &rendered);
    }
}

/// The policy is loaded by an informer: wait until it refuses a guarded change (server dry run).
fn wait_for_policy(cp: &ControlPlane, user: User, reseller: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = cp.kubectl_run(
            user,
            &[
                "patch",
                "reseller",
                reseller,
                "--dry-run=server",
                "--type=merge",
                "-p",
                r#"{"spec":{"region":"ZZ"}}"#,
            ],
        );
        let text = output_text(&out);
        if !out.status.success() && text.contains(POLICY) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the admission policy never became active: {text}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

// ---------------------------------------------------------------------------------------------
// Valid objects the bad manifests are derived from.

const PCC: &str = "\
apiVersion: channel.csp.dev/v1alpha1
kind: PartnerCenterConnection
metadata: {name: NAME, namespace: channel-system}
spec:
  partnerTenantId: 6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
  region: EUR
  cspType: Direct
  environment: Sandbox
  auth:
    mode: AppPlusUser
    secretRef: {name: pc-eur-direct-sandbox}
  syncInterval: 15m
";

const PLAN: &str = "\
apiVersion: channel.csp.dev/v1alpha1
kind: CustomerPlan
metadata: {name: NAME}
spec:
  displayName: EUR Direct Sandbox
  region: EUR
  cspType: Direct
  environment: Sandbox
  allowTenantCreation: true
  connectionRef: {namespace: channel-system, name: eur-direct-sandbox}
  syncPolicy: {masterDirectory: AzureAD}
";

const RESELLER: &str = "\
apiVersion: channel.csp.dev/v1alpha1
kind: Reseller
metadata: {name: NAME}
spec:
  displayName: Contoso NZ
  shortName: CNZ
  parent: provider
  namespace: NAMESPACE
  customerType: Standard
  region: NZ
  services:
    azureAD:
      enabled: true
      customerPlans:
        - plan: nz-indirect-production
        - plan: cnz-nz-indirect-production
          connectionOverride: {namespace: NAMESPACE, name: cnz-nz-indirect-production}
";

fn named(template: &str, name: &str) -> String {
    template
        .replace("NAMESPACE", &format!("ns-{name}"))
        .replace("NAME", name)
}

/// One refused manifest: optionally an object created first (as admin, for updates), then the
/// manifest the user applies, and what the refusal must say (the field first).
struct Bad {
    case: &'static str,
    before: Option<String>,
    manifest: String,
    expect: &'static [&'static str],
}

/// `template` named `name` with `from` replaced by `to` (each must occur).
fn edit(template: &str, name: &str, edits: &[(&str, &str)]) -> String {
    let mut yaml = named(template, name);
    for (from, to) in edits {
        assert!(yaml.contains(from), "fixture edit {from:?} does not apply to {name}");
        yaml = yaml.replacen(from, to, 1);
    }
    yaml
}

fn bad(case: &'static str, template: &str, name: &str, edits: &[(&str, &str)], expect: &'static [&'static str]) -> Bad {
    Bad {
        case,
        before: None,
        manifest: edit(template, name, edits),
        expect,
    }
}

/// An update: the valid object is created first, then the edited one is applied.
fn bad_update(
    case: &'static str,
    template: &str,
    name: &str,
    edits: &[(&str, &str)],
    expect: &'static [&'static str],
) -> Bad {
    Bad {
        case,
        before: Some(named(template, name)),
        manifest: edit(template, name, edits),
        expect,
    }
}

fn bad_manifests() -> Vec<Bad> {
    let many_plans: String = (0..65)
        .map(|i| format!("        - plan: plan-{i}\n"))
        .collect::<String>();
    vec![
        // PartnerCenterConnection: values
        bad(
            "indirect reseller refused with the reason",
            PCC,
            "c-ir",
            &[("cspType: Direct", "cspType: IndirectReseller")],
            &[
                "spec.cspType",
                "IndirectReseller is not accepted",
                "no Partner Center API access",
                "IndirectProvider",
            ],
        ),
        bad(
            "unknown cspType",
            PCC,
            "c-ct",
            &[("cspType: Direct", "cspType: Distributor")],
            &["spec.cspType", "must be Direct or IndirectProvider", "Distributor"],
        ),
        bad(
            "tenant id not a GUID",
            PCC,
            "c-guid",
            &[("6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "contoso.onmicrosoft.com")],
            &["spec.partnerTenantId", "GUID", "contoso.onmicrosoft.com"],
        ),
        bad(
            "region lower case",
            PCC,
            "c-reg",
            &[("region: EUR", "region: eur")],
            &["spec.region", "upper-case region code of 2 to 5 letters", "\"eur\""],
        ),
        bad(
            "environment not an enum value",
            PCC,
            "c-env",
            &[("environment: Sandbox", "environment: Test")],
            &["spec.environment", "Unsupported value", "\"Production\"", "\"Sandbox\""],
        ),
        bad(
            "cloud not an enum value",
            PCC,
            "c-cloud",
            &[("syncInterval: 15m", "syncInterval: 15m\n  cloud: Azure")],
            &[
                "spec.cloud",
                "Unsupported value",
                "\"Global\"",
                "\"USGov\"",
                "\"China\"",
            ],
        ),
        bad(
            "auth mode not an enum value",
            PCC,
            "c-mode",
            &[("mode: AppPlusUser", "mode: Password")],
            &["spec.auth.mode", "Unsupported value", "\"AppPlusUser\"", "\"AppOnly\""],
        ),
        bad(
            "secret name not an object name",
            PCC,
            "c-sec",
            &[("name: pc-eur-direct-sandbox", "name: PC_Secret")],
            &["spec.auth.secretRef.name", "must be an object name", "PC_Secret"],
        ),
        bad(
            "secret reference missing",
            PCC,
            "c-nosec",
            &[("    secretRef: {name: pc-eur-direct-sandbox}\n", "")],
            &["spec.auth.secretRef", "Required value"],
        ),
        bad(
            "endpoint not a URL",
            PCC,
            "c-url",
            &[(
                "syncInterval: 15m",
                "syncInterval: 15m\n  endpoints: {partnerCenter: 'api.partnercenter.microsoft.com'}",
            )],
            &["spec.endpoints.partnerCenter", "absolute http(s) URL"],
        ),
        bad(
            "sync interval too short",
            PCC,
            "c-sync",
            &[("syncInterval: 15m", "syncInterval: 10s")],
            &["spec.syncInterval", "between 1m and 24h", "\"10s\""],
        ),
        // PartnerCenterConnection: identity is immutable (rule 6)
        bad_update(
            "tenant id changed",
            PCC,
            "c-u-tenant",
            &[(
                "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
            )],
            &[
                "spec.partnerTenantId",
                "immutable",
                "create a new PartnerCenterConnection",
            ],
        ),
        bad_update(
            "region changed",
            PCC,
            "c-u-region",
            &[("region: EUR", "region: NZ")],
            &["spec.region", "immutable", "create a new PartnerCenterConnection"],
        ),
        bad_update(
            "cspType changed",
            PCC,
            "c-u-type",
            &[("cspType: Direct", "cspType: IndirectProvider")],
            &["spec.cspType", "immutable", "create a new PartnerCenterConnection"],
        ),
        bad_update(
            "environment changed",
            PCC,
            "c-u-env",
            &[("environment: Sandbox", "environment: Production")],
            &["spec.environment", "immutable", "create a new PartnerCenterConnection"],
        ),
        bad_update(
            "cloud changed",
            PCC,
            "c-u-cloud",
            &[("syncInterval: 15m", "syncInterval: 15m\n  cloud: USGov")],
            &["spec.cloud", "immutable", "create a new PartnerCenterConnection"],
        ),
        Bad {
            case: "cloud removed (falls back to Global)",
            before: Some(edit(
                PCC,
                "c-u-cloudrm",
                &[("syncInterval: 15m", "syncInterval: 15m\n  cloud: China")],
            )),
            manifest: named(PCC, "c-u-cloudrm"),
            expect: &["spec.cloud", "immutable"],
        },
        // CustomerPlan: naming convention (rule 1) and tenant creation
        bad(
            "plan name missing the environment",
            PLAN,
            "p-shape",
            &[("displayName: EUR Direct Sandbox", "displayName: EUR Direct")],
            &[
                "spec.displayName",
                "naming convention",
                "[<ShortName> ]<Region> <Direct|Indirect> <Production|Sandbox>",
            ],
        ),
        bad(
            "plan name with two short-name words",
            PLAN,
            "p-two",
            &[(
                "displayName: EUR Direct Sandbox",
                "displayName: CNZ TEST EUR Direct Sandbox",
            )],
            &["spec.displayName", "naming convention", "CNZ TEST EUR Direct Sandbox"],
        ),
        bad(
            "plan name region disagrees",
            PLAN,
            "p-region",
            &[("displayName: EUR Direct Sandbox", "displayName: NZ Direct Sandbox")],
            &["spec.displayName", "does not agree", "\"EUR Direct Sandbox\""],
        ),
        bad(
            "IndirectProvider is written Indirect",
            PLAN,
            "p-type",
            &[
                ("cspType: Direct", "cspType: IndirectProvider"),
                ("allowTenantCreation: true", "allowTenantCreation: false"),
            ],
            &["spec.displayName", "does not agree", "\"EUR Indirect Sandbox\""],
        ),
        bad(
            "plan name environment disagrees",
            PLAN,
            "p-env",
            &[(
                "displayName: EUR Direct Sandbox",
                "displayName: CNZ EUR Direct Production",
            )],
            &["spec.displayName", "does not agree", "\"EUR Direct Sandbox\""],
        ),
        bad(
            "plan through an indirect reseller",
            PLAN,
            "p-ir",
            &[("cspType: Direct", "cspType: IndirectReseller")],
            &["spec.cspType", "IndirectReseller is not accepted"],
        ),
        bad(
            "connection namespace not a namespace name",
            PLAN,
            "p-ns",
            &[("namespace: channel-system", "namespace: Channel_System")],
            &["spec.connectionRef.namespace", "must be a namespace name"],
        ),
        bad(
            "connection reference missing",
            PLAN,
            "p-noref",
            &[(
                "  connectionRef: {namespace: channel-system, name: eur-direct-sandbox}\n",
                "",
            )],
            &["spec.connectionRef", "Required value"],
        ),
        bad(
            "master directory not an enum value",
            PLAN,
            "p-md",
            &[("masterDirectory: AzureAD", "masterDirectory: Both")],
            &[
                "spec.syncPolicy.masterDirectory",
                "Unsupported value",
                "\"AzureAD\"",
                "\"Platform\"",
            ],
        ),
        // Reseller
        bad(
            "short name lower case",
            RESELLER,
            "r-short",
            &[("shortName: CNZ", "shortName: cnz")],
            &["spec.shortName", "2 to 16 upper-case letters or digits", "\"cnz\""],
        ),
        bad_update(
            "short name changed",
            RESELLER,
            "r-u-short",
            &[("shortName: CNZ", "shortName: CNZ2")],
            &["spec.shortName", "immutable", "create a new Reseller"],
        ),
        bad_update(
            "namespace changed",
            RESELLER,
            "r-u-ns",
            &[("namespace: ns-r-u-ns\n", "namespace: elsewhere\n")],
            &["spec.namespace", "immutable once set", "cannot be changed or removed"],
        ),
        bad_update(
            "namespace removed",
            RESELLER,
            "r-u-nsrm",
            &[("  namespace: ns-r-u-nsrm\n", "")],
            &["spec.namespace", "immutable once set", "\"ns-r-u-nsrm\""],
        ),
        bad(
            "reseller is its own parent",
            RESELLER,
            "r-self",
            &[("parent: provider", "parent: r-self")],
            &["spec.parent", "names the reseller itself", "remove it only on the root"],
        ),
        bad(
            "Test reseller with sandboxOnly false",
            RESELLER,
            "r-test",
            &[("customerType: Standard", "customerType: Test\n  sandboxOnly: false")],
            &[
                "spec.sandboxOnly",
                "contradicts customerType Test",
                "only be granted Sandbox plans",
            ],
        ),
        bad(
            "customer type not an enum value",
            RESELLER,
            "r-type",
            &[("customerType: Standard", "customerType: Internal")],
            &[
                "spec.customerType",
                "Unsupported value",
                "\"Standard\"",
                "\"Test\"",
                "\"Demo\"",
            ],
        ),
        bad(
            "reseller region not a region code",
            RESELLER,
            "r-region",
            &[("region: NZ", "region: New Zealand")],
            &["spec.region", "upper-case region code"],
        ),
        bad(
            "plan granted twice",
            RESELLER,
            "r-dup",
            &[(
                "        - plan: cnz-nz-indirect-production\n",
                "        - plan: nz-indirect-production\n",
            )],
            &[
                "spec.services.azureAD.customerPlans[1]",
                "Duplicate value",
                "nz-indirect-production",
            ],
        ),
        bad(
            "more than 64 plans",
            RESELLER,
            "r-many",
            &[("        - plan: nz-indirect-production\n", many_plans.as_str())],
            &["spec.services.azureAD.customerPlans", "Too many", "64"],
        ),
        bad(
            "granted plan is a display name, not an object name",
            RESELLER,
            "r-plan",
            &[("plan: nz-indirect-production", "plan: NZ Indirect Production")],
            &["spec.services.azureAD.customerPlans[0].plan", "must be an object name"],
        ),
        bad(
            "override namespace not a namespace name",
            RESELLER,
            "r-ovr",
            &[(
                "connectionOverride: {namespace: ns-r-ovr",
                "connectionOverride: {namespace: 'ns r ovr'",
            )],
            &[
                "spec.services.azureAD.customerPlans[1].connectionOverride.namespace",
                "must be a namespace name",
            ],
        ),
        bad(
            "azureAD without enabled",
            RESELLER,
            "r-en",
            &[("      enabled: true\n", "")],
            &["spec.services.azureAD.enabled", "Required value"],
        ),
    ]
}

#[test]
fn bad_manifests_are_refused_naming_the_field_and_the_fix() {
    let cp = ControlPlane::start_blocking().expect("control plane");
    cp.install_crds()
        .expect("CRDs are accepted by the API server (CEL cost included)");
    kubectl_ok(&cp, User::Admin, &["create", "namespace", "channel-system"]);

    let cases = bad_manifests();
    assert!(cases.len() >= 30, "the table has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        if let Some(before) = &case.before {
            apply_ok(&cp, User::Admin, before);
        }
        let out = cp.apply_yaml(User::Admin, &case.manifest);
        let text = output_text(&out);
        if out.status.success() {
            failures.push(format!("[{}] was accepted:\n{text}", case.case));
            continue;
        }
        let missing: Vec<_> = case.expect.iter().filter(|w| !text.contains(*w)).collect();
        if !missing.is_empty() {
            failures.push(format!("[{}] refusal lacks {missing:?}:\n{text}", case.case));
        }
        // The user sees one message per broken rule; print them so the table doubles as documentation.
        println!("[{}]\n  {}", case.case, text.trim().replace('\n', "\n  "));
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Seeds (examples/): "EUR Direct Sandbox", "NZ Indirect Production", an internal test reseller
// restricted to the sandbox plan, a reseller with its own connection and an override.

const SEED: &str = r#"
apiVersion: channel.csp.dev/v1alpha1
kind: PartnerCenterConnection
metadata: {name: eur-direct-sandbox, namespace: channel-system}
spec:
  displayName: Provider EU sandbox account
  partnerTenantId: 6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
  region: EUR
  cspType: Direct
  environment: Sandbox
  auth: {secretRef: {name: pc-eur-direct-sandbox}}
---
apiVersion: channel.csp.dev/v1alpha1
kind: PartnerCenterConnection
metadata: {name: nz-indirect-production, namespace: channel-system}
spec:
  partnerTenantId: 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
  region: NZ
  cspType: IndirectProvider
  environment: Production
  auth: {mode: AppPlusUser, secretRef: {name: pc-nz-indirect-production}}
  syncInterval: 1h
---
apiVersion: channel.csp.dev/v1alpha1
kind: PartnerCenterConnection
metadata: {name: cnz-nz-indirect-production, namespace: cnz}
spec:
  partnerTenantId: 1a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
  region: NZ
  cspType: IndirectProvider
  environment: Production
  auth: {secretRef: {name: pc-cnz}}
---
apiVersion: channel.csp.dev/v1alpha1
kind: CustomerPlan
metadata: {name: eur-direct-sandbox}
spec:
  displayName: EUR Direct Sandbox
  region: EUR
  cspType: Direct
  environment: Sandbox
  allowTenantCreation: true
  connectionRef: {namespace: channel-system, name: eur-direct-sandbox}
  syncPolicy: {masterDirectory: AzureAD}
---
apiVersion: channel.csp.dev/v1alpha1
kind: CustomerPlan
metadata: {name: nz-indirect-production}
spec:
  displayName: NZ Indirect Production
  region: NZ
  cspType: IndirectProvider
  environment: Production
  connectionRef: {namespace: channel-system, name: nz-indirect-production}
---
apiVersion: channel.csp.dev/v1alpha1
kind: CustomerPlan
metadata: {name: cnz-nz-indirect-production}
spec:
  displayName: CNZ NZ Indirect Production
  region: NZ
  cspType: IndirectProvider
  environment: Production
  connectionRef: {namespace: cnz, name: cnz-nz-indirect-production}
---
apiVersion: channel.csp.dev/v1alpha1
kind: Reseller
metadata: {name: provider}
spec:
  displayName: The Provider
  shortName: PROV
  namespace: channel-system
  services:
    azureAD:
      enabled: true
      customerPlans:
        - plan: eur-direct-sandbox
        - plan: nz-indirect-production
        - plan: cnz-nz-indirect-production
---
apiVersion: channel.csp.dev/v1alpha1
kind: Reseller
metadata: {name: internal-test}
spec:
  displayName: Internal test reseller
  shortName: ITEST
  parent: provider
  customerType: Test
  sandboxOnly: true
  services:
    azureAD:
      enabled: true
      customerPlans:
        - plan: eur-direct-sandbox
---
apiVersion: channel.csp.dev/v1alpha1
kind: Reseller
metadata: {name: contoso-nz}
spec:
  displayName: Contoso New Zealand
  shortName: CNZ
  parent: provider
  namespace: cnz
  region: NZ
  services:
    azureAD:
      enabled: true
      customerPlans:
        - plan: nz-indirect-production
          connectionOverride: {namespace: cnz, name: cnz-nz-indirect-production}
        - plan: cnz-nz-indirect-production
"#;

#[test]
fn seed_scenarios_are_accepted_and_kubectl_teaches_the_api() {
    let cp = ControlPlane::start_blocking().expect("control plane");
    install(&cp);

    apply_ok(&cp, User::ProviderAdmin, SEED);
    // Re-applying the same manifests changes nothing (GitOps: no drift from defaults or rules).
    let again = apply_ok(&cp, User::ProviderAdmin, SEED);
    assert!(
        !again.contains("configured") && !again.contains("created"),
        "re-apply changed something:\n{again}"
    );

    // `kubectl get channel` lists all three kinds.
    let all = kubectl_ok(&cp, User::ProviderAdmin, &["get", "channel", "-A"]);
    for want in [
        "partnercenterconnection.channel.csp.dev/eur-direct-sandbox",
        "partnercenterconnection.channel.csp.dev/cnz-nz-indirect-production",
        "customerplan.channel.csp.dev/nz-indirect-production",
        "reseller.channel.csp.dev/contoso-nz",
    ] {
        assert!(all.contains(want), "`kubectl get channel -A` lacks {want}:\n{all}");
    }

    // Short names and printer columns.
    let pcc = kubectl_ok(&cp, User::ProviderAdmin, &["get", "pcc", "-n", "channel-system"]);
    assert_columns(&pcc, &["NAME", "READY", "REGION", "TYPE", "ENVIRONMENT", "AGE"]);
    assert_row(
        &pcc,
        &["nz-indirect-production", "NZ", "IndirectProvider", "Production"],
    );
    let cplan = kubectl_ok(&cp, User::ProviderAdmin, &["get", "cplan"]);
    assert_columns(
        &cplan,
        &[
            "NAME",
            "READY",
            "DISPLAY NAME",
            "REGION",
            "TYPE",
            "ENVIRONMENT",
            "CONNECTION",
        ],
    );
    assert_row(
        &cplan,
        &[
            "cnz-nz-indirect-production",
            "CNZ NZ Indirect Production",
            "NZ",
            "IndirectProvider",
            "Production",
        ],
    );
    let rsl = kubectl_ok(&cp, User::ProviderAdmin, &["get", "rsl"]);
    assert_columns(&rsl, &["NAME", "READY", "SHORT NAME", "PARENT", "NAMESPACE", "REGION"]);
    assert_row(&rsl, &["contoso-nz", "CNZ", "provider", "cnz", "NZ"]);

    // `kubectl explain` teaches the fields (the published OpenAPI lags the CRD by a moment).
    let deadline = Instant::now() + Duration::from_secs(60);
    for (path, words) in [
        ("customerplans.spec.displayName", "naming convention"),
        (
            "resellers.spec.services.azureAD.customerPlans.connectionOverride",
            "Only the\n    provider may add",
        ),
        ("partnercenterconnections.spec.cspType", "indirect resellers have no"),
    ] {
        loop {
            let out = cp.kubectl_run(User::ProviderAdmin, &["explain", path]);
            let text = output_text(&out);
            if out.status.success() && text.replace("\n    ", " ").contains(&words.replace("\n    ", " ")) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "`kubectl explain {path}` does not say {words:?}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

fn assert_columns(table: &str, columns: &[&str]) {
    let header = table.lines().next().unwrap_or_default();
    for c in columns {
        assert!(header.contains(c), "column {c} missing in:\n{table}");
    }
}

fn assert_row(table: &str, cells: &[&str]) {
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(cells[0]) && cells.iter().all(|c| l.contains(c))),
        "no row with {cells:?} in:\n{table}"
    );
}

// ---------------------------------------------------------------------------------------------
// Rule 4: overrides and entitlements only by the provider.

const RULE4_SETUP: &str = r#"
apiVersion: channel.csp.dev/v1alpha1
kind: Reseller
metadata: {name: provider}
spec:
  displayName: The Provider
  shortName: PROV
  namespace: channel-system
---
apiVersion: channel.csp.dev/v1alpha1
kind: Reseller
metadata: {name: reseller-a}
spec:
  displayName: Reseller A
  shortName: RSA
  parent: provider
  namespace: ra
  sandboxOnly: true
  services:
    azureAD:
      enabled: true
      customerPlans:
        - plan: eur-direct-sandbox
        - plan: rsa-eur-direct-sandbox
          connectionOverride: {namespace: ra, name: ra-eur-direct-sandbox}
---
apiVersion: channel.csp.dev/v1alpha1
kind: Reseller
metadata: {name: reseller-b}
spec:
  displayName: Reseller B
  shortName: RSB
  parent: provider
  namespace: rb
"#;

fn plans_patch(plans: &str) -> String {
    format!(r#"{{"spec":{{"services":{{"azureAD":{{"enabled":true,"customerPlans":{plans}}}}}}}}}"#)
}

const P1: &str = r#"{"plan":"eur-direct-sandbox"}"#;
const P2_OVERRIDE: &str =
    r#"{"plan":"rsa-eur-direct-sandbox","connectionOverride":{"namespace":"ra","name":"ra-eur-direct-sandbox"}}"#;

/// Changes a reseller's admin must not make: (case, merge patch, what the refusal names).
fn provider_only_changes() -> Vec<(&'static str, String, &'static [&'static str])> {
    let override_refusal: &'static [&'static str] = &[
        "connectionOverride",
        "only the provider may add, change or remove",
        "resellers/connectionoverride",
    ];
    vec![
        (
            "add an override",
            plans_patch(&format!(
                r#"[{{"plan":"eur-direct-sandbox","connectionOverride":{{"namespace":"ra","name":"ra-eur-direct-sandbox"}}}},{P2_OVERRIDE}]"#
            )),
            override_refusal,
        ),
        (
            "change an override",
            plans_patch(&format!(
                r#"[{P1},{{"plan":"rsa-eur-direct-sandbox","connectionOverride":{{"namespace":"ra","name":"another"}}}}]"#
            )),
            override_refusal,
        ),
        (
            "remove an override",
            plans_patch(&format!(r#"[{P1},{{"plan":"rsa-eur-direct-sandbox"}}]"#)),
            override_refusal,
        ),
        (
            "drop the plan entry carrying an override",
            plans_patch(&format!("[{P1}]")),
            override_refusal,
        ),
        (
            "change parent",
            r#"{"spec":{"parent":"reseller-b"}}"#.into(),
            &[
                "spec.parent",
                "only the provider may set or change",
                "resellers/entitlements",
            ],
        ),
        (
            "clear sandboxOnly",
            r#"{"spec":{"sandboxOnly":null}}"#.into(),
            &["spec.sandboxOnly", "only the provider", "resellers/entitlements"],
        ),
        (
            "set sandboxOnly false",
            r#"{"spec":{"sandboxOnly":false}}"#.into(),
            &["spec.sandboxOnly", "only the provider"],
        ),
        (
            "grant itself a plan",
            plans_patch(&format!(r#"[{P1},{P2_OVERRIDE},{{"plan":"nz-indirect-production"}}]"#)),
            &[
                "spec.services.azureAD.customerPlans",
                "only the provider",
                "resellers/entitlements",
            ],
        ),
        (
            "disable its Azure AD service",
            r#"{"spec":{"services":{"azureAD":{"enabled":false}}}}"#.into(),
            &["spec.services.azureAD.enabled", "only the provider"],
        ),
        (
            "set its region",
            r#"{"spec":{"region":"NZ"}}"#.into(),
            &["spec.region", "only the provider"],
        ),
        (
            "change its customer type",
            r#"{"spec":{"customerType":"Standard"}}"#.into(),
            &["spec.customerType", "only the provider"],
        ),
    ]
}

fn patch(cp: &ControlPlane, user: User, reseller: &str, merge_patch: &str) -> std::process::Output {
    cp.kubectl_run(
        user,
        &["patch", "reseller", reseller, "--type=merge", "-p", merge_patch],
    )
}

fn spec_of(cp: &ControlPlane, reseller: &str) -> serde_json::Value {
    let out = kubectl_ok(cp, User::Admin, &["get", "reseller", reseller, "-o", "json"]);
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["spec"].clone()
}

#[test]
fn only_the_provider_may_change_overrides_and_entitlements() {
    let cp = ControlPlane::start_blocking().expect("control plane");
    install(&cp);
    apply_ok(&cp, User::ProviderAdmin, RULE4_SETUP);
    let a = User::ResellerAdmin("a");
    wait_for_policy(&cp, a, "reseller-a");

    // RBAC is active: reseller-a's admin cannot read or write another reseller, nor create one.
    for args in [
        vec!["get", "reseller", "reseller-b"],
        vec![
            "patch",
            "reseller",
            "reseller-b",
            "--type=merge",
            "-p",
            r#"{"spec":{"displayName":"x"}}"#,
        ],
        vec!["get", "resellers"],
    ] {
        let out = cp.kubectl_run(a, &args);
        let text = output_text(&out);
        assert!(
            !out.status.success() && text.contains("Forbidden") && text.contains("cannot"),
            "{args:?}:\n{text}"
        );
        assert!(
            !text.contains(POLICY),
            "RBAC, not the policy, refuses {args:?}:\n{text}"
        );
    }
    let reseller_z = RULE4_SETUP
        .split("---")
        .nth(2)
        .unwrap()
        .replace("name: reseller-b", "name: reseller-z")
        .replace("shortName: RSB", "shortName: RSZ");
    let out = cp.kubectl_stdin(a, &["create", "-f", "-"], &reseller_z);
    assert!(
        output_text(&out).contains("Forbidden"),
        "creating a reseller: {}",
        output_text(&out)
    );
    // It can manage connections and Secrets in its own namespace only.
    kubectl_ok(
        &cp,
        a,
        &[
            "-n",
            "ra",
            "create",
            "secret",
            "generic",
            "pc-own",
            "--from-literal=clientId=x",
        ],
    );
    let out = cp.kubectl_run(a, &["-n", "rb", "get", "secrets"]);
    assert!(output_text(&out).contains("Forbidden"), "{}", output_text(&out));

    // The reseller's admin may change its display name — with kubectl apply of its manifest too.
    let renamed = RULE4_SETUP
        .split("---")
        .nth(1)
        .unwrap()
        .replace("displayName: Reseller A", "displayName: Reseller A Ltd");
    apply_ok(&cp, a, &renamed);
    assert_eq!(spec_of(&cp, "reseller-a")["displayName"], "Reseller A Ltd");
    // Reordering the plan entries is no change: entries are compared by plan, not position.
    let out = patch(&cp, a, "reseller-a", &plans_patch(&format!("[{P2_OVERRIDE},{P1}]")));
    assert!(out.status.success(), "reorder refused: {}", output_text(&out));

    // ... but nothing else, and the refusal names the policy, the field and the fix.
    let before = spec_of(&cp, "reseller-a");
    for (case, merge_patch, expect) in provider_only_changes() {
        let out = patch(&cp, a, "reseller-a", &merge_patch);
        let text = output_text(&out);
        assert!(!out.status.success(), "[{case}] reseller admin was allowed:\n{text}");
        assert!(
            text.contains(POLICY),
            "[{case}] refusal does not name the policy:\n{text}"
        );
        assert!(text.contains("Forbidden"), "[{case}] {text}");
        for w in expect {
            assert!(text.contains(w), "[{case}] refusal lacks {w:?}:\n{text}");
        }
        println!("[reseller admin: {case}]\n  {}", text.trim());
    }
    assert_eq!(spec_of(&cp, "reseller-a"), before, "a refused change left a trace");

    // The provider admin may make each of these changes.
    for (case, merge_patch, _) in provider_only_changes() {
        let out = patch(&cp, User::ProviderAdmin, "reseller-a", &merge_patch);
        assert!(
            out.status.success(),
            "[{case}] provider admin refused:\n{}",
            output_text(&out)
        );
    }
    let after = spec_of(&cp, "reseller-a");
    assert_eq!(after["customerType"], "Standard");
    assert_eq!(after["parent"], "reseller-b");

    // Creating a reseller that carries an override counts as adding it: provider only, on CREATE too.
    kubectl_ok(
        &cp,
        User::Admin,
        &[
            "create",
            "clusterrole",
            "reseller-creator",
            "--verb=create",
            "--resource=resellers.channel.csp.dev",
        ],
    );
    kubectl_ok(
        &cp,
        User::Admin,
        &[
            "create",
            "clusterrolebinding",
            "reseller-creator",
            "--clusterrole=reseller-creator",
            "--user=reseller-admin-b",
        ],
    );
    let sub = RULE4_SETUP
        .split("---")
        .nth(1)
        .unwrap()
        .replace("name: reseller-a", "name: sub-of-b")
        .replace("shortName: RSA", "shortName: SUBB")
        .replace("namespace: ra\n", "namespace: subb\n");
    let out = cp.kubectl_stdin(User::ResellerAdmin("b"), &["create", "-f", "-"], &sub);
    let text = output_text(&out);
    assert!(
        !out.status.success()
            && text.contains(POLICY)
            && text.contains("connectionOverride of plan rsa-eur-direct-sandbox"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// A hostile tenant: what a reseller's admin must not undo (the in-use finalizer of its own
// connection, the metadata of its own Reseller, the provider's confirmation), and that the
// provider, the operator and the garbage collector still may do their part.

const PROTECTION: &str = "in-use-protection.channel.csp.dev";
const GUARD: &str = "reseller-guard.channel.csp.dev";
const FINALIZER: &str = "channel.csp.dev/in-use-protection";
const GARBAGE_COLLECTOR: &str = "system:serviceaccount:kube-system:generic-garbage-collector";

/// What the user sees: allowed, or refused with exactly this output of kubectl.
enum Outcome {
    Allowed,
    Refused(String),
}

/// Where a row acts: `kubectl <args>` as `user`, with `stdin` when given (`-f -`).
struct Attack {
    case: &'static str,
    user: Actor,
    args: Vec<String>,
    stdin: Option<String>,
    outcome: Outcome,
    /// Afterwards (as admin), `kubectl get <object> -o json` has `want` at this JSON pointer
    /// (`"<gone>"`: the object no longer exists; `null`: the field is absent).
    then: Option<(&'static [&'static str], &'static str, serde_json::Value)>,
}

#[derive(Clone, Copy, Debug)]
enum Actor {
    User(User),
    /// The admin impersonating this user name (the garbage collector: no controller-manager runs here).
    As(&'static str),
}

fn refused_by(policy: &str, object: &str, message: &str) -> String {
    format!(
        "Error from server (Forbidden): {object} is forbidden: ValidatingAdmissionPolicy '{policy}' with binding '{policy}' denied request: {message}"
    )
}

fn finalizer_refusal(verb: &str, resource: &str, kind: &str) -> String {
    format!(
        "metadata.finalizers: only the operator or the provider may {verb} channel.csp.dev/in-use-protection \
         (RBAC: update on {resource}/protection in channel.csp.dev); it keeps a {kind} that is still in use from \
         being deleted: leave the finalizer as it is (to delete the object, delete it: the operator removes the \
         finalizer once nothing uses it)"
    )
}

const DELETE_IN_USE: &str = "delete-in-use.channel.csp.dev";
const IN_USE: &str = "channel.csp.dev/in-use-by";

fn marker_refusal(kind: &str) -> String {
    format!(
        "metadata.annotations[channel.csp.dev/in-use-by]: only the operator or the provider may set or change it \
         (RBAC: update on partnercenterconnections/protection in channel.csp.dev); the operator keeps it saying what \
         uses this {kind}, so that deleting it while in use is refused: leave it as it is"
    )
}

fn metadata_refusal(fields: &str) -> String {
    format!(
        "{fields}: only the provider may add or remove these (RBAC: update on resellers/entitlements in \
         channel.csp.dev); they decide when the Reseller is deleted, which is the provider's decision: leave them as they are"
    )
}

const CONFIRM_REFUSAL: &str = "metadata.annotations[channel.csp.dev/confirm-connection]: only the provider may confirm \
     that a connection behind an override was replaced (RBAC: update on resellers/connectionoverride in \
     channel.csp.dev); ask the provider to make this change";

fn sync_interval_refusal(value: &str) -> String {
    format!(
        "The PartnerCenterConnection \"ra-second\" is invalid: spec.syncInterval: Invalid value: \"string\": \
         syncInterval must be a duration between 1m and 24h written with s, m and h, such as 15m or 1h30m; got \"{value}\""
    )
}

fn merge(kind: &str, name: &str, ns: Option<&str>, patch: &str) -> Vec<String> {
    let mut args = vec![
        "patch".to_string(),
        kind.into(),
        name.into(),
        "--type=merge".into(),
        "-p".into(),
        patch.into(),
    ];
    if let Some(ns) = ns {
        args.extend(["-n".to_string(), ns.to_string()]);
    }
    args
}

fn connection(name: &str, tenant: &str, finalizers: &str) -> String {
    PCC.replace(
        "metadata: {name: NAME, namespace: channel-system}",
        &format!("metadata: {{name: {name}, namespace: ra{finalizers}}}"),
    )
    .replace("6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", tenant)
}

const OWNER: &str =
    r#"{"apiVersion":"v1","kind":"ConfigMap","name":"gone","uid":"0b8c3c2e-5d2a-4f7e-9c1a-3e4f5a6b7c8d"}"#;

fn attacks() -> Vec<Attack> {
    use Outcome::{Allowed, Refused};
    let a = Actor::User(User::ResellerAdmin("a"));
    let plan_editor = Actor::User(User::ResellerAdmin("c"));
    let provider = Actor::User(User::ProviderAdmin);
    let operator = Actor::User(User::Operator);
    let own = "partnercenterconnections.channel.csp.dev \"ra-eur-direct-sandbox\"";
    let second = "partnercenterconnections.channel.csp.dev \"ra-second\"";
    let plan = "customerplans.channel.csp.dev \"rsa-eur-direct-sandbox\"";
    let reseller = "resellers.channel.csp.dev \"reseller-a\"";
    let pcc = |name: &str, patch: &str| merge("pcc", name, Some("ra"), patch);
    let rsl = |patch: &str| merge("reseller", "reseller-a", None, patch);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let row = |case, user, args, outcome| Attack {
        case,
        user,
        args,
        stdin: None,
        outcome,
        then: None,
    };
    let own_obj: &'static [&'static str] = &["pcc", "-n", "ra", "ra-eur-direct-sandbox"];
    let second_obj: &'static [&'static str] = &["pcc", "-n", "ra", "ra-second"];
    let reseller_a: &'static [&'static str] = &["reseller", "reseller-a"];
    let mut rows = vec![
        // The connection the provider's override names (reseller-a's plan rsa-eur-direct-sandbox).
        row(
            "reseller admin removes the protection finalizer of its connection",
            a,
            pcc(
                "ra-eur-direct-sandbox",
                r#"{"metadata":{"finalizers":["example.com/x"]}}"#,
            ),
            Refused(refused_by(
                PROTECTION,
                own,
                &finalizer_refusal("remove", "partnercenterconnections", "PartnerCenterConnection"),
            )),
        ),
        Attack {
            then: Some((own_obj, "/metadata/finalizers", serde_json::json!([FINALIZER]))),
            ..row(
                "reseller admin removes another controller's finalizer example.com/x",
                a,
                pcc(
                    "ra-eur-direct-sandbox",
                    &format!(r#"{{"metadata":{{"finalizers":["{FINALIZER}"]}}}}"#),
                ),
                Allowed,
            )
        },
        Attack {
            stdin: Some(connection(
                "ra-second",
                "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                &format!(", finalizers: [{FINALIZER}]"),
            )),
            ..row(
                "reseller admin creates a connection carrying the finalizer",
                a,
                s(&["create", "-f", "-"]),
                Refused(format!(
                    "Error from server (Forbidden): error when creating \"STDIN\": {}",
                    refused_by(
                        PROTECTION,
                        second,
                        &finalizer_refusal("add", "partnercenterconnections", "PartnerCenterConnection")
                    )
                    .trim_start_matches("Error from server (Forbidden): ")
                )),
            )
        },
        Attack {
            stdin: Some(connection("ra-second", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "")),
            ..row(
                "reseller admin creates one without it",
                a,
                s(&["create", "-f", "-"]),
                Allowed,
            )
        },
        row(
            "reseller admin adds the finalizer to its connection",
            a,
            pcc(
                "ra-second",
                &format!(r#"{{"metadata":{{"finalizers":["{FINALIZER}"]}}}}"#),
            ),
            Refused(refused_by(
                PROTECTION,
                second,
                &finalizer_refusal("add", "partnercenterconnections", "PartnerCenterConnection"),
            )),
        ),
        Attack {
            then: Some((second_obj, "/metadata/finalizers", serde_json::json!([FINALIZER]))),
            ..row(
                "the operator adds it",
                operator,
                pcc(
                    "ra-second",
                    &format!(r#"{{"metadata":{{"finalizers":["{FINALIZER}"]}}}}"#),
                ),
                Allowed,
            )
        },
        Attack {
            then: Some((second_obj, "/metadata/finalizers", serde_json::Value::Null)),
            ..row(
                "the operator removes it",
                operator,
                pcc("ra-second", r#"{"metadata":{"finalizers":null}}"#),
                Allowed,
            )
        },
        // The operator's in-use marker, which deploy/admission/delete-in-use.yaml reads.
        row(
            "reseller admin marks its own connection in use (the marker is the operator's)",
            a,
            pcc(
                "ra-second",
                &format!(r#"{{"metadata":{{"annotations":{{"{IN_USE}":"x"}}}}}}"#),
            ),
            Refused(refused_by(
                PROTECTION,
                second,
                &marker_refusal("PartnerCenterConnection"),
            )),
        ),
        Attack {
            then: Some((
                own_obj,
                "/metadata/annotations/channel.csp.dev~1in-use-by",
                serde_json::json!("CustomerPlan/rsa-eur-direct-sandbox"),
            )),
            ..row(
                "the operator marks the connection in use",
                operator,
                pcc(
                    "ra-eur-direct-sandbox",
                    &format!(
                        r#"{{"metadata":{{"annotations":{{"{IN_USE}":"CustomerPlan/rsa-eur-direct-sandbox"}}}}}}"#
                    ),
                ),
                Allowed,
            )
        },
        row(
            "reseller admin clears the marker before deleting",
            a,
            pcc(
                "ra-eur-direct-sandbox",
                &format!(r#"{{"metadata":{{"annotations":{{"{IN_USE}":null}}}}}}"#),
            ),
            Refused(refused_by(PROTECTION, own, &marker_refusal("PartnerCenterConnection"))),
        ),
        row(
            "reseller admin deletes its connection while it is marked in use",
            a,
            s(&["delete", "pcc", "-n", "ra", "ra-eur-direct-sandbox", "--wait=false"]),
            Refused(refused_by(
                DELETE_IN_USE,
                own,
                "PartnerCenterConnection ra/ra-eur-direct-sandbox is in use by CustomerPlan/rsa-eur-direct-sandbox \
                 (annotation channel.csp.dev/in-use-by, kept by the operator): deleting it would take them offline at \
                 once; re-point or remove those references (spec.connectionRef of the plans, connectionOverride of the \
                 Resellers) first",
            )),
        ),
        Attack {
            then: Some((
                own_obj,
                "/metadata/annotations/channel.csp.dev~1in-use-by",
                serde_json::Value::Null,
            )),
            ..row(
                "the operator clears the marker (nothing uses it any more)",
                operator,
                pcc(
                    "ra-eur-direct-sandbox",
                    &format!(r#"{{"metadata":{{"annotations":{{"{IN_USE}":null}}}}}}"#),
                ),
                Allowed,
            )
        },
        Attack {
            then: Some((own_obj, "/metadata/finalizers", serde_json::json!([FINALIZER]))),
            ..row(
                "reseller admin deletes its connection (allowed: the finalizer keeps it)",
                a,
                s(&["delete", "pcc", "-n", "ra", "ra-eur-direct-sandbox", "--wait=false"]),
                Allowed,
            )
        },
        row(
            "reseller admin removes the finalizer of its terminating connection",
            a,
            pcc("ra-eur-direct-sandbox", r#"{"metadata":{"finalizers":null}}"#),
            Refused(refused_by(
                PROTECTION,
                own,
                &finalizer_refusal("remove", "partnercenterconnections", "PartnerCenterConnection"),
            )),
        ),
        Attack {
            stdin: Some(connection(
                "ra-eur-direct-sandbox",
                "1a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                "",
            )),
            ..row(
                "reseller admin creates another account's connection under the same name",
                a,
                s(&["create", "-f", "-"]),
                Refused(format!(
                    "Error from server (AlreadyExists): error when creating \"STDIN\": object is being deleted: {own} already exists"
                )),
            )
        },
    ];
    // A connection never synced (or synced every few seconds) is a connection nobody checks.
    for value in ["2000000h", "0s", "30s", "25h", "garbage"] {
        rows.push(row(
            "reseller admin sets an out-of-bounds syncInterval",
            a,
            pcc("ra-second", &format!(r#"{{"spec":{{"syncInterval":"{value}"}}}}"#)),
            Refused(sync_interval_refusal(value)),
        ));
    }
    for value in ["24h", "1m", "15m"] {
        rows.push(Attack {
            then: Some((second_obj, "/spec/syncInterval", serde_json::json!(value))),
            ..row(
                "reseller admin sets a syncInterval within the bounds",
                a,
                pcc("ra-second", &format!(r#"{{"spec":{{"syncInterval":"{value}"}}}}"#)),
                Allowed,
            )
        });
    }
    rows.extend([
        Attack {
            then: Some((own_obj, "/metadata/name", serde_json::json!("<gone>"))),
            ..row(
                "provider admin removes the finalizer (the deleted connection goes)",
                provider,
                pcc("ra-eur-direct-sandbox", r#"{"metadata":{"finalizers":null}}"#),
                Allowed,
            )
        },
        // Plans: the same finalizer, the same rule (a plan editor is bound below, without protection).
        row(
            "a plan editor without customerplans/protection removes a plan's finalizer",
            plan_editor,
            merge(
                "cplan",
                "rsa-eur-direct-sandbox",
                None,
                r#"{"metadata":{"finalizers":null}}"#,
            ),
            Refused(refused_by(
                PROTECTION,
                plan,
                &finalizer_refusal("remove", "customerplans", "CustomerPlan"),
            )),
        ),
        row(
            "the plan editor labels the plan (other metadata is not guarded)",
            plan_editor,
            s(&["label", "cplan", "rsa-eur-direct-sandbox", "example.com/team=channel"]),
            Allowed,
        ),
        Attack {
            then: Some((
                &["cplan", "rsa-eur-direct-sandbox"],
                "/metadata/finalizers",
                serde_json::Value::Null,
            )),
            ..row(
                "the operator removes the plan's finalizer",
                operator,
                merge(
                    "cplan",
                    "rsa-eur-direct-sandbox",
                    None,
                    r#"{"metadata":{"finalizers":null}}"#,
                ),
                Allowed,
            )
        },
        row(
            "provider admin adds it back",
            provider,
            merge(
                "cplan",
                "rsa-eur-direct-sandbox",
                None,
                &format!(r#"{{"metadata":{{"finalizers":["{FINALIZER}"]}}}}"#),
            ),
            Allowed,
        ),
        // A plan in use: the operator's marker makes even the provider's delete a refusal that names the users.
        Attack {
            then: Some((
                &["cplan", "rsa-eur-direct-sandbox"],
                "/metadata/annotations/channel.csp.dev~1in-use-by",
                serde_json::json!("Reseller/reseller-a"),
            )),
            ..row(
                "the operator marks the plan in use",
                operator,
                merge(
                    "cplan",
                    "rsa-eur-direct-sandbox",
                    None,
                    &format!(r#"{{"metadata":{{"annotations":{{"{IN_USE}":"Reseller/reseller-a"}}}}}}"#),
                ),
                Allowed,
            )
        },
        Attack {
            then: Some((
                &["cplan", "rsa-eur-direct-sandbox"],
                "/metadata/name",
                serde_json::json!("rsa-eur-direct-sandbox"),
            )),
            ..row(
                "provider admin deletes a plan marked in use",
                provider,
                s(&["delete", "cplan", "rsa-eur-direct-sandbox", "--wait=false"]),
                Refused(refused_by(
                    DELETE_IN_USE,
                    plan,
                    "CustomerPlan rsa-eur-direct-sandbox is in use by Reseller/reseller-a (annotation \
                     channel.csp.dev/in-use-by, kept by the operator): deleting it would take them offline at once; \
                     remove the plan from those Resellers (spec.services.azureAD.customerPlans) first",
                )),
            )
        },
        Attack {
            then: Some((
                &["cplan", "rsa-eur-direct-sandbox"],
                "/metadata/annotations/channel.csp.dev~1in-use-by",
                serde_json::Value::Null,
            )),
            ..row(
                "the operator clears the plan's marker",
                operator,
                merge(
                    "cplan",
                    "rsa-eur-direct-sandbox",
                    None,
                    &format!(r#"{{"metadata":{{"annotations":{{"{IN_USE}":null}}}}}}"#),
                ),
                Allowed,
            )
        },
        // The reseller's own Reseller: metadata that decides its deletion, and the provider's confirmation.
        row(
            "reseller admin adds a finalizer to its Reseller",
            a,
            rsl(r#"{"metadata":{"finalizers":["example.com/block"]}}"#),
            Refused(refused_by(GUARD, reseller, &metadata_refusal("metadata.finalizers"))),
        ),
        row(
            "reseller admin adds an ownerReference to its Reseller",
            a,
            rsl(&format!(r#"{{"metadata":{{"ownerReferences":[{OWNER}]}}}}"#)),
            Refused(refused_by(
                GUARD,
                reseller,
                &metadata_refusal("metadata.ownerReferences"),
            )),
        ),
        row(
            "reseller admin sets channel.csp.dev/confirm-connection",
            a,
            s(&[
                "annotate",
                "reseller",
                "reseller-a",
                "channel.csp.dev/confirm-connection=0b8c3c2e-5d2a-4f7e-9c1a-3e4f5a6b7c8d",
            ]),
            Refused(refused_by(GUARD, reseller, CONFIRM_REFUSAL)),
        ),
        row(
            "reseller admin sets another annotation (not guarded)",
            a,
            s(&["annotate", "reseller", "reseller-a", "example.com/note=ours"]),
            Allowed,
        ),
        row(
            "provider admin adds a finalizer",
            provider,
            rsl(r#"{"metadata":{"finalizers":["example.com/block"]}}"#),
            Allowed,
        ),
        row(
            "provider admin adds an ownerReference",
            provider,
            rsl(&format!(r#"{{"metadata":{{"ownerReferences":[{OWNER}]}}}}"#)),
            Allowed,
        ),
        Attack {
            then: Some((
                reseller_a,
                "/metadata/annotations/channel.csp.dev~1confirm-connection",
                serde_json::json!("0b8c3c2e-5d2a-4f7e-9c1a-3e4f5a6b7c8d"),
            )),
            ..row(
                "provider admin sets channel.csp.dev/confirm-connection",
                provider,
                s(&[
                    "annotate",
                    "reseller",
                    "reseller-a",
                    "channel.csp.dev/confirm-connection=0b8c3c2e-5d2a-4f7e-9c1a-3e4f5a6b7c8d",
                ]),
                Allowed,
            )
        },
        row(
            "reseller admin removes the provider's finalizer",
            a,
            rsl(r#"{"metadata":{"finalizers":null}}"#),
            Refused(refused_by(GUARD, reseller, &metadata_refusal("metadata.finalizers"))),
        ),
        row(
            "reseller admin removes the provider's ownerReference",
            a,
            rsl(r#"{"metadata":{"ownerReferences":null}}"#),
            Refused(refused_by(
                GUARD,
                reseller,
                &metadata_refusal("metadata.ownerReferences"),
            )),
        ),
        row(
            "reseller admin removes the provider's confirmation",
            a,
            s(&[
                "annotate",
                "reseller",
                "reseller-a",
                "channel.csp.dev/confirm-connection-",
            ]),
            Refused(refused_by(GUARD, reseller, CONFIRM_REFUSAL)),
        ),
        Attack {
            then: Some((reseller_a, "/metadata/ownerReferences", serde_json::Value::Null)),
            ..row(
                "the garbage collector (its bootstrap role covers every resource) removes the reference to an owner that is gone",
                Actor::As(GARBAGE_COLLECTOR),
                rsl(r#"{"metadata":{"ownerReferences":null}}"#),
                Allowed,
            )
        },
    ]);
    rows
}

/// Waits until `policy` refuses `args` as `user` (policies are loaded by an informer).
fn wait_for_refusal(cp: &ControlPlane, user: User, args: &[&str], policy: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = cp.kubectl_run(user, args);
        let text = output_text(&out);
        if !out.status.success() && text.contains(policy) {
            return;
        }
        assert!(Instant::now() < deadline, "{policy} never became active: {text}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_reseller_admin_cannot_undo_what_the_provider_decided() {
    let cp = ControlPlane::start_blocking().expect("control plane");
    install(&cp);
    apply_ok(&cp, User::ProviderAdmin, RULE4_SETUP);
    // reseller-a's own connection, named by the provider's override, with the operator's finalizer
    // and another controller's; a plan on it; and a plan editor (reseller-admin-c) who may update
    // plans but holds no customerplans/protection.
    apply_ok(
        &cp,
        User::Admin,
        &connection(
            "ra-eur-direct-sandbox",
            "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
            &format!(", finalizers: [{FINALIZER}, example.com/x]"),
        ),
    );
    apply_ok(
        &cp,
        User::Admin,
        &PLAN
            .replace(
                "metadata: {name: NAME}",
                &format!("metadata: {{name: rsa-eur-direct-sandbox, finalizers: [{FINALIZER}]}}"),
            )
            .replace("displayName: EUR Direct Sandbox", "displayName: RSA EUR Direct Sandbox")
            .replace(
                "{namespace: channel-system, name: eur-direct-sandbox}",
                "{namespace: ra, name: ra-eur-direct-sandbox}",
            ),
    );
    for args in [
        &[
            "create",
            "clusterrole",
            "plan-editor",
            "--verb=get,update,patch",
            "--resource=customerplans.channel.csp.dev",
        ][..],
        &[
            "create",
            "clusterrolebinding",
            "plan-editor",
            "--clusterrole=plan-editor",
            "--user=reseller-admin-c",
        ],
    ] {
        kubectl_ok(&cp, User::Admin, args);
    }
    let a = User::ResellerAdmin("a");
    wait_for_policy(&cp, a, "reseller-a");
    wait_for_refusal(
        &cp,
        a,
        &[
            "patch",
            "pcc",
            "-n",
            "ra",
            "ra-eur-direct-sandbox",
            "--dry-run=server",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ],
        PROTECTION,
    );

    let rows = attacks();
    assert!(rows.len() >= 30, "the table has {} rows", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let (user, mut args) = match row.user {
            Actor::User(u) => (u, Vec::new()),
            Actor::As(name) => (User::Admin, vec![format!("--as={name}")]),
        };
        args.extend(row.args.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = match &row.stdin {
            Some(input) => cp.kubectl_stdin(user, &args, input),
            None => cp.kubectl_run(user, &args),
        };
        let text = output_text(&out);
        let text = text.trim();
        match &row.outcome {
            Outcome::Allowed if !out.status.success() => failures.push(format!("[{}] was refused:\n{text}", row.case)),
            Outcome::Refused(_) if out.status.success() => {
                failures.push(format!("[{}] was allowed:\n{text}", row.case))
            }
            Outcome::Refused(want) if text != want => failures.push(format!(
                "[{}] refusal differs:\n  got:  {text}\n  want: {want}",
                row.case
            )),
            _ => {}
        }
        if let Some((object, pointer, want)) = &row.then {
            let mut get = vec!["get"];
            get.extend_from_slice(object);
            get.extend_from_slice(&["-o", "json"]);
            let out = cp.kubectl_run(User::Admin, &get);
            let got = if out.status.success() {
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("kubectl json");
                v.pointer(pointer).cloned().unwrap_or(serde_json::Value::Null)
            } else if output_text(&out).contains("NotFound") {
                serde_json::json!("<gone>")
            } else {
                panic!("kubectl {get:?}: {}", output_text(&out));
            };
            if &got != want {
                failures.push(format!("[{}] left {object:?} {pointer} = {got}, want {want}", row.case));
            }
        }
        // The table doubles as documentation of what each user sees.
        println!("[{:?}: {}]\n  {}", row.user, row.case, text.replace('\n', "\n  "));
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n\n")
    );
}
