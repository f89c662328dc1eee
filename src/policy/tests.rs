//! Scenario tests for the rules across objects: hierarchy, effective plans, ownership, usage,
//! dependents and connection verification. Each builds a small world and asserts what the
//! statuses would say.

use super::*;
use crate::api::{AuthMode, ConnectionRef, CspType, CustomerType, Environment, MasterDirectory};
use jiff::Timestamp;
use std::collections::BTreeSet;

const P: &str = "pc-system";

pub(in crate::policy) fn cref(ns: &str, name: &str) -> ConnectionRef {
    ConnectionRef {
        namespace: ns.into(),
        name: name.into(),
    }
}

fn settings() -> Settings {
    Settings::new(P)
}

/// A Ready connection whose identity is spelled like a plan name ("EUR Direct Production").
pub(in crate::policy) fn conn(ns: &str, name: &str, identity: &str) -> ConnectionFacts {
    let n = parse_plan_name(identity).unwrap();
    ConnectionFacts {
        namespace: ns.into(),
        name: name.into(),
        uid: format!("uid-{ns}-{name}"),
        partner_tenant_id: format!("tenant-{ns}-{name}"),
        region: n.region,
        csp_type: n.csp_type,
        environment: n.environment,
        health: ConnectionHealth::Ready,
        deleting: false,
        customer_count: None,
        last_sync: None,
        linked_indirect_resellers: BTreeSet::new(),
    }
}

/// A plan whose spec agrees with its display name.
fn plan(name: &str, display: &str, ns: &str, conn_name: &str) -> PlanFacts {
    let n = parse_plan_name(display).unwrap();
    PlanFacts {
        name: name.into(),
        display_name: display.into(),
        region: n.region,
        csp_type: n.csp_type,
        environment: n.environment,
        connection_ref: cref(ns, conn_name),
        allow_tenant_creation: false,
        master_directory: Some(MasterDirectory::AzureAD),
        deleting: false,
        binding: None,
        confirmed_connections: BTreeSet::new(),
    }
}

fn at(second: i64) -> Option<Timestamp> {
    Some(Timestamp::from_second(1_700_000_000 + second).unwrap())
}

fn reseller(name: &str, parent: Option<&str>, age: i64) -> ResellerFacts {
    ResellerFacts {
        name: name.into(),
        short_name: name.to_ascii_uppercase().replace('-', ""),
        parent: parent.map(Into::into),
        customer_type: CustomerType::Standard,
        namespace: if parent.is_none() {
            Some(P.into())
        } else {
            Some(format!("ns-{name}"))
        },
        region: None,
        sandbox_only: false,
        azure_ad_enabled: true,
        grants: Vec::new(),
        created: at(age),
        deleting: false,
        bindings: Default::default(),
        confirmed_connections: BTreeSet::new(),
        indirect_reseller_tenant_id: None,
    }
}

trait Build {
    fn grant(self, plan: &str) -> Self;
    fn grant_override(self, plan: &str, ns: &str, name: &str) -> Self;
    fn with(self, f: impl FnOnce(&mut Self)) -> Self;
}

impl Build for ResellerFacts {
    fn grant(mut self, plan: &str) -> Self {
        self.grants.push(GrantFacts {
            plan: plan.into(),
            connection_override: None,
        });
        self
    }
    fn grant_override(mut self, plan: &str, ns: &str, name: &str) -> Self {
        self.grants.push(GrantFacts {
            plan: plan.into(),
            connection_override: Some(cref(ns, name)),
        });
        self
    }
    fn with(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}

/// The catalog used by most tests: one provider plan through a provider connection.
const EUR: &str = "eur-direct-prod";

fn eur_plan() -> PlanFacts {
    plan(EUR, "EUR Direct Production", P, "eur-direct")
}

fn eur_conn() -> ConnectionFacts {
    conn(P, "eur-direct", "EUR Direct Production")
}

/// provider ─┬─ a ─┬─ a1 ── a1x
///           │     └─ a2
///           └─ b ─── b1
/// everyone granted EUR.
fn tree() -> Vec<ResellerFacts> {
    vec![
        reseller("provider", None, 0).grant(EUR),
        reseller("a", Some("provider"), 1).grant(EUR),
        reseller("a1", Some("a"), 2).grant(EUR),
        reseller("a1x", Some("a1"), 3).grant(EUR),
        reseller("a2", Some("a"), 4).grant(EUR),
        reseller("b", Some("provider"), 5).grant(EUR),
        reseller("b1", Some("b"), 6).grant(EUR),
    ]
}

fn replace(mut rs: Vec<ResellerFacts>, r: ResellerFacts) -> Vec<ResellerFacts> {
    rs.retain(|x| x.name != r.name);
    rs.push(r);
    rs
}

fn get(rs: &[ResellerFacts], name: &str) -> ResellerFacts {
    rs.iter().find(|r| r.name == name).unwrap().clone()
}

fn eval(rs: Vec<ResellerFacts>, ps: Vec<PlanFacts>, cs: Vec<ConnectionFacts>, s: &Settings) -> Evaluation {
    evaluate(&Snapshot::new(rs, ps, cs), s)
}

fn eff<'e>(e: &'e Evaluation, reseller: &str, plan: &str) -> &'e EffectivePlan {
    e.resellers[reseller]
        .effective_plans
        .iter()
        .find(|p| p.plan == plan)
        .unwrap_or_else(|| panic!("{reseller} has no effective plan {plan}"))
}

