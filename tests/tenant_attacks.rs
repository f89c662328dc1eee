//! What a reseller's own admins can do with the objects they control, against the real API server,
//! the Partner Center emulator and the operator binary: the provider's decisions must not follow
//! them.

mod support;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::{Channel, Operator, PROVIDER_NS, User, output_text, ready_of};

const NORTHWIND_NS: &str = "reseller-northwind";
const CONNECTION: &str = "northwind-nz-production";
const PLAN: &str = "nz-indirect-production";
/// A plan named for Northwind (rule 1), provisioning through Northwind's connection.
const NAMED_PLAN: &str = "nwd-nz-indirect-production";
const NORTHWIND_TENANT: &str = "33333333-3333-4333-8333-333333333333";
/// The provider's NZ account (examples/emulator/fixtures.yaml): "another account" for the swap.
const OTHER_TENANT: &str = "22222222-2222-4222-8222-222222222222";
const CONFIRM: &str = "channel.csp.dev/confirm-connection";
/// The reseller admin of the test control plane that the test binds to Northwind.
const ATTACKER: User = User::ResellerAdmin("a");

struct Scenario {
    channel: Channel,
    operator: Operator,
}

impl Scenario {
    async fn start() -> Scenario {
        let channel = Channel::start().await;
        let operator = channel.start_operator(User::Operator, "attack-operator", &[]);
        let s = Scenario { channel, operator };
        s.bind_reseller_admin();
        // The provider's admins (deploy/rbac/provider-admin.yaml, installed by install-dev.sh).
        s.kubectl(
            User::Admin,
            &[
                "create",
                "clusterrolebinding",
                "channel-provider-admin",
                "--clusterrole=channel-provider-admin",
                "--group=channel:provider-admins",
            ],
        );
        s.channel.apply(&format!(
            r#"{{"apiVersion":"channel.csp.dev/v1alpha1","kind":"CustomerPlan","metadata":{{"name":"{NAMED_PLAN}"}},"spec":{{"displayName":"NWD NZ Indirect Production","region":"NZ","cspType":"IndirectProvider","environment":"Production","connectionRef":{{"namespace":"{NORTHWIND_NS}","name":"{CONNECTION}"}}}}}}"#
        ));
        s.channel.cp.wait(&[
            "--for=condition=Ready",
            "rsl",
            "northwind",
            "northwind-wellington",
            "--timeout=120s",
        ]);
        s.channel
            .cp
            .wait(&["--for=condition=Ready", "cplan", NAMED_PLAN, "--timeout=60s"]);
        s
    }

    /// deploy/rbac/reseller-admin-template.yaml rendered for Northwind, bound to [`ATTACKER`].
    fn bind_reseller_admin(&self) {
        let template = std::fs::read_to_string(support::repo_root().join("deploy/rbac/reseller-admin-template.yaml"))
            .expect("reseller admin template");
        let rendered = template
            .replace("${RESELLER}", "northwind")
            .replace("${NAMESPACE}", NORTHWIND_NS)
            .replace("${SUBJECT_KIND}", "User")
            .replace("${SUBJECT_NAME}", &ATTACKER.name());
        self.channel.apply(&rendered);
    }

    fn kubectl(&self, user: User, args: &[&str]) -> String {
        let out = self.channel.cp.kubectl_run(user, args);
        assert!(
            out.status.success(),
            "{user:?}: kubectl {args:?}: {}",
            output_text(&out)
        );
        output_text(&out)
    }

    fn uid(&self, args: &[&str]) -> String {
        let obj = self.channel.cp.get_json(args);
        obj["metadata"]["uid"].as_str().expect("uid").to_string()
    }

    /// Waits until Ready of the object has `status`/`reason`; returns its status.
    async fn wait_ready(&self, args: &[&str], status: &str, reason: &str) -> Value {
        let obj = self
            .channel
            .cp
            .wait_condition(args, "Ready", status, Some(reason), Duration::from_secs(120), || {
                self.operator.log_text()
            })
            .await;
        obj["status"].clone()
    }