fn reasons_of(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.reason.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// Reasons

#[test]
fn reasons_are_unique_camel_case() {
    let mut seen = BTreeSet::new();
    for r in reasons::ALL {
        assert!(seen.insert(*r), "duplicate reason {r}");
        assert!(r.chars().next().unwrap().is_ascii_uppercase(), "{r}");
        assert!(r.chars().all(|c| c.is_ascii_alphanumeric()), "{r}");
        assert!(r.len() <= 1024, "condition reasons are at most 1024 characters");
    }
}

// ---------------------------------------------------------------------------------------------
// Happy path

#[test]
fn valid_tree_everyone_ready_through_the_plan_connection() {
    let e = eval(tree(), vec![eur_plan()], vec![eur_conn()], &settings());
    for r in tree() {
        let re = &e.resellers[&r.name];
        assert!(re.ready.is_true(), "{}: {:?}", r.name, re.ready);
        assert_eq!(re.hierarchy_valid.reason, reasons::VALID);
        assert_eq!(re.ready.reason, reasons::READY);
        assert_eq!(re.plans_valid.reason, reasons::ALL_PLANS_USABLE);
        assert!(re.warnings.is_empty() && re.errors.is_empty());
        let p = eff(&e, &r.name, EUR);
        assert!(p.usable);
        assert_eq!(p.source, ConnectionSource::Plan);
        assert_eq!(p.connection, Some(cref(P, "eur-direct")));
        assert_eq!(p.region.as_deref(), Some("EUR"));
        assert_eq!(p.csp_type, Some(CspType::Direct));
        assert_eq!(p.environment, Some(Environment::Production));
        assert_eq!(p.master_directory, Some(MasterDirectory::AzureAD));
        assert_eq!(p.reason, None);
    }
    assert_eq!(e.resellers["a1x"].ancestors, vec!["a1", "a", "provider"]);
    assert!(e.resellers["provider"].is_root);
    assert!(e.resellers["provider"].ancestors.is_empty());
    let pe = &e.plans[EUR];
    assert!(pe.ready.is_true() && pe.connection_ready.is_true());
    assert_eq!(pe.reseller_count(), 7);
    assert_eq!(pe.connection_owner, ConnectionOwner::Provider);
    assert!(e.hierarchy_findings.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Rule 8: hierarchy

#[test]
fn deep_hierarchy_paths_and_invalidity_propagate_down() {
    let mut rs = vec![reseller("r0", None, 0).grant(EUR)];
    for i in 1..=7 {
        rs.push(reseller(&format!("r{i}"), Some(&format!("r{}", i - 1)), i).grant(EUR));
    }
    let e = eval(rs.clone(), vec![eur_plan()], vec![eur_conn()], &settings());
    assert_eq!(
        e.resellers["r7"].ancestors,
        vec!["r6", "r5", "r4", "r3", "r2", "r1", "r0"]
    );
    assert!(e.resellers["r7"].ready.is_true());

    // r3 loses its parent: r3 invalid, r4..r7 AncestorInvalid naming r3, r0..r2 untouched.
    let rs = replace(rs.clone(), get(&rs, "r3").with(|r| r.parent = Some("gone".into())));
    let e = eval(rs, vec![eur_plan()], vec![eur_conn()], &settings());
    assert_eq!(e.resellers["r3"].hierarchy_valid.reason, reasons::PARENT_NOT_FOUND);
    for n in ["r4", "r5", "r6", "r7"] {
        let h = &e.resellers[n].hierarchy_valid;
        assert_eq!(h.status, Status::False);
        assert_eq!(h.reason, reasons::ANCESTOR_INVALID, "{n}");
        assert!(h.message.contains("ancestor Reseller 'r3'"), "{n}: {}", h.message);
        assert_eq!(e.resellers[n].ready.reason, reasons::ANCESTOR_INVALID);
        let p = eff(&e, n, EUR);
        assert!(!p.usable);
        assert_eq!(p.reason.as_deref(), Some(reasons::HIERARCHY_INVALID));
    }
    for n in ["r0", "r1", "r2"] {
        assert!(e.resellers[n].ready.is_true(), "{n}");
    }
}

#[test]
fn cycles_of_length_one_two_three() {
    struct Case {
        name: &'static str,
        links: &'static [(&'static str, &'static str)],
        in_cycle: &'static [&'static str],
        cycle_text: &'static str,
    }
    let cases = [
        Case {
            name: "self-parent",
            links: &[("x", "x")],
            in_cycle: &["x"],
            cycle_text: "x → x",
        },
        Case {
            name: "2-cycle",
            links: &[("x", "y"), ("y", "x")],
            in_cycle: &["x", "y"],
            cycle_text: "x → y → x",
        },
        Case {
            name: "3-cycle",
            links: &[("x", "y"), ("y", "z"), ("z", "x")],
            in_cycle: &["x", "y", "z"],
            cycle_text: "x → y → z → x",
        },
    ];
    for c in cases {
        let mut rs = vec![reseller("provider", None, 0)];
        for (i, (child, parent)) in c.links.iter().enumerate() {
            rs.push(reseller(child, Some(parent), 10 + i as i64));
        }
        // Hanging below the cycle: invalid through its ancestor, not itself in the cycle.
        rs.push(reseller("below", Some("x"), 50));
        let e = eval(rs, vec![], vec![], &settings());
        for n in c.in_cycle {
            let h = &e.resellers[*n].hierarchy_valid;
            assert_eq!(h.reason, reasons::HIERARCHY_CYCLE, "{}: {n}", c.name);
        }
        assert!(
            e.resellers["x"].hierarchy_valid.message.contains(c.cycle_text),
            "{}: {}",
            c.name,
            e.resellers["x"].hierarchy_valid.message
        );
        assert_eq!(
            e.resellers["below"].hierarchy_valid.reason,
            reasons::ANCESTOR_INVALID,
            "{}",
            c.name
        );
        assert!(e.resellers["provider"].ready.is_true(), "{}", c.name);
        assert!(e.hierarchy_findings.is_empty(), "{}: a root exists", c.name);
    }
}

#[test]
fn no_root_is_reported_for_the_tree() {
    let rs = vec![
        reseller("x", Some("y"), 1),
        reseller("y", Some("x"), 2),
        reseller("z", Some("missing"), 3),
    ];
    let e = eval(rs, vec![], vec![], &settings());
    assert_eq!(reasons_of(&e.hierarchy_findings), vec![reasons::NO_ROOT]);
    assert_eq!(e.resellers["x"].hierarchy_valid.reason, reasons::HIERARCHY_CYCLE);
    assert_eq!(e.resellers["z"].hierarchy_valid.reason, reasons::PARENT_NOT_FOUND);
    assert!(!e.resellers.values().any(|r| r.is_root));
    // An empty cluster has no tree to complain about.
    assert!(eval(vec![], vec![], vec![], &settings()).hierarchy_findings.is_empty());
}

#[test]
fn two_roots_the_older_keeps_the_root() {
    let rs = vec![
        // Name order is the opposite of age order: age must decide.
        reseller("zz-old", None, 0),
        reseller("aa-new", None, 5).with(|r| r.namespace = None),
        reseller("child", Some("aa-new"), 6),
    ];
    let e = eval(rs, vec![], vec![], &settings());
    assert!(e.resellers["zz-old"].is_root);
    assert!(e.resellers["zz-old"].ready.is_true());
    let h = &e.resellers["aa-new"].hierarchy_valid;
    assert_eq!(h.reason, reasons::MULTIPLE_ROOTS);
    assert!(h.message.contains("'zz-old' is already the root"), "{}", h.message);
    assert!(h.message.contains("set spec.parent of 'aa-new'"));
    assert_eq!(e.resellers["child"].hierarchy_valid.reason, reasons::ANCESTOR_INVALID);
}

#[test]
fn missing_and_deleting_parents() {
    let rs = vec![
        reseller("provider", None, 0),
        reseller("orphan", Some("deleted-one"), 1),
        reseller("leaving", Some("provider"), 2).with(|r| r.deleting = true),
        reseller("child-of-leaving", Some("leaving"), 3),
    ];
    let e = eval(rs, vec![], vec![], &settings());
    let h = &e.resellers["orphan"].hierarchy_valid;
    assert_eq!(h.reason, reasons::PARENT_NOT_FOUND);
    assert!(
        h.message
            .contains("spec.parent of Reseller 'orphan' names 'deleted-one'")
    );
    let h = &e.resellers["child-of-leaving"].hierarchy_valid;
    assert_eq!(h.reason, reasons::PARENT_DELETING);
    assert!(h.message.contains("being deleted"));
    assert!(e.resellers["leaving"].hierarchy_valid.is_true());
}

#[test]
fn duplicate_short_names_and_namespaces_older_wins() {
    struct Case {
        name: &'static str,
        older: ResellerFacts,
        newer: ResellerFacts,
        reason: &'static str,
    }
    let base = |n: &str, age| reseller(n, Some("provider"), age);
    let cases = [
        Case {
            name: "shortName, older by timestamp although later by name",
            older: base("zeta", 1).with(|r| r.short_name = "DUP".into()),
            newer: base("alpha", 2).with(|r| r.short_name = "DUP".into()),
            reason: reasons::DUPLICATE_SHORT_NAME,
        },
        Case {
            name: "shortName, same timestamp: name breaks the tie",
            older: base("alpha", 1).with(|r| r.short_name = "DUP".into()),
            newer: base("beta", 1).with(|r| r.short_name = "DUP".into()),
            reason: reasons::DUPLICATE_SHORT_NAME,
        },
        Case {
            name: "shortName, not yet persisted counts as newest",
            older: base("zeta", 9).with(|r| r.short_name = "DUP".into()),
            newer: base("alpha", 0).with(|r| {
                r.short_name = "DUP".into();
                r.created = None;
            }),
            reason: reasons::DUPLICATE_SHORT_NAME,
        },
        Case {
            name: "namespace",
            older: base("zeta", 1).with(|r| r.namespace = Some("shared".into())),
            newer: base("alpha", 2).with(|r| r.namespace = Some("shared".into())),
            reason: reasons::DUPLICATE_NAMESPACE,
        },
    ];
    for c in cases {
        let (older, newer) = (c.older.name.clone(), c.newer.name.clone());
        let rs = vec![reseller("provider", None, 0), c.older, c.newer];
        let e = eval(rs, vec![], vec![], &settings());
        assert!(e.resellers[&older].ready.is_true(), "{}", c.name);
        let h = &e.resellers[&newer].hierarchy_valid;
        assert_eq!(h.reason, c.reason, "{}", c.name);
        assert!(
            h.message.contains(&format!("older Reseller '{older}'")),
            "{}: {}",
            c.name,
            h.message
        );
    }
}

#[test]
fn provider_namespace_belongs_to_the_root() {
    let rs = vec![
        reseller("provider", None, 0),
        reseller("sneaky", Some("provider"), 1).with(|r| r.namespace = Some(P.into())),
    ];
    let e = eval(rs, vec![], vec![], &settings());
    assert_eq!(
        e.resellers["sneaky"].hierarchy_valid.reason,
        reasons::NAMESPACE_RESERVED
    );
    assert!(e.resellers["provider"].ready.is_true());

    // A root whose namespace is something else contradicts the operator setting.
    let rs = vec![reseller("provider", None, 0).with(|r| r.namespace = Some("other".into()))];
    let e = eval(rs, vec![], vec![], &settings());
    let h = &e.resellers["provider"].hierarchy_valid;
    assert_eq!(h.reason, reasons::ROOT_NAMESPACE_MISMATCH);
    assert!(h.message.contains("set spec.namespace to 'pc-system'"));

    // A root without spec.namespace is fine: its namespace is the provider namespace.
    let rs = vec![reseller("provider", None, 0).with(|r| r.namespace = None)];
    let e = eval(rs, vec![], vec![], &settings());
    assert!(e.resellers["provider"].ready.is_true());
}

// ---------------------------------------------------------------------------------------------
// Rule 8: plans the parent has; azureAD disabled; deleted plans

#[test]
fn a_reseller_only_gets_plans_every_ancestor_has() {
    let base = tree();
    struct Case {
        name: &'static str,
        change: ResellerFacts,
        check: &'static str,
        expect: Option<&'static str>,
    }
    let cases = [
        Case {
            name: "parent lacks the plan",
            change: get(&base, "a").with(|r| r.grants.clear()),
            check: "a1",
            expect: Some("its ancestor 'a' does not have it:"),
        },
        Case {
            name: "grandparent lacks the plan",
            change: get(&base, "a").with(|r| r.grants.clear()),
            check: "a1x",
            expect: Some("its ancestor 'a' does not have it"),
        },
        Case {
            name: "parent's azureAD disabled",
            change: get(&base, "a").with(|r| r.azure_ad_enabled = false),
            check: "a1",
            expect: Some("enabled is false"),
        },
        Case {
            name: "root has the whole catalog (only its own grants count)",
            change: get(&base, "provider"),
            check: "provider",
            expect: None,
        },
        Case {
            name: "a child of the root needs no grant on the root: the root has the whole catalog",
            change: get(&base, "provider").with(|r| r.grants.clear()),
            check: "a",
            expect: None,
        },
        Case {
            name: "nor does a grandchild, when its own parent has the plan",
            change: get(&base, "provider").with(|r| r.azure_ad_enabled = false),
            check: "a1x",
            expect: None,
        },
    ];
    for c in cases {
        let e = eval(
            replace(base.clone(), c.change),
            vec![eur_plan()],
            vec![eur_conn()],
            &settings(),
        );
        let p = eff(&e, c.check, EUR);
        match c.expect {
            None => assert!(p.usable, "{}: {:?}", c.name, p.problems),
            Some(text) => {
                assert!(!p.usable, "{}", c.name);
                assert_eq!(p.reason.as_deref(), Some(reasons::PARENT_LACKS_PLAN), "{}", c.name);
                assert!(
                    p.message.as_ref().unwrap().contains(text),
                    "{}: {:?}",
                    c.name,
                    p.message
                );
                assert_eq!(e.resellers[c.check].ready.reason, reasons::PARENT_LACKS_PLAN);
            }
        }
    }
}

#[test]
fn azure_ad_disabled_means_no_effective_plans() {
    let rs = replace(tree(), get(&tree(), "b").with(|r| r.azure_ad_enabled = false));
    let e = eval(rs, vec![eur_plan()], vec![eur_conn()], &settings());
    let b = &e.resellers["b"];
    assert!(b.effective_plans.is_empty());
    assert_eq!(b.plans_valid.reason, reasons::NO_ACTIVE_GRANTS);
    assert!(b.ready.is_true());
    assert!(!e.plans[EUR].resellers.contains(&"b".to_string()));
    assert_eq!(e.plans[EUR].reseller_count(), 6);
}

#[test]
fn deleted_and_deleting_plans() {
    // Deleted: the grant names a plan that no longer exists.
    let e = eval(tree(), vec![], vec![eur_conn()], &settings());
    let p = eff(&e, "a", EUR);
    assert_eq!(p.reason.as_deref(), Some(reasons::PLAN_NOT_FOUND));
    assert_eq!(p.connection, None);
    assert!(
        p.message
            .as_ref()
            .unwrap()
            .contains("customerPlans[plan=eur-direct-prod] of Reseller 'a'")
    );
    assert_eq!(e.resellers["a"].ready.reason, reasons::PLAN_NOT_FOUND);

    // Deleting: nothing may use it.
    let deleting = eur_plan();
    let deleting = PlanFacts {
        deleting: true,
        ..deleting
    };
    let e = eval(tree(), vec![deleting], vec![eur_conn()], &settings());
    assert_eq!(eff(&e, "a", EUR).reason.as_deref(), Some(reasons::DELETING));
    assert_eq!(e.plans[EUR].ready.reason, reasons::DELETING);
}

#[test]
fn duplicate_grant_entries_are_reported() {
    let rs = replace(tree(), get(&tree(), "b").grant(EUR));
    let e = eval(rs, vec![eur_plan()], vec![eur_conn()], &settings());
    let b = &e.resellers["b"];
    assert_eq!(b.effective_plans.len(), 1);
    assert_eq!(b.ready.reason, reasons::DUPLICATE_PLAN_GRANT);
    assert_eq!(b.plans_valid.reason, reasons::DUPLICATE_PLAN_GRANT);
}

// ---------------------------------------------------------------------------------------------
// Rule 1: plans named for a reseller

#[test]
fn plan_named_for_a_reseller_only_on_its_path_and_subtree() {
    // "A1 EUR Direct Production" is named for a1 (short name A1).
    const NAMED: &str = "a1-eur";
    let named = plan(NAMED, "A1 EUR Direct Production", P, "eur-direct");
    let rs: Vec<ResellerFacts> = tree().into_iter().map(|r| r.grant(NAMED)).collect();
    let e = eval(rs, vec![eur_plan(), named], vec![eur_conn()], &settings());
    assert_eq!(e.plans[NAMED].named_for.as_deref(), Some("a1"));
    let cases: &[(&str, bool, &str)] = &[
        ("provider", true, "root, on the path"),
        ("a", true, "parent, on the path"),
        ("a1", true, "the reseller itself"),
        ("a1x", true, "in its subtree"),
        ("a2", false, "sibling"),
        ("b", false, "parent's sibling"),
        ("b1", false, "cousin"),
    ];
    for (who, ok, why) in cases {
        let p = eff(&e, who, NAMED);
        assert_eq!(p.usable, *ok, "{who} ({why}): {:?}", p.problems);
        if !ok {
            assert_eq!(p.reason.as_deref(), Some(reasons::PLAN_NOT_FOR_RESELLER), "{who}");
            let m = p.message.as_ref().unwrap();
            assert!(m.contains("named for short name 'A1' (Reseller 'a1')"), "{m}");
            assert!(m.contains(&format!("Reseller '{who}' is neither")), "{m}");
        }
    }
}

#[test]
fn plan_named_for_an_unknown_short_name_only_the_root_may_hold() {
    const NAMED: &str = "ghost-eur";
    let named = plan(NAMED, "GHOST EUR Direct Production", P, "eur-direct");
    let rs = vec![
        reseller("provider", None, 0).grant(NAMED),
        reseller("a", Some("provider"), 1).grant(NAMED),
    ];
    let e = eval(rs, vec![named], vec![eur_conn()], &settings());
    assert!(eff(&e, "provider", NAMED).usable);
    assert_eq!(
        eff(&e, "a", NAMED).reason.as_deref(),
        Some(reasons::PLAN_NOT_FOR_RESELLER)
    );
    assert_eq!(
        reasons_of(&e.plans[NAMED].warnings),
        vec![reasons::NAMED_RESELLER_NOT_FOUND]
    );
    assert!(e.plans[NAMED].ready.is_true(), "a warning does not block the plan");
}

#[test]
fn plan_connection_ref_into_a_reseller_namespace() {
    // a1 owns ns-a1 and ns-a1/own; a2 owns ns-a2/own.
    let conns = vec![
        eur_conn(),
        conn("ns-a1", "own", "EUR Direct Production"),
        conn("ns-a2", "own", "EUR Direct Production"),
        conn("nobody", "stray", "EUR Direct Production"),
    ];
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        ("A1 EUR Direct Production", "ns-a1", "own", None),
        (
            "EUR Direct Production",
            "ns-a1",
            "own",
            Some(reasons::CONNECTION_REF_NAMESPACE_NOT_ALLOWED),
        ),
        (
            "A1 EUR Direct Production",
            "ns-a2",
            "own",
            Some(reasons::CONNECTION_REF_NAMESPACE_NOT_ALLOWED),
        ),
        ("A1 EUR Direct Production", P, "eur-direct", None),
        (
            "EUR Direct Production",
            "nobody",
            "stray",
            Some(reasons::CONNECTION_NAMESPACE_NOT_OWNED),
        ),
        (
            "EUR Direct Production",
            P,
            "absent",
            Some(reasons::CONNECTION_NOT_FOUND),
        ),
    ];
    for (display, ns, name, expect) in cases {
        let p = plan("x", display, ns, name);
        let rs = vec![
            reseller("provider", None, 0).grant("x"),
            reseller("a", Some("provider"), 1).grant("x"),
            reseller("a1", Some("a"), 2).grant("x"),
            reseller("a2", Some("a"), 3),
        ];
        let e = eval(rs, vec![p], conns.clone(), &settings());
        let pe = &e.plans["x"];
        match expect {
            None => {
                assert!(pe.ready.is_true(), "{display} → {ns}/{name}: {:?}", pe.ready);
                assert!(eff(&e, "a1", "x").usable);
            }
            Some(reason) => {
                assert_eq!(pe.connection_ready.reason, *reason, "{display} → {ns}/{name}");
                assert_eq!(pe.connection_ready.status, Status::False);
                assert_eq!(pe.ready.reason, *reason);
                let p = eff(&e, "a1", "x");
                assert_eq!(p.reason.as_deref(), Some(*reason), "{display} → {ns}/{name}");
                assert!(
                    p.message
                        .as_ref()
                        .unwrap()
                        .contains("spec.connectionRef of CustomerPlan 'x'")
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Overrides: inheritance (rule 8) and namespaces (rule 5)

#[test]
fn inherited_overrides_nearest_ancestor_wins_own_override_wins() {
    let conns = vec![
        eur_conn(),
        conn(P, "root-eur", "EUR Direct Production"),
        conn("ns-a", "a-eur", "EUR Direct Production"),
        conn("ns-a1", "a1-eur", "EUR Direct Production"),
    ];
    // (reseller, source, inherited from, connection)
    type Expect = (
        &'static str,
        ConnectionSource,
        Option<&'static str>,
        (&'static str, &'static str),
    );
    struct Case {
        name: &'static str,
        overrides: &'static [(&'static str, &'static str, &'static str)],
        expect: &'static [Expect],
    }
    let cases = [
        Case {
            name: "no overrides",
            overrides: &[],
            expect: &[
                ("a1x", ConnectionSource::Plan, None, (P, "eur-direct")),
                ("b1", ConnectionSource::Plan, None, (P, "eur-direct")),
            ],
        },
        Case {
            name: "root override inherited by everyone",
            overrides: &[("provider", P, "root-eur")],
            expect: &[
                ("provider", ConnectionSource::Override, None, (P, "root-eur")),
                ("a", ConnectionSource::Inherited, Some("provider"), (P, "root-eur")),
                ("a1x", ConnectionSource::Inherited, Some("provider"), (P, "root-eur")),
                ("b1", ConnectionSource::Inherited, Some("provider"), (P, "root-eur")),
            ],
        },
        Case {
            name: "a's override reaches its subtree only; nearest wins over root",
            overrides: &[("provider", P, "root-eur"), ("a", "ns-a", "a-eur")],
            expect: &[
                ("a", ConnectionSource::Override, None, ("ns-a", "a-eur")),
                ("a1", ConnectionSource::Inherited, Some("a"), ("ns-a", "a-eur")),
                ("a1x", ConnectionSource::Inherited, Some("a"), ("ns-a", "a-eur")),
                ("a2", ConnectionSource::Inherited, Some("a"), ("ns-a", "a-eur")),
                ("b1", ConnectionSource::Inherited, Some("provider"), (P, "root-eur")),
            ],
        },
        Case {
            name: "own override wins; its subtree inherits it",
            overrides: &[("a", "ns-a", "a-eur"), ("a1", "ns-a1", "a1-eur")],
            expect: &[
                ("a1", ConnectionSource::Override, None, ("ns-a1", "a1-eur")),
                ("a1x", ConnectionSource::Inherited, Some("a1"), ("ns-a1", "a1-eur")),
                ("a2", ConnectionSource::Inherited, Some("a"), ("ns-a", "a-eur")),
            ],
        },
    ];
    for c in cases {
        let mut rs = tree();
        for (who, ns, name) in c.overrides {
            let r = get(&rs, who).with(|r| r.grants.clear()).grant_override(EUR, ns, name);
            rs = replace(rs, r);
        }
        let e = eval(rs, vec![eur_plan()], conns.clone(), &settings());
        for (who, source, from, (ns, name)) in c.expect {
            let p = eff(&e, who, EUR);
            assert!(p.usable, "{}: {who}: {:?}", c.name, p.problems);
            assert_eq!(p.source, *source, "{}: {who}", c.name);
            assert_eq!(p.inherited_from.as_deref(), *from, "{}: {who}", c.name);
            assert_eq!(p.connection, Some(cref(ns, name)), "{}: {who}", c.name);
        }
    }
}

#[test]
fn override_namespaces_own_or_ancestor_only() {
    let conns = vec![
        eur_conn(),
        conn("ns-a", "c", "EUR Direct Production"),
        conn("ns-a1", "c", "EUR Direct Production"),
        conn("ns-a2", "c", "EUR Direct Production"),
        conn("ns-b", "c", "EUR Direct Production"),
        conn("nobody", "c", "EUR Direct Production"),
        conn(P, "c", "EUR Direct Production"),
    ];
    // (who sets the override, namespace, expected reasons on that reseller's plan)
    let cases: &[(&str, &str, &[&str])] = &[
        ("a1", "ns-a1", &[]),
        ("a1", "ns-a", &[]),
        ("a1", P, &[]),
        ("a1", "ns-a2", &[reasons::OVERRIDE_NAMESPACE_NOT_ALLOWED]),
        ("a1", "ns-b", &[reasons::OVERRIDE_NAMESPACE_NOT_ALLOWED]),
        ("a", "ns-a1", &[reasons::OVERRIDE_NAMESPACE_NOT_ALLOWED]),
        (
            "a1",
            "nobody",
            &[
                reasons::OVERRIDE_NAMESPACE_NOT_ALLOWED,
                reasons::CONNECTION_NAMESPACE_NOT_OWNED,
            ],
        ),
    ];
    for (who, ns, expect) in cases {
        let r = get(&tree(), who)
            .with(|r| r.grants.clear())
            .grant_override(EUR, ns, "c");
        let e = eval(replace(tree(), r), vec![eur_plan()], conns.clone(), &settings());
        let p = eff(&e, who, EUR);
        assert_eq!(reasons_of(&p.problems), *expect, "{who} → {ns}");
        if !expect.is_empty() {
            let m = p.message.as_ref().unwrap();
            assert!(m.contains(&format!("connectionOverride of Reseller '{who}'")), "{m}");
            assert!(m.contains(&format!("names namespace '{ns}'")), "{m}");
            assert!(!p.usable);
            // It never falls back to the plan's connection.
            assert_eq!(p.connection, Some(cref(ns, "c")));
        }
    }
}

#[test]
fn an_inherited_cross_tenant_override_is_refused_for_the_inheritor_too() {
    let conns = vec![eur_conn(), conn("ns-b", "c", "EUR Direct Production")];
    let r = get(&tree(), "a")
        .with(|r| r.grants.clear())
        .grant_override(EUR, "ns-b", "c");
    let e = eval(replace(tree(), r), vec![eur_plan()], conns, &settings());
    for who in ["a", "a1", "a1x"] {
        let p = eff(&e, who, EUR);
        assert_eq!(
            p.reason.as_deref(),
            Some(reasons::OVERRIDE_NAMESPACE_NOT_ALLOWED),
            "{who}"
        );
        assert_eq!(p.connection, Some(cref("ns-b", "c")), "{who}");
    }
    assert!(
        eff(&e, "a1", EUR)
            .message
            .as_ref()
            .unwrap()
            .contains("(inherited by 'a1')")
    );
    assert!(eff(&e, "b1", EUR).usable);
}

// ---------------------------------------------------------------------------------------------
// Decisions bind to a connection's identity (uid, partnerTenantId), not its name

/// Connection `ns/name` with identity `(uid, tenant)`.
fn conn_id(ns: &str, name: &str, uid: &str, tenant: &str) -> ConnectionFacts {
    ConnectionFacts {
        uid: uid.into(),
        partner_tenant_id: tenant.into(),
        ..conn(ns, name, "EUR Direct Production")
    }
}

fn bound(ns: &str, name: &str, uid: &str, tenant: &str) -> ConnectionBinding {
    ConnectionBinding {
        connection: cref(ns, name),
        uid: uid.into(),
        partner_tenant_id: tenant.into(),
    }
}

fn uids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn an_override_is_bound_to_the_connection_it_first_resolved_to() {
    // Reseller a overrides EUR with ns-a/own (recorded as `recorded`), a1 inherits it; the
    // connection named ns-a/own is now `now` (None: deleted).
    struct Case {
        name: &'static str,
        override_to: &'static str,
        recorded: Option<(&'static str, &'static str, &'static str)>,
        now: Option<(&'static str, &'static str)>,
        confirmed_on_a: &'static [&'static str],
        confirmed_on_a1: &'static [&'static str],
        /// The first problem of a's and a1's effective plan (None: usable).
        reason: Option<&'static str>,
        /// The uid both statuses record afterwards.
        record: Option<&'static str>,
        message: &'static [&'static str],
    }
    let replaced = Some(reasons::CONNECTION_REPLACED);
    let cases = [
        Case {
            name: "first resolution binds",
            override_to: "own",
            recorded: None,
            now: Some(("u1", "t1")),
            confirmed_on_a: &[],
            confirmed_on_a1: &[],
            reason: None,
            record: Some("u1"),
            message: &[],
        },
        Case {
            name: "the same uid and tenant stay usable",
            override_to: "own",
            recorded: Some(("own", "u1", "t1")),
            now: Some(("u1", "t1")),
            confirmed_on_a: &[],
            confirmed_on_a1: &[],
            reason: None,
            record: Some("u1"),
            message: &[],
        },
        Case {
            name: "deleted and recreated (new uid) is refused, for the inheritor too, binding kept",
            override_to: "own",
            recorded: Some(("own", "u1", "t1")),
            now: Some(("u2", "t1")),
            confirmed_on_a: &[],
            confirmed_on_a1: &[],
            reason: replaced,
            record: Some("u1"),
            message: &[
                "PartnerCenterConnection ns-a/own (named by spec.services.azureAD.customerPlans[plan=eur-direct-prod].connectionOverride of Reseller 'a'",
                "was replaced: uid u1→u2, partnerTenantId t1 (unchanged)",
                "`kubectl annotate rsl a channel.csp.dev/confirm-connection=u2 --overwrite`",
            ],
        },
        Case {
            name: "another account (new uid and tenant) is refused",
            override_to: "own",
            recorded: Some(("own", "u1", "t1")),
            now: Some(("u2", "t2")),
            confirmed_on_a: &[],
            confirmed_on_a1: &[],
            reason: replaced,
            record: Some("u1"),
            message: &["uid u1→u2, partnerTenantId t1→t2"],
        },
        Case {
            name: "a changed tenant under the same uid is refused",
            override_to: "own",
            recorded: Some(("own", "u1", "t1")),
            now: Some(("u1", "t2")),
            confirmed_on_a: &[],
            confirmed_on_a1: &[],
            reason: replaced,
            record: Some("u1"),
            message: &["uid u1 (unchanged), partnerTenantId t1→t2"],
        },
        Case {
            name: "the provider's confirmation on the override's reseller rebinds its subtree",
            override_to: "own",
            recorded: Some(("own", "u1", "t1")),
            now: Some(("u2", "t2")),
            confirmed_on_a: &["u0", "u2"],
            confirmed_on_a1: &[],
            reason: None,
            record: Some("u2"),
            message: &[],
        },
        Case {
            name: "a confirmation of another uid does not count",
            override_to: "own",
            recorded: Some(("own", "u1", "t1")),
            now: Some(("u2", "t2")),
            confirmed_on_a: &["u3"],
            confirmed_on_a1: &[],
            reason: replaced,
            record: Some("u1"),
            message: &[],
        },
        Case {
            name: "a confirmation on the inheritor does not count: the override is a's",
            override_to: "own",
            recorded: Some(("own", "u1", "t1")),
            now: Some(("u2", "t2")),
            confirmed_on_a: &[],
            confirmed_on_a1: &["u2"],
            reason: replaced,
            record: Some("u1"),
            message: &[],
        },
        Case {
            name: "an override re-pointed by the provider rebinds without confirmation",
            override_to: "own",
            recorded: Some(("old", "u1", "t1")),
            now: Some(("u2", "t2")),
            confirmed_on_a: &[],
            confirmed_on_a1: &[],
            reason: None,
            record: Some("u2"),
            message: &[],
        },
        Case {
            name: "a missing connection keeps the binding",
            override_to: "own",
            recorded: Some(("own", "u1", "t1")),
            now: None,
            confirmed_on_a: &[],
            confirmed_on_a1: &[],
            reason: Some(reasons::CONNECTION_NOT_FOUND),
            record: Some("u1"),
            message: &[],
        },
        Case {
            name: "re-pointed to a missing connection: the old binding is dropped",
            override_to: "own",
            recorded: Some(("old", "u1", "t1")),
            now: None,
            confirmed_on_a: &[],
            confirmed_on_a1: &[],
            reason: Some(reasons::CONNECTION_NOT_FOUND),
            record: None,
            message: &[],
        },
    ];
    for c in cases {
        let bindings: crate::policy::Bindings = c
            .recorded
            .map(|(name, uid, tenant)| (EUR.to_string(), bound("ns-a", name, uid, tenant)))
            .into_iter()
            .collect();
        let a = get(&tree(), "a")
            .with(|r| r.grants.clear())
            .grant_override(EUR, "ns-a", c.override_to)
            .with(|r| {
                r.bindings = bindings;
                r.confirmed_connections = uids(c.confirmed_on_a);
            });
        let a1 = get(&tree(), "a1").with(|r| r.confirmed_connections = uids(c.confirmed_on_a1));
        let mut conns = vec![eur_conn()];
        conns.extend(c.now.map(|(uid, tenant)| conn_id("ns-a", "own", uid, tenant)));
        let e = eval(replace(replace(tree(), a), a1), vec![eur_plan()], conns, &settings());
        for who in ["a", "a1", "a1x"] {
            let p = eff(&e, who, EUR);
            assert_eq!(p.reason.as_deref(), c.reason, "{}: {who}: {:?}", c.name, p.problems);
            assert_eq!(p.usable, c.reason.is_none(), "{}: {who}", c.name);
            assert_eq!(
                p.binding.as_ref().map(|b| b.uid.as_str()),
                c.record,
                "{}: {who}",
                c.name
            );
            assert_eq!(p.connection, Some(cref("ns-a", "own")), "{}: {who}", c.name);
            for m in c.message {
                assert!(
                    p.message.as_ref().unwrap().contains(m),
                    "{}: {who}: {:?}",
                    c.name,
                    p.message
                );
            }
        }
        if c.reason == replaced {
            assert!(
                eff(&e, "a1", EUR)
                    .message
                    .as_ref()
                    .unwrap()
                    .contains("(inherited by 'a1')"),
                "{}",
                c.name
            );
            // The Ready condition carries it too.
            assert_eq!(
                e.resellers["a"].ready.reason,
                reasons::CONNECTION_REPLACED,
                "{}",
                c.name
            );
        }
        // Untouched: b's subtree provisions through the plan's connection.
        assert!(eff(&e, "b1", EUR).usable, "{}", c.name);
    }
}

#[test]
fn a_plans_connection_ref_is_bound_to_the_connection_it_first_resolved_to() {
    // Plan "A1 EUR Direct Production" (named for a1) through ns-a1/own, granted along the path.
    const NAMED: &str = "a1-eur";
    struct Case {
        name: &'static str,
        recorded: Option<(&'static str, &'static str, &'static str)>,
        now: Option<(&'static str, &'static str)>,
        confirmed_on_plan: &'static [&'static str],
        reason: Option<&'static str>,
        record: Option<&'static str>,
        message: &'static [&'static str],
    }
    let replaced = Some(reasons::CONNECTION_REPLACED);
    let cases = [
        Case {
            name: "first resolution binds",
            recorded: None,
            now: Some(("u1", "t1")),
            confirmed_on_plan: &[],
            reason: None,
            record: Some("u1"),
            message: &[],
        },
        Case {
            name: "the same uid stays usable",
            recorded: Some(("own", "u1", "t1")),
            now: Some(("u1", "t1")),
            confirmed_on_plan: &[],
            reason: None,
            record: Some("u1"),
            message: &[],
        },
        Case {
            name: "recreated with another account: the plan and every grant through it refused",
            recorded: Some(("own", "u1", "t1")),
            now: Some(("u2", "t2")),
            confirmed_on_plan: &[],
            reason: replaced,
            record: Some("u1"),
            message: &[
                "PartnerCenterConnection ns-a1/own (named by spec.connectionRef of CustomerPlan 'a1-eur') was replaced: uid u1→u2, partnerTenantId t1→t2",
                "`kubectl annotate cplan a1-eur channel.csp.dev/confirm-connection=u2 --overwrite`",
            ],
        },
        Case {
            name: "confirmed on the plan: rebinds",
            recorded: Some(("own", "u1", "t1")),
            now: Some(("u2", "t2")),
            confirmed_on_plan: &["u2"],
            reason: None,
            record: Some("u2"),
            message: &[],
        },
        Case {
            name: "connectionRef re-pointed by the provider: rebinds",
            recorded: Some(("older", "u1", "t1")),
            now: Some(("u2", "t2")),
            confirmed_on_plan: &[],
            reason: None,
            record: Some("u2"),
            message: &[],
        },
        Case {
            name: "missing connection keeps the binding",
            recorded: Some(("own", "u1", "t1")),
            now: None,
            confirmed_on_plan: &[],
            reason: Some(reasons::CONNECTION_NOT_FOUND),
            record: Some("u1"),
            message: &[],
        },
    ];
    for c in cases {
        let p = PlanFacts {
            binding: c.recorded.map(|(name, uid, tenant)| bound("ns-a1", name, uid, tenant)),
            confirmed_connections: uids(c.confirmed_on_plan),
            ..plan(NAMED, "A1 EUR Direct Production", "ns-a1", "own")
        };
        let rs = vec![
            reseller("provider", None, 0).grant(NAMED),
            reseller("a", Some("provider"), 1).grant(NAMED),
            reseller("a1", Some("a"), 2).grant(NAMED),
        ];
        let mut conns = vec![eur_conn()];
        conns.extend(c.now.map(|(uid, tenant)| conn_id("ns-a1", "own", uid, tenant)));
        let e = eval(rs, vec![p], conns, &settings());
        let pe = &e.plans[NAMED];
        assert_eq!(
            pe.connection_binding.as_ref().map(|b| b.uid.as_str()),
            c.record,
            "{}",
            c.name
        );
        match c.reason {
            None => assert!(pe.ready.is_true(), "{}: {:?}", c.name, pe.ready),
            Some(reason) => {
                assert_eq!(pe.connection_ready.reason, reason, "{}", c.name);
                assert_eq!(pe.ready.reason, reason, "{}", c.name);
            }
        }
        for m in c.message {
            assert!(
                pe.connection_ready.message.contains(m),
                "{}: {}",
                c.name,
                pe.connection_ready.message
            );
        }
        for who in ["provider", "a", "a1"] {
            let ep = eff(&e, who, NAMED);
            assert_eq!(ep.source, ConnectionSource::Plan);
            assert_eq!(ep.reason.as_deref(), c.reason, "{}: {who}", c.name);
            assert_eq!(
                ep.binding.as_ref().map(|b| b.uid.as_str()),
                c.record,
                "{}: {who}",
                c.name
            );
            for m in c.message {
                assert!(ep.message.as_ref().unwrap().contains(m), "{}: {who}", c.name);
            }
        }
    }
}

#[test]
fn confirmations_are_a_comma_separated_list_of_uids() {
    let cases: &[(Option<&str>, &[&str])] = &[
        (None, &[]),
        (Some(""), &[]),
        (Some("u1"), &["u1"]),
        (Some(" u1 , u2,,u1 "), &["u1", "u2"]),
    ];
    for (value, want) in cases {
        assert_eq!(parse_confirmed(*value), uids(want), "{value:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Rule 2: plan ↔ connection

#[test]
fn plan_and_connection_identity_must_match() {
    let cases: &[(&str, &str)] = &[
        ("NZ Direct Production", "region: plan 'EUR', connection 'NZ'"),
        (
            "EUR Indirect Production",
            "cspType: plan Direct, connection IndirectProvider",
        ),
        ("EUR Direct Sandbox", "environment: plan Production, connection Sandbox"),
    ];
    for (identity, text) in cases {
        // Through the plan's own connection.
        let e = eval(
            tree(),
            vec![eur_plan()],
            vec![conn(P, "eur-direct", identity)],
            &settings(),
        );
        assert_eq!(e.plans[EUR].connection_ready.reason, reasons::PLAN_CONNECTION_MISMATCH);
        let p = eff(&e, "a", EUR);
        assert_eq!(
            p.reason.as_deref(),
            Some(reasons::PLAN_CONNECTION_MISMATCH),
            "{identity}"
        );
        let m = p.message.as_ref().unwrap();
        assert!(m.contains(text), "{m}");
        assert!(
            m.contains("spec.connectionRef of CustomerPlan 'eur-direct-prod'"),
            "{m}"
        );

        // Through an override: the plan's connection is fine, the override is not.
        let r = get(&tree(), "a")
            .with(|r| r.grants.clear())
            .grant_override(EUR, "ns-a", "own");
        let e = eval(
            replace(tree(), r),
            vec![eur_plan()],
            vec![eur_conn(), conn("ns-a", "own", identity)],
            &settings(),
        );
        assert!(e.plans[EUR].ready.is_true());
        assert!(eff(&e, "b", EUR).usable);
        for who in ["a", "a1"] {
            let p = eff(&e, who, EUR);
            assert_eq!(
                p.reason.as_deref(),
                Some(reasons::PLAN_CONNECTION_MISMATCH),
                "{who} {identity}"
            );
            let m = p.message.as_ref().unwrap();
            assert!(
                m.contains(text) && m.contains("connectionOverride of Reseller 'a'"),
                "{m}"
            );
        }
    }
}

#[test]
fn an_override_bypasses_a_broken_plan_connection_but_not_a_broken_plan() {
    let r = get(&tree(), "a")
        .with(|r| r.grants.clear())
        .grant_override(EUR, "ns-a", "own");
    let conns = vec![
        conn(P, "eur-direct", "NZ Direct Production"),
        conn("ns-a", "own", "EUR Direct Production"),
    ];
    let e = eval(replace(tree(), r.clone()), vec![eur_plan()], conns.clone(), &settings());
    assert!(!e.plans[EUR].ready.is_true());
    assert!(eff(&e, "a", EUR).usable);
    assert!(!eff(&e, "b", EUR).usable);

    let broken = PlanFacts {
        display_name: "EUR Direct Sandbox".into(),
        ..eur_plan()
    };
    let e = eval(replace(tree(), r), vec![broken], conns, &settings());
    assert_eq!(eff(&e, "a", EUR).reason.as_deref(), Some(reasons::PLAN_NAME_MISMATCH));
}

// ---------------------------------------------------------------------------------------------
// Rule 3 outcome and rule 6 for connections

#[test]
fn connection_health_and_deletion_make_plans_unusable() {
    let cases: &[(ConnectionHealth, bool, &str, Status)] = &[
        (
            ConnectionHealth::NotReady {
                reason: "TenantMismatch".into(),
                message: "the token was issued for another tenant".into(),
            },
            false,
            "TenantMismatch",
            Status::False,
        ),
        (
            ConnectionHealth::NotReady {
                reason: "RefreshTokenReverted".into(),
                message: "restored".into(),
            },
            false,
            "RefreshTokenReverted",
            Status::False,
        ),
        (
            ConnectionHealth::Unknown,
            false,
            reasons::CONNECTION_PENDING,
            Status::Unknown,
        ),
        (ConnectionHealth::Ready, true, reasons::DELETING, Status::False),
    ];
    for (health, ready_health, reason, status) in cases {
        let c = ConnectionFacts {
            health: health.clone(),
            deleting: *ready_health,
            ..eur_conn()
        };
        let e = eval(tree(), vec![eur_plan()], vec![c], &settings());
        let p = eff(&e, "a1", EUR);
        assert!(!p.usable);
        assert_eq!(p.reason.as_deref(), Some(*reason));
        assert!(
            p.message
                .as_ref()
                .unwrap()
                .contains("PartnerCenterConnection pc-system/eur-direct")
        );
        let re = &e.resellers["a1"];
        assert_eq!(re.ready.status, *status, "{reason}");
        assert_eq!(re.ready.reason, *reason);
        assert_eq!(re.plans_valid.status, *status);
        assert!(re.hierarchy_valid.is_true());
        assert_eq!(e.plans[EUR].connection_ready.status, *status);
        assert_eq!(e.plans[EUR].connection_ready.reason, *reason);
    }
}

#[test]
fn a_deleting_override_connection_is_not_used() {
    let r = get(&tree(), "a")
        .with(|r| r.grants.clear())
        .grant_override(EUR, "ns-a", "own");
    let c = ConnectionFacts {
        deleting: true,
        ..conn("ns-a", "own", "EUR Direct Production")
    };
    let e = eval(replace(tree(), r), vec![eur_plan()], vec![eur_conn(), c], &settings());
    let p = eff(&e, "a", EUR);
    assert_eq!(p.reason.as_deref(), Some(reasons::DELETING));
    assert_eq!(
        p.connection,
        Some(cref("ns-a", "own")),
        "no fallback to the plan's connection"
    );
}

// ---------------------------------------------------------------------------------------------
// Rule 7: sandbox isolation

#[test]
fn sandbox_isolation() {
    const SBX: &str = "eur-direct-sbx";
    let plans = vec![eur_plan(), plan(SBX, "EUR Direct Sandbox", P, "eur-sbx")];
    let conns = vec![eur_conn(), conn(P, "eur-sbx", "EUR Direct Sandbox")];
    // (customer type, sandboxOnly, plan, setting makes it an error, expected error, expected warning)
    type Case = (
        CustomerType,
        bool,
        &'static str,
        bool,
        Option<&'static str>,
        Option<&'static str>,
    );
    let cases: &[Case] = &[
        (
            CustomerType::Standard,
            true,
            EUR,
            false,
            Some(reasons::SANDBOX_ONLY_RESELLER),
            None,
        ),
        (
            CustomerType::Test,
            false,
            EUR,
            false,
            Some(reasons::SANDBOX_ONLY_RESELLER),
            None,
        ),
        (
            CustomerType::Demo,
            false,
            EUR,
            false,
            Some(reasons::SANDBOX_ONLY_RESELLER),
            None,
        ),
        (CustomerType::Standard, true, SBX, false, None, None),
        (CustomerType::Test, false, SBX, false, None, None),
        (CustomerType::Demo, false, SBX, true, None, None),
        (
            CustomerType::Standard,
            false,
            SBX,
            false,
            None,
            Some(reasons::SANDBOX_PLAN_FOR_STANDARD_RESELLER),
        ),
        (
            CustomerType::Standard,
            false,
            SBX,
            true,
            Some(reasons::SANDBOX_PLAN_FOR_STANDARD_RESELLER),
            None,
        ),
        (CustomerType::Standard, false, EUR, true, None, None),
    ];
    for (ct, only, plan_name, strict, error, warning) in cases {
        let rs = vec![
            reseller("provider", None, 0).grant(EUR).grant(SBX),
            reseller("t", Some("provider"), 1).grant(plan_name).with(|r| {
                r.customer_type = *ct;
                r.sandbox_only = *only;
            }),
        ];
        let mut s = settings();
        s.sandbox_standard_is_error = *strict;
        let e = eval(rs, plans.clone(), conns.clone(), &s);
        let label = format!("{ct:?} sandboxOnly={only} {plan_name} strict={strict}");
        let p = eff(&e, "t", plan_name);
        assert_eq!(p.reason.as_deref(), *error, "{label}");
        assert_eq!(p.usable, error.is_none(), "{label}");
        assert_eq!(
            reasons_of(&e.resellers["t"].warnings),
            warning.iter().copied().collect::<Vec<_>>(),
            "{label}"
        );
        if *ct == CustomerType::Test && error.is_some() {
            assert!(
                p.message
                    .as_ref()
                    .unwrap()
                    .contains("spec.customerType Test implies sandboxOnly")
            );
        }
        // The root is never warned for holding sandbox plans.
        assert!(e.resellers["provider"].warnings.is_empty(), "{label}");
    }
}

// ---------------------------------------------------------------------------------------------
// Rule 9 and §4: regions

#[test]
fn reseller_region_limits_plans_to_that_region_code() {
    const NZ: &str = "nz-indirect-prod";
    let plans = vec![eur_plan(), plan(NZ, "NZ Indirect Production", P, "nz")];
    let conns = vec![eur_conn(), conn(P, "nz", "NZ Indirect Production")];
    let cases: &[(Option<&str>, &str, Option<&str>)] = &[
        (None, EUR, None),
        (Some("EUR"), EUR, None),
        (Some("NZ"), NZ, None),
        (Some("NZ"), EUR, Some(reasons::PLAN_REGION_NOT_ALLOWED)),
        // Same code required, not containment: DE lies in EUR but is another region.
        (Some("DE"), EUR, Some(reasons::PLAN_REGION_NOT_ALLOWED)),
    ];
    for (region, plan_name, expect) in cases {
        let rs = vec![
            reseller("provider", None, 0).grant(EUR).grant(NZ),
            reseller("r", Some("provider"), 1)
                .grant(plan_name)
                .with(|r| r.region = region.map(Into::into)),
        ];
        let e = eval(rs, plans.clone(), conns.clone(), &settings());
        let p = eff(&e, "r", plan_name);
        assert_eq!(p.reason.as_deref(), *expect, "{region:?} {plan_name}");
        if expect.is_some() {
            assert!(p.message.as_ref().unwrap().contains("spec.region"));
        }
    }
}

#[test]
fn unknown_regions_are_errors_for_resellers_and_plans() {
    let rs = vec![
        reseller("provider", None, 0).grant("xyz"),
        reseller("r", Some("provider"), 1).with(|r| r.region = Some("XYZ".into())),
    ];
    let e = eval(
        rs,
        vec![plan("xyz", "XYZ Direct Production", P, "xyz")],
        vec![conn(P, "xyz", "XYZ Direct Production")],
        &settings(),
    );
    assert_eq!(e.resellers["r"].ready.reason, reasons::UNKNOWN_REGION);
    assert!(e.resellers["r"].hierarchy_valid.is_true());
    assert_eq!(e.plans["xyz"].ready.reason, reasons::UNKNOWN_REGION);
    assert_eq!(
        eff(&e, "provider", "xyz").reason.as_deref(),
        Some(reasons::UNKNOWN_REGION)
    );

    // Configured into the table, the same objects are fine.
    let mut s = settings();
    s.regions = RegionTable::with_overrides(&[("XYZ".to_string(), vec!["NZ".to_string()])].into()).unwrap();
    let rs = vec![reseller("provider", None, 0).grant("xyz")];
    let e = eval(
        rs,
        vec![plan("xyz", "XYZ Direct Production", P, "xyz")],
        vec![conn(P, "xyz", "XYZ Direct Production")],
        &s,
    );
    assert!(e.resellers["provider"].ready.is_true());
}

// ---------------------------------------------------------------------------------------------
// Plan-only rules

#[test]
fn plan_own_rules() {
    let cases: &[(&str, &str, bool, &str)] = &[
        ("eur", "EUR Direct  Production", false, reasons::INVALID_PLAN_NAME),
        ("eur", "EUR Indirect Production", false, reasons::PLAN_NAME_MISMATCH),
        ("eur", "EUR Direct Production", true, reasons::READY),
    ];
    for (name, display, allow, expect) in cases {
        let p = PlanFacts {
            display_name: display.to_string(),
            allow_tenant_creation: *allow,
            ..plan(name, "EUR Direct Production", P, "eur-direct")
        };
        let e = eval(
            vec![reseller("provider", None, 0).grant(name)],
            vec![p],
            vec![eur_conn()],
            &settings(),
        );
        assert_eq!(e.plans[*name].ready.reason, *expect, "{display}");
        assert_eq!(e.plans[*name].connection_ready.reason, reasons::CONNECTION_READY);
        if *expect != reasons::READY {
            assert!(e.plans[*name].ready.message.contains("spec.displayName"));
            assert_eq!(eff(&e, "provider", name).reason.as_deref(), Some(*expect));
        }
    }

    let indirect = PlanFacts {
        allow_tenant_creation: true,
        ..plan("nz", "NZ Indirect Production", P, "nz")
    };
    let e = eval(
        vec![reseller("provider", None, 0).grant("nz")],
        vec![indirect],
        vec![conn(P, "nz", "NZ Indirect Production")],
        &settings(),
    );
    // Tenant creation is allowed for IndirectProvider plans too (product rule 13: on behalf of an
    // indirect reseller); the plan is Ready and usable.
    assert_eq!(e.plans["nz"].ready.reason, reasons::READY);
    assert!(eff(&e, "provider", "nz").usable);
    assert!(eff(&e, "provider", "nz").allow_tenant_creation);
}

#[test]
fn ready_reports_the_first_blocking_reason_and_lists_all() {
    // r has region NZ and is sandbox-only: EUR production plan breaks both rules.
    let rs = vec![
        reseller("provider", None, 0).grant(EUR),
        reseller("r", Some("provider"), 1).grant(EUR).with(|r| {
            r.region = Some("NZ".into());
            r.customer_type = CustomerType::Demo;
        }),
    ];
    let e = eval(rs, vec![eur_plan()], vec![eur_conn()], &settings());
    let re = &e.resellers["r"];
    assert_eq!(
        reasons_of(&re.errors),
        vec![reasons::PLAN_REGION_NOT_ALLOWED, reasons::SANDBOX_ONLY_RESELLER]
    );
    assert_eq!(re.ready.reason, reasons::PLAN_REGION_NOT_ALLOWED);
    assert_eq!(re.ready.status, Status::False);
}

// ---------------------------------------------------------------------------------------------
// Connections: owner and usage

#[test]
fn connection_owner_and_usage() {
    let conns = vec![
        eur_conn(),
        conn("ns-a", "own", "EUR Direct Production"),
        conn("nowhere", "stray", "EUR Direct Production"),
        conn(P, "unused", "EUR Direct Production"),
    ];
    let r = get(&tree(), "a")
        .with(|r| r.grants.clear())
        .grant_override(EUR, "ns-a", "own");
    let e = eval(replace(tree(), r), vec![eur_plan()], conns, &settings());

    let c = &e.connections[&cref(P, "eur-direct")];
    assert_eq!(c.owner, ConnectionOwner::Provider);
    assert_eq!(c.plans, vec![EUR]);
    assert!(c.override_resellers.is_empty());
    // b, b1 and provider.
    assert_eq!(c.effective_resellers, 3);
    assert!(c.in_use());
    assert_eq!(
        c.usage_message(),
        "referenced by spec.connectionRef of CustomerPlans eur-direct-prod"
    );

    let c = &e.connections[&cref("ns-a", "own")];
    assert_eq!(c.owner, ConnectionOwner::Reseller("a".into()));
    assert_eq!(c.override_resellers, vec!["a"]);
    // a, a1, a1x and a2.
    assert_eq!(c.effective_resellers, 4);
    assert!(c.in_use());
    assert!(c.usage_message().contains("connectionOverride of Resellers a"));

    let c = &e.connections[&cref("nowhere", "stray")];
    assert!(!c.owner.is_usable());
    assert_eq!(reasons_of(&c.errors), vec![reasons::CONNECTION_NAMESPACE_NOT_OWNED]);
    assert!(c.errors[0].message.contains("namespace 'nowhere'"));

    let c = &e.connections[&cref(P, "unused")];
    assert!(!c.in_use());
    assert_eq!(c.usage_message(), "not referenced");

    // Single-object evaluation agrees with evaluating everything.
    let snapshot = Snapshot::new(
        replace(
            tree(),
            get(&tree(), "a")
                .with(|r| r.grants.clear())
                .grant_override(EUR, "ns-a", "own"),
        ),
        vec![eur_plan()],
        vec![eur_conn(), conn("ns-a", "own", "EUR Direct Production")],
    );
    let s = settings();
    let ev = Evaluator::new(snapshot, &s);
    let all = ev.evaluate_all();
    assert_eq!(
        ev.connection(&cref("ns-a", "own")).as_ref(),
        all.connections.get(&cref("ns-a", "own"))
    );
    assert_eq!(ev.reseller("a1").as_ref(), all.resellers.get("a1"));
    assert_eq!(ev.plan(EUR).as_ref(), all.plans.get(EUR));
    assert_eq!(ev.reseller("missing"), None);
}

// ---------------------------------------------------------------------------------------------
// Dependents

#[test]
fn dependents_of_each_kind_of_change() {
    const OTHER: &str = "nz";
    const NAMED: &str = "a1-eur";
    let mut rs = tree();
    rs = replace(rs.clone(), get(&rs, "a").grant_override(OTHER, "ns-a", "own"));
    rs = replace(rs.clone(), get(&rs, "provider").grant(OTHER).grant(NAMED));
    rs = replace(rs.clone(), get(&rs, "a1").grant(NAMED));
    let plans = vec![
        eur_plan(),
        plan(OTHER, "NZ Direct Production", P, "nz"),
        plan(NAMED, "A1 EUR Direct Production", "ns-a1", "mine"),
    ];
    let conns = vec![
        eur_conn(),
        conn(P, "nz", "NZ Direct Production"),
        conn("ns-a", "own", "NZ Direct Production"),
        conn("ns-a1", "mine", "EUR Direct Production"),
    ];
    let snapshot = Snapshot::new(rs, plans, conns);
    let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let crefs = |items: &[(&str, &str)]| items.iter().map(|(n, m)| cref(n, m)).collect::<BTreeSet<_>>();

    // Provider connection: the plan through it and every grantee.
    let d = dependents(&snapshot, &ObjectKey::Connection(cref(P, "eur-direct")));
    assert_eq!(d.plans, set(&[EUR]));
    assert_eq!(d.resellers, set(&["provider", "a", "a1", "a1x", "a2", "b", "b1"]));
    assert!(d.connections.is_empty());

    // An override connection: the overriding reseller and its subtree (inheritance).
    let d = dependents(&snapshot, &ObjectKey::Connection(cref("ns-a", "own")));
    assert!(d.plans.is_empty());
    assert_eq!(d.resellers, set(&["a", "a1", "a1x", "a2"]));

    // A plan: its grantees and the connections whose usage it counts in.
    let d = dependents(&snapshot, &ObjectKey::Plan(OTHER.into()));
    assert_eq!(d.resellers, set(&["provider", "a"]));
    assert_eq!(d.connections, crefs(&[(P, "nz"), ("ns-a", "own")]));
    assert!(d.plans.is_empty());

    // A reseller: subtree, its plans, connections in its namespace and those it overrides,
    // plans named for it and their grantees.
    let d = dependents(&snapshot, &ObjectKey::Reseller("a1".into()));
    assert_eq!(d.resellers, set(&["a1x", "provider"]));
    assert_eq!(d.plans, set(&[EUR, NAMED]));
    assert_eq!(d.connections, crefs(&[("ns-a1", "mine")]));

    let d = dependents(&snapshot, &ObjectKey::Reseller("a".into()));
    assert_eq!(d.resellers, set(&["a1", "a1x", "a2"]));
    assert_eq!(d.plans, set(&[EUR, OTHER]));
    assert_eq!(d.connections, crefs(&[("ns-a", "own")]));

    // A deleted reseller (not in the snapshot): its former children by name.
    let d = dependents(&snapshot, &ObjectKey::Reseller("b".into()));
    assert_eq!(d.resellers, set(&["b1"]));
    let mut without_b = snapshot.clone();
    without_b.resellers.remove("b");
    let d = dependents(&without_b, &ObjectKey::Reseller("b".into()));
    assert_eq!(d.resellers, set(&["b1"]));
    assert!(d.plans.is_empty());

    // Duplicates and a second root: the others whose validity may flip are included.
    let mut dup = snapshot.clone();
    let clash = reseller("late", None, 99).with(|r| {
        r.short_name = "B1".into();
        r.namespace = Some("ns-b".into());
    });
    dup.resellers.insert("late".into(), clash.into());
    let d = dependents(&dup, &ObjectKey::Reseller("late".into()));
    assert!(d.resellers.contains("b1") && d.resellers.contains("b") && d.resellers.contains("provider"));
    assert!(!d.resellers.contains("late"));
}

#[test]
fn dependents_survive_cycles() {
    let rs = vec![reseller("x", Some("y"), 1), reseller("y", Some("x"), 2)];
    let snapshot = Snapshot::new(rs, vec![], vec![]);
    let d = dependents(&snapshot, &ObjectKey::Reseller("x".into()));
    assert_eq!(d.resellers, BTreeSet::from(["y".to_string()]));
}

// ---------------------------------------------------------------------------------------------
// Rule 3: verification

#[test]
fn verify_connection_cases() {
    const T: &str = "6a4b5c3d-1111-2222-3333-444455556666";
    const OTHER: &str = "00000000-1111-2222-3333-444455556666";
    let regions = RegionTable::default();
    let declared = |region: &str, t: CspType, e: Environment, auth: AuthMode| DeclaredIdentity {
        tenant_id: T.into(),
        region: region.into(),
        csp_type: t,
        environment: e,
        auth_mode: auth,
    };
    let full = Observed {
        token_tid: T.to_uppercase(),
        org_profile_tenant: Some(T.into()),
        country: Some("de".into()),
        indirect_resellers: ResellerListing::Count(0),
        customer_count: Some(10),
    };
    use AuthMode::*;
    use CspType::*;
    use Environment::*;
    struct Case {
        name: &'static str,
        declared: DeclaredIdentity,
        observed: Observed,
        verified: bool,
        reason: &'static str,
        text: &'static str,
    }
    let cases = vec![
        Case {
            name: "everything checked and agreeing",
            declared: declared("EUR", Direct, Production, AppPlusUser),
            observed: full.clone(),
            verified: true,
            reason: reasons::VERIFIED,
            text: "confirms",
        },
        Case {
            name: "token for another tenant",
            declared: declared("EUR", Direct, Production, AppPlusUser),
            observed: Observed {
                token_tid: OTHER.into(),
                ..full.clone()
            },
            verified: false,
            reason: reasons::TENANT_MISMATCH,
            text: "issued for tenant 00000000",
        },
        Case {
            name: "organization profile of another tenant",
            declared: declared("EUR", Direct, Production, AppPlusUser),
            observed: Observed {
                org_profile_tenant: Some(OTHER.into()),
                ..full.clone()
            },
            verified: false,
            reason: reasons::TENANT_MISMATCH,
            text: "organization profile belongs to tenant",
        },
        Case {
            name: "country outside the region",
            declared: declared("NAM", Direct, Production, AppPlusUser),
            observed: full.clone(),
            verified: false,
            reason: reasons::REGION_MISMATCH,
            text: "country as de, which is not in spec.region 'NAM'",
        },
        Case {
            name: "country region itself",
            declared: declared("DE", Direct, Production, AppPlusUser),
            observed: full.clone(),
            verified: true,
            reason: reasons::VERIFIED,
            text: "",
        },
        Case {
            name: "unknown region",
            declared: declared("XYZ", Direct, Production, AppPlusUser),
            observed: full.clone(),
            verified: false,
            reason: reasons::UNKNOWN_REGION,
            text: "not in the operator's region table",
        },
        Case {
            name: "direct with indirect resellers",
            declared: declared("EUR", Direct, Production, AppPlusUser),
            observed: Observed {
                indirect_resellers: ResellerListing::Count(3),
                ..full.clone()
            },
            verified: false,
            reason: reasons::TYPE_MISMATCH,
            text: "lists 3 indirect resellers",
        },
        Case {
            name: "indirect provider that may not list resellers",
            declared: declared("EUR", IndirectProvider, Production, AppPlusUser),
            observed: Observed {
                indirect_resellers: ResellerListing::Denied,
                ..full.clone()
            },
            verified: false,
            reason: reasons::TYPE_MISMATCH,
            text: "refuses to list indirect resellers",
        },
        Case {
            name: "indirect provider listing resellers",
            declared: declared("EUR", IndirectProvider, Production, AppPlusUser),
            observed: Observed {
                indirect_resellers: ResellerListing::Count(4),
                ..full.clone()
            },
            verified: true,
            reason: reasons::VERIFIED,
            text: "",
        },
        Case {
            name: "sandbox above the quota",
            declared: declared("EUR", Direct, Sandbox, AppPlusUser),
            observed: Observed {
                customer_count: Some(76),
                ..full.clone()
            },
            verified: false,
            reason: reasons::SANDBOX_QUOTA_EXCEEDED,
            text: "76 customers, more than a sandbox may hold (75)",
        },
        Case {
            name: "sandbox at the quota",
            declared: declared("EUR", Direct, Sandbox, AppPlusUser),
            observed: Observed {
                customer_count: Some(75),
                ..full.clone()
            },
            verified: true,
            reason: reasons::VERIFIED,
            text: "",
        },
        Case {
            name: "production with many customers",
            declared: declared("EUR", Direct, Production, AppPlusUser),
            observed: Observed {
                customer_count: Some(5000),
                ..full.clone()
            },
            verified: true,
            reason: reasons::VERIFIED,
            text: "",
        },
        Case {
            name: "app-only indirect provider: profile, country and resellers unchecked",
            declared: declared("EUR", IndirectProvider, Sandbox, AppOnly),
            observed: Observed {
                org_profile_tenant: None,
                country: None,
                indirect_resellers: ResellerListing::Denied,
                customer_count: Some(3),
                ..full.clone()
            },
            verified: true,
            reason: reasons::PARTIALLY_VERIFIED,
            text: "not checked: organization profile tenant (needs AppPlusUser), partner country (needs AppPlusUser), indirect reseller relationships (listing them needs AppPlusUser)",
        },
        Case {
            name: "sandbox whose customers could not be counted",
            declared: declared("EUR", Direct, Sandbox, AppPlusUser),
            observed: Observed {
                customer_count: None,
                indirect_resellers: ResellerListing::NotChecked,
                ..full.clone()
            },
            verified: true,
            reason: reasons::PARTIALLY_VERIFIED,
            text: "indirect reseller relationships (could not be listed), customer count (sandbox quota)",
        },
        Case {
            name: "several contradictions: first reason, every message",
            declared: declared("NAM", Direct, Sandbox, AppPlusUser),
            observed: Observed {
                token_tid: OTHER.into(),
                customer_count: Some(100),
                ..full.clone()
            },
            verified: false,
            reason: reasons::TENANT_MISMATCH,
            text: "more than a sandbox may hold",
        },
    ];
    for c in cases {
        let v = verify_connection(&c.declared, &c.observed, &regions);
        assert_eq!(v.verified, c.verified, "{}: {v:?}", c.name);
        assert_eq!(v.reason, c.reason, "{}: {v:?}", c.name);
        assert!(v.message.contains(c.text), "{}: {}", c.name, v.message);
        assert_eq!(
            v.unchecked.is_empty(),
            c.reason != reasons::PARTIALLY_VERIFIED,
            "{}",
            c.name
        );
    }
}

#[test]
fn a_definite_failure_outranks_a_pending_connection() {
    const NZ: &str = "nz-direct-prod";
    let rs = vec![
        reseller("provider", None, 0).grant(EUR).grant(NZ),
        reseller("r", Some("provider"), 1)
            .grant(EUR)
            .grant(NZ)
            .with(|r| r.region = Some("NZ".into())),
    ];
    let pending = ConnectionFacts {
        health: ConnectionHealth::Unknown,
        ..conn(P, "nz", "NZ Direct Production")
    };
    let e = eval(
        rs,
        vec![eur_plan(), plan(NZ, "NZ Direct Production", P, "nz")],
        vec![eur_conn(), pending],
        &settings(),
    );
    // r: EUR breaks the region rule (definite), NZ waits for its connection (pending).
    let r = &e.resellers["r"];
    assert_eq!(
        reasons_of(&r.errors),
        vec![reasons::PLAN_REGION_NOT_ALLOWED, reasons::CONNECTION_PENDING]
    );
    assert_eq!(r.ready.status, Status::False);
    assert_eq!(r.ready.reason, reasons::PLAN_REGION_NOT_ALLOWED);
    // provider: only the pending one → Unknown, not False.
    let root = &e.resellers["provider"];
    assert_eq!(root.ready.status, Status::Unknown);
    assert_eq!(root.ready.reason, reasons::CONNECTION_PENDING);
    assert_eq!(root.plans_valid.status, Status::Unknown);
    assert!(eff(&e, "provider", EUR).usable);
}

#[test]
fn references_to_nothing_suggest_the_closest_name() {
    // (parent named, plan granted, whether the parent message suggests 'provider', the plan message 'eur-direct-prod')
    let cases = [
        ("provder", "eur-direct-prd", true, true),
        ("elsewhere", "nz-something", false, false),
    ];
    for (parent, plan, parent_hint, plan_hint) in cases {
        let rs = vec![
            reseller("provider", None, 0),
            reseller("typo", Some(parent), 1),
            reseller("a", Some("provider"), 2).with(|r| {
                r.grants = vec![GrantFacts {
                    plan: plan.into(),
                    connection_override: None,
                }]
            }),
        ];
        let e = eval(rs, vec![eur_plan()], vec![eur_conn()], &settings());
        let h = &e.resellers["typo"].hierarchy_valid;
        assert_eq!(h.reason, reasons::PARENT_NOT_FOUND);
        assert_eq!(
            h.message.contains("(did you mean 'provider'?)"),
            parent_hint,
            "{}",
            h.message
        );
        let p = eff(&e, "a", plan);
        assert_eq!(p.reason.as_deref(), Some(reasons::PLAN_NOT_FOUND));
        let m = p.message.as_deref().unwrap_or_default();
        assert_eq!(m.contains(&format!("(did you mean '{EUR}'?)")), plan_hint, "{m}");
    }
}

#[test]
fn a_name_that_disagrees_is_refused_with_the_name_the_fields_give() {
    // (display name, expected name in the message)
    let cases = [
        ("EUR Indirect Production", "'EUR Direct Production'"),
        ("EUR Direct Sandbox", "'EUR Direct Production'"),
        ("CSO NZ Direct Production", "'CSO EUR Direct Production'"),
    ];
    for (display, want) in cases {
        let p = PlanFacts {
            display_name: display.to_string(),
            ..plan("eur", "EUR Direct Production", P, "eur-direct")
        };
        let e = eval(
            vec![reseller("provider", None, 0).grant("eur")],
            vec![p],
            vec![eur_conn()],
            &settings(),
        );
        let ready = &e.plans["eur"].ready;
        assert_eq!(ready.reason, reasons::PLAN_NAME_MISMATCH, "{display}");
        assert!(
            ready.message.contains(&format!("(the name those fields give: {want})")),
            "{display}: {}",
            ready.message
        );
    }
}