    /// Waits until `check` holds for the status of `kubectl get <args>`; returns that status.
    async fn wait_status(&self, args: &[&str], what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let status = self.channel.cp.get_json(args)["status"].clone();
            if check(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{args:?}: {what}: {status:#}\nlog:\n{}",
                support::tail(&self.operator.log_text(), 60)
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn effective<'a>(status: &'a Value, plan: &str) -> &'a Value {
    status["effectivePlans"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["plan"] == plan))
        .unwrap_or_else(|| panic!("no effective plan {plan} in {status:#}"))
}

fn binding_of(v: &Value) -> (Option<&str>, Option<&str>) {
    (
        v["connectionBinding"]["uid"].as_str(),
        v["connectionBinding"]["partnerTenantId"].as_str(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reseller_admin_swapping_the_overridden_connection_gains_nothing() {
    let s = Scenario::start().await;
    let cp = &s.channel.cp;
    let conn_args = ["-n", NORTHWIND_NS, "pcc", CONNECTION];
    let old_uid = s.uid(&conn_args);

    // The first resolution was recorded: the override, its inheritor and the named plan.
    for who in ["northwind", "northwind-wellington"] {
        let st = cp.get_json(&["rsl", who])["status"].clone();
        assert_eq!(
            binding_of(effective(&st, PLAN)),
            (Some(old_uid.as_str()), Some(NORTHWIND_TENANT)),
            "{who}: {st:#}"
        );
    }
    let plan = cp.get_json(&["cplan", NAMED_PLAN])["status"].clone();
    assert_eq!(binding_of(&plan), (Some(old_uid.as_str()), Some(NORTHWIND_TENANT)));

    // The attack, as Northwind's own admin: credentials of another account in a Secret of their
    // namespace, the connection deleted and recreated under the same name for that account.
    // Admission keeps the in-use finalizer (first line); the finalizer is then removed as the
    // cluster admin, as if that policy were not installed, to show the binding (second line).
    let consent = s
        .channel
        .emulator_control(
            Method::POST,
            "/_emulator/refresh-tokens",
            Some(json!({"tenantId": OTHER_TENANT, "upn": "admin@contosonz.onmicrosoft.com"})),
        )
        .await;
    let token = consent["refreshToken"].as_str().expect("refresh token");
    s.kubectl(
        ATTACKER,
        &[
            "-n",
            NORTHWIND_NS,
            "create",
            "secret",
            "generic",
            "swapped-credentials",
            "--from-literal=clientId=5a0c1e2d-0000-4000-8000-00000000e002",
            "--from-literal=clientSecret=demo-secret-nz",
            &format!("--from-literal=refreshToken={token}"),
        ],
    );
    // First line: the delete itself is refused, naming what uses the connection (the operator's
    // in-use marker, deploy/admission/delete-in-use.yaml); then deleted as the cluster admin, as if
    // that policy were not installed.
    let delete = ["-n", NORTHWIND_NS, "delete", "pcc", CONNECTION, "--wait=false"];
    let refused = cp.kubectl_run(ATTACKER, &delete);
    assert!(
        !refused.status.success()
            && output_text(&refused).contains(&format!(
                "PartnerCenterConnection {NORTHWIND_NS}/{CONNECTION} is in use by "
            )),
        "{}",
        output_text(&refused)
    );
    s.kubectl(User::Admin, &delete);
    let unfinalize = [
        "-n",
        NORTHWIND_NS,
        "patch",
        "pcc",
        CONNECTION,
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ];
    let refused = cp.kubectl_run(ATTACKER, &unfinalize);
    assert!(!refused.status.success(), "{}", output_text(&refused));
    assert!(
        output_text(&refused).contains(
            "metadata.finalizers: only the operator or the provider may remove channel.csp.dev/in-use-protection"
        ),
        "{}",
        output_text(&refused)
    );
    s.kubectl(User::Admin, &unfinalize);
    s.kubectl(
        ATTACKER,
        &[
            "-n",
            NORTHWIND_NS,
            "wait",
            "--for=delete",
            "pcc",
            CONNECTION,
            "--timeout=60s",
        ],
    );
    let addr = &s.channel.addr;
    let swapped = format!(
        r#"{{"apiVersion":"channel.csp.dev/v1alpha1","kind":"PartnerCenterConnection","metadata":{{"name":"{CONNECTION}","namespace":"{NORTHWIND_NS}"}},"spec":{{"partnerTenantId":"{OTHER_TENANT}","region":"NZ","cspType":"IndirectProvider","environment":"Production","auth":{{"mode":"AppPlusUser","secretRef":{{"name":"swapped-credentials"}}}},"endpoints":{{"partnerCenter":"http://{addr}","login":"http://{addr}"}}}}}}"#
    );
    let out = cp.apply_yaml(ATTACKER, &swapped);
    assert!(out.status.success(), "{}", output_text(&out));
    let new_uid = s.uid(&conn_args);
    assert_ne!(new_uid, old_uid);

    // The replacement itself checks out against Partner Center: only the binding stops it.
    cp.wait_condition(&conn_args, "Ready", "True", None, Duration::from_secs(120), || {
        s.operator.log_text()
    })
    .await;

    let replaced = format!("uid {old_uid}→{new_uid}, partnerTenantId {NORTHWIND_TENANT}→{OTHER_TENANT}");
    let confirm_cmd = format!("`kubectl annotate rsl northwind {CONFIRM}={new_uid} --overwrite`");
    for (who, extra) in [
        ("northwind", None),
        ("northwind-wellington", Some("(inherited by 'northwind-wellington')")),
    ] {
        let st = s.wait_ready(&["rsl", who], "False", "ConnectionReplaced").await;
        let p = effective(&st, PLAN);
        assert_eq!(p["usable"], false, "{who}");
        assert_eq!(p["reason"], "ConnectionReplaced", "{who}");
        assert_eq!(
            (p["connection"]["namespace"].as_str(), p["connection"]["name"].as_str()),
            (Some(NORTHWIND_NS), Some(CONNECTION)),
            "{who}"
        );
        let message = p["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("PartnerCenterConnection {NORTHWIND_NS}/{CONNECTION}")),
            "{who}: {message}"
        );
        assert!(
            message.contains(&format!("was replaced: {replaced}")),
            "{who}: {message}"
        );
        assert!(message.contains(&confirm_cmd), "{who}: {message}");
        if let Some(extra) = extra {
            assert!(message.contains(extra), "{who}: {message}");
        }
        assert_eq!(ready_of(&st)["message"].as_str(), Some(message), "{who}");
        // The binding is not moved to the replacement.
        assert_eq!(binding_of(p), (Some(old_uid.as_str()), Some(NORTHWIND_TENANT)), "{who}");
    }
    let plan = s
        .wait_ready(&["cplan", NAMED_PLAN], "False", "ConnectionReplaced")
        .await;
    let message = ready_of(&plan)["message"].as_str().unwrap().to_string();
    assert!(message.contains(&format!("was replaced: {replaced}")), "{message}");
    assert!(
        message.contains(&format!(
            "`kubectl annotate cplan {NAMED_PLAN} {CONFIRM}={new_uid} --overwrite`"
        )),
        "{message}"
    );
    assert_eq!(binding_of(&plan), (Some(old_uid.as_str()), Some(NORTHWIND_TENANT)));

    // Northwind's admins can read why, in their own namespace (Reseller Events are copied there).
    let events = s
        .wait_status_events(NORTHWIND_NS, |e| {
            e["reason"] == "ConnectionReplaced"
                && e["type"] == "Warning"
                && e["regarding"]["kind"] == "Reseller"
                && e["regarding"]["name"] == "northwind"
        })
        .await;
    assert!(
        events["note"].as_str().unwrap_or_default().contains("was replaced"),
        "{events:#}"
    );

    // The provider confirms the new connection: usable again, the binding moves, for the
    // inheritor too (the override is Northwind's, so one confirmation covers its subtree).
    s.kubectl(
        User::ProviderAdmin,
        &[
            "annotate",
            "rsl",
            "northwind",
            &format!("{CONFIRM}={new_uid}"),
            "--overwrite",
        ],
    );
    for who in ["northwind", "northwind-wellington"] {
        let st = s.wait_ready(&["rsl", who], "True", "Ready").await;
        let p = effective(&st, PLAN);
        assert_eq!(p["usable"], true, "{who}");
        assert_eq!(binding_of(p), (Some(new_uid.as_str()), Some(OTHER_TENANT)), "{who}");
    }
    // The plan is the provider's own decision: confirmed on the plan.
    s.kubectl(
        User::ProviderAdmin,
        &[
            "annotate",
            "cplan",
            NAMED_PLAN,
            &format!("{CONFIRM}={new_uid}"),
            "--overwrite",
        ],
    );
    let plan = s.wait_ready(&["cplan", NAMED_PLAN], "True", "Ready").await;
    assert_eq!(binding_of(&plan), (Some(new_uid.as_str()), Some(OTHER_TENANT)));

    // Re-pointing the override is a provider decision: bound at once, no confirmation (the
    // annotation lists only the other connection's uid).
    let provider_uid = s.uid(&["-n", PROVIDER_NS, "pcc", "contoso-nz-production"]);
    let repoint = format!(
        r#"{{"spec":{{"services":{{"azureAD":{{"enabled":true,"customerPlans":[{{"plan":"{PLAN}","connectionOverride":{{"namespace":"{PROVIDER_NS}","name":"contoso-nz-production"}}}}]}}}}}}}}"#
    );
    s.kubectl(
        User::ProviderAdmin,
        &["patch", "rsl", "northwind", "--type=merge", "-p", &repoint],
    );
    for who in ["northwind", "northwind-wellington"] {
        // The first status naming the new connection already says usable.
        let st = s
            .wait_status(&["rsl", who], "re-pointed override published", |st| {
                st["effectivePlans"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["plan"] == PLAN && p["connection"]["name"] == "contoso-nz-production")
                })
            })
            .await;
        let p = effective(&st, PLAN);
        assert_eq!(p["usable"], true, "{who}: {p:#}");
        assert_eq!(
            binding_of(p),
            (Some(provider_uid.as_str()), Some(OTHER_TENANT)),
            "{who}"
        );
    }
}

impl Scenario {
    /// Waits for an Event in `namespace` matching `want`; returns it.
    async fn wait_status_events(&self, namespace: &str, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let events = self.channel.cp.get_json(&["-n", namespace, "events.events.k8s.io"]);
            if let Some(e) = events["items"]
                .as_array()
                .and_then(|items| items.iter().find(|e| want(e)))
            {
                return e.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no such Event in {namespace}: {events:#}\nlog:\n{}",
                support::tail(&self.operator.log_text(), 60)
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
