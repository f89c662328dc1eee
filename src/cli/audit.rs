//! `audit`: what Partner Center holds versus what is declared, per connection, in detail: the
//! counts the operator published in `status.inventory`, each Customer pinned to the connection
//! whose `Observed` condition is False (TenantGone, WrongReseller, CountryOutsideRegion: reason and
//! message, from the cluster), and with `--live` the undeclared customers themselves, listed
//! through the connection's own credentials (the client `check --connection` builds,
//! src/cli/check.rs; the listing `import` uses, src/cli/import.rs).
//!
//! It reads with the caller's kubeconfig. What the caller may not read is shown (403) instead of
//! failing, as `trace` does: a reseller's admin sees the Customers of its namespace, their
//! findings and its own connections. Exit code 0; with `--fail-on-findings`, 1 when there are
//! findings (for CI).

use clap::{Args, ValueEnum};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{Api, Client, ResourceExt};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::check::connection_client;
use super::import::{declared_by, declared_indirect_resellers, list_account, one_line};
use super::trace::{Fetched, get, list, namespaced};
use crate::api::conditions::{find_condition, types};
use crate::api::{Customer, Inventory, PartnerCenterConnection, Reseller};
use crate::policy::import::undeclared;

/// The Customer condition the connection sync sets from what Partner Center lists.
pub const OBSERVED: &str = "Observed";

#[derive(Args, Clone, Debug)]
pub struct AuditArgs {
    /// One connection, NAMESPACE/NAME.
    #[arg(long, conflicts_with_all = ["all", "namespace"])]
    pub connection: Option<String>,
    /// Every connection and Customer you may read, in all namespaces (the default).
    #[arg(long, conflicts_with = "namespace")]
    pub all: bool,
    /// The connections and Customers of one namespace (a reseller's admin: its own).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Also list the undeclared customers, through each connection's credentials (its Secret must
    /// be readable by you); one listing of the account per connection.
    #[arg(long)]
    pub live: bool,
    /// Exit code 1 when there are findings (for CI).
    #[arg(long)]
    pub fail_on_findings: bool,
    /// Output: `table` (default) or `json`.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// What audit found, printable as a table or JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub connections: Vec<ConnectionAudit>,
    /// What could not be read (403 and other refusals), as the API server said it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
    /// Findings in all: Customers not as declared and undeclared customers.
    pub findings: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionAudit {
    pub namespace: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why the connection itself could not be read (its Customers are still shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Inventory>,
    /// Customers pinned to the connection whose Observed condition is False.
    pub not_as_declared: Vec<CustomerFinding>,
    /// With --live: the undeclared customers Partner Center lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undeclared: Option<Vec<UndeclaredCustomer>>,
    /// With --live: why they could not be listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_error: Option<String>,
    pub findings: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerFinding {
    /// NAMESPACE/NAME of the Customer.
    pub customer: String,
    pub reason: String,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UndeclaredCustomer {
    pub tenant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// The indirect reseller (tenant id) it is associated with, when a Reseller declares it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indirect_reseller: Option<String>,
    /// That Reseller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reseller: Option<String>,
}

/// The Observed finding of a Customer: its condition, when False.
fn observed_false(conditions: &[Condition]) -> Option<&Condition> {
    find_condition(conditions, OBSERVED).filter(|c| c.status == "False")
}

/// `ns/name` of the connection a Customer is pinned to.
fn pinned(c: &Customer) -> Option<(String, String)> {
    let r = c.status.as_ref()?.connection.as_ref()?;
    Some((r.namespace.clone(), r.name.clone()))
}

/// One entry per connection (the listed ones, and those Customers are pinned to), with the
/// Customers' findings; sorted by namespace and name. Pure, for the table tests.
pub fn group(connections: &[PartnerCenterConnection], customers: &[Customer]) -> Vec<ConnectionAudit> {
    let mut by: BTreeMap<(String, String), ConnectionAudit> = BTreeMap::new();
    for conn in connections {
        let key = (conn.namespace().unwrap_or_default(), conn.name_any());
        let ready = conn
            .status
            .as_ref()
            .and_then(|s| find_condition(&s.conditions, types::READY));
        by.insert(
            key.clone(),
            ConnectionAudit {
                namespace: key.0,
                name: key.1,
                ready: ready.map(|c| c.status.clone()),
                reason: ready.map(|c| c.reason.clone()),
                inventory: conn.status.as_ref().and_then(|s| s.inventory.clone()),
                ..ConnectionAudit::default()
            },
        );
    }
    let mut sorted: Vec<&Customer> = customers.iter().collect();
    sorted.sort_by_key(|c| (c.namespace(), c.name_any()));
    for c in sorted {
        let Some(key) = pinned(c) else { continue };
        let entry = by.entry(key.clone()).or_insert_with(|| ConnectionAudit {
            namespace: key.0,
            name: key.1,
            ..ConnectionAudit::default()
        });
        let conditions = c.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
        if let Some(cond) = observed_false(conditions) {
            entry.not_as_declared.push(CustomerFinding {
                customer: format!("{}/{}", c.namespace().unwrap_or_default(), c.name_any()),
                reason: cond.reason.clone(),
                message: cond.message.clone(),
            });
        }
    }
    by.into_values().collect()
}

/// Counts an entry's findings: its Customers not as declared (or the inventory's counts of them,
/// when the caller cannot read them all) and its undeclared customers (the live list, else the
/// inventory's count).
pub fn count_findings(a: &ConnectionAudit) -> u64 {
    let inv = a.inventory.clone().unwrap_or_default();
    let counted = [inv.missing, inv.outside_region, inv.wrong_reseller]
        .iter()
        .map(|n| u64::try_from(*n).unwrap_or(0))
        .fold(0u64, u64::saturating_add);
    let observed = (a.not_as_declared.len() as u64).max(counted);
    let undeclared = match &a.undeclared {
        Some(list) => list.len() as u64,
        None => u64::try_from(inv.undeclared).unwrap_or(0),
    };
    observed.saturating_add(undeclared)
}

fn why<T>(fetched: &Fetched<T>, what: &str) -> Option<String> {
    match fetched {
        Fetched::Found(_) => None,
        Fetched::Missing => Some(format!("{what}: not found")),
        Fetched::Denied(m) => Some(format!("forbidden: you may not read {what} ({m})")),
        Fetched::Failed(m) => Some(format!("could not read {what}: {m}")),
    }
}

pub async fn run(args: AuditArgs) -> anyhow::Result<i32> {
    crate::tls::install_crypto_provider();
    let client = Client::try_default()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach the Kubernetes API (kubeconfig): {e}"))?;
    let report = audit(&client, &args).await?;
    match args.output {
        Format::Table => print!("{}", table(&report)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(if args.fail_on_findings && report.findings > 0 {
        1
    } else {
        0
    })
}

pub async fn audit(client: &Client, args: &AuditArgs) -> anyhow::Result<Report> {
    let mut unreadable = Vec::new();
    let (connections, customers_scope): (Vec<PartnerCenterConnection>, Option<String>) =
        match (&args.connection, &args.namespace) {
            (Some(reference), _) => {
                let (ns, name) = namespaced(reference, "--connection")?;
                let got = get(&Api::<PartnerCenterConnection>::namespaced(client.clone(), &ns), &name).await;
                unreadable.extend(why(&got, &format!("PartnerCenterConnection {ns}/{name}")));
                let found = match got {
                    Fetched::Found(c) => vec![c],
                    _ => Vec::new(),
                };
                (found, Some(ns))
            }
            (None, Some(ns)) => {
                let got = list(&Api::<PartnerCenterConnection>::namespaced(client.clone(), ns)).await;
                unreadable.extend(why(&got, &format!("the PartnerCenterConnections of namespace {ns}")));
                (
                    if let Fetched::Found(v) = got { v } else { Vec::new() },
                    Some(ns.clone()),
                )
            }
            (None, None) => {
                let got = list(&Api::<PartnerCenterConnection>::all(client.clone())).await;
                unreadable.extend(why(&got, "the PartnerCenterConnections of all namespaces"));
                if matches!(got, Fetched::Denied(_)) {
                    unreadable.push("a reseller's admin: audit -n <your namespace>".into());
                }
                (if let Fetched::Found(v) = got { v } else { Vec::new() }, None)
            }
        };
    // Customers: everywhere the caller may read them; for one connection, all namespaces first
    // (the provider's Customers pinned to a reseller's connection), else its namespace.
    let customers: Vec<Customer> = match (&args.connection, &customers_scope) {
        (None, Some(ns)) => {
            let got = list(&Api::<Customer>::namespaced(client.clone(), ns)).await;
            unreadable.extend(why(&got, &format!("the Customers of namespace {ns}")));
            if let Fetched::Found(v) = got { v } else { Vec::new() }
        }
        (connection, scope) => {
            let got = list(&Api::<Customer>::all(client.clone())).await;
            match (got, scope) {
                (Fetched::Found(v), _) => v,
                (Fetched::Denied(_), Some(ns)) if connection.is_some() => {
                    let got = list(&Api::<Customer>::namespaced(client.clone(), ns)).await;
                    unreadable.extend(why(&got, &format!("the Customers of namespace {ns}")));
                    if let Fetched::Found(v) = got { v } else { Vec::new() }
                }
                (other, _) => {
                    unreadable.extend(why(&other, "the Customers of all namespaces"));
                    Vec::new()
                }
            }
        }
    };
    let customers: Vec<Customer> = match &args.connection {
        Some(reference) => customers
            .into_iter()
            .filter(|c| pinned(c).is_some_and(|(ns, name)| format!("{ns}/{name}") == *reference))
            .collect(),
        None => customers,
    };
    let mut entries = group(&connections, &customers);
    // Connections that Customers are pinned to but were not listed: say why.
    for e in entries.iter_mut() {
        let listed = connections
            .iter()
            .any(|c| c.namespace().as_deref() == Some(e.namespace.as_str()) && c.name_any() == e.name);
        if !listed {
            let api = Api::<PartnerCenterConnection>::namespaced(client.clone(), &e.namespace);
            let got = get(&api, &e.name).await;
            e.unreadable = why(&got, &format!("PartnerCenterConnection {}/{}", e.namespace, e.name));
            if let Fetched::Found(c) = got {
                let ready = c
                    .status
                    .as_ref()
                    .and_then(|s| find_condition(&s.conditions, types::READY));
                e.ready = ready.map(|c| c.status.clone());
                e.reason = ready.map(|c| c.reason.clone());
                e.inventory = c.status.as_ref().and_then(|s| s.inventory.clone());
            }
        }
    }
    if args.live {
        let resellers: Vec<Reseller> = match list(&Api::<Reseller>::all(client.clone())).await {
            Fetched::Found(v) => v,
            other => {
                unreadable.extend(why(&other, "every Reseller (indirect resellers are not shown)"));
                Vec::new()
            }
        };
        let declared = declared_by(&customers);
        for e in entries.iter_mut() {
            let Some(conn) = connections
                .iter()
                .find(|c| c.namespace().as_deref() == Some(e.namespace.as_str()) && c.name_any() == e.name)
            else {
                continue;
            };
            match live_account(conn, &resellers).await {
                Ok(account) => {
                    let names: BTreeMap<String, String> = resellers
                        .iter()
                        .filter_map(|r| {
                            Some((
                                r.spec.indirect_reseller.as_ref()?.tenant_id.to_ascii_lowercase(),
                                r.name_any(),
                            ))
                        })
                        .collect();
                    e.undeclared = Some(
                        undeclared(&account, &declared)
                            .into_iter()
                            .map(|c| UndeclaredCustomer {
                                reseller: c.associated_partner_id.as_ref().and_then(|a| names.get(a).cloned()),
                                tenant_id: c.tenant_id,
                                domain: c.domain,
                                company: c.company,
                                indirect_reseller: c.associated_partner_id,
                            })
                            .collect(),
                    );
                }
                Err(err) => e.live_error = Some(one_line(&format!("{err:#}"))),
            }
        }
    }
    let mut findings = 0u64;
    for e in entries.iter_mut() {
        e.findings = count_findings(e);
        findings = findings.saturating_add(e.findings);
    }
    Ok(Report {
        connections: entries,
        unreadable,
        findings,
    })
}

/// Every customer the connection's account lists, through its own credentials.
async fn live_account(
    conn: &PartnerCenterConnection,
    resellers: &[Reseller],
) -> anyhow::Result<Vec<crate::policy::import::ListedCustomer>> {
    let pc = connection_client(conn).await?;
    list_account(&pc, &declared_indirect_resellers(conn, resellers)).await
}

/// The report as text: per connection its inventory, its Customers not as declared, and (live)
/// its undeclared customers; then what could not be read.
pub fn table(r: &Report) -> String {
    let mut out = String::new();
    for c in &r.connections {
        let state = match (&c.ready, &c.reason) {
            (Some(s), Some(reason)) => format!("  Ready={s} {reason}"),
            _ => String::new(),
        };
        let _ = writeln!(out, "PartnerCenterConnection {}/{}{state}", c.namespace, c.name);
        if let Some(u) = &c.unreadable {
            let _ = writeln!(out, "  ! {u}");
        }
        match &c.inventory {
            Some(i) => {
                let _ = writeln!(
                    out,
                    "  inventory: customers {}, declared {}, undeclared {}, missing {}, outsideRegion {}, \
                     wrongReseller {}, detailsPending {}",
                    i.customers,
                    i.declared,
                    i.undeclared,
                    i.missing,
                    i.outside_region,
                    i.wrong_reseller,
                    i.details_pending
                );
            }
            None if c.unreadable.is_none() => {
                let _ = writeln!(
                    out,
                    "  inventory: not published yet (the operator fills it at each sync)"
                );
            }
            None => {}
        }
        if c.not_as_declared.is_empty() {
            let _ = writeln!(out, "  not as declared: none");
        } else {
            let _ = writeln!(out, "  not as declared ({}):", c.not_as_declared.len());
            let width = c.not_as_declared.iter().map(|f| f.customer.len()).max().unwrap_or(0);
            for f in &c.not_as_declared {
                let _ = writeln!(out, "    {:width$}  {}: {}", f.customer, f.reason, f.message);
            }
        }
        match (&c.undeclared, &c.live_error) {
            (_, Some(err)) => {
                let _ = writeln!(out, "  undeclared: not listed: {err}");
            }
            (Some(list), None) if list.is_empty() => {
                let _ = writeln!(out, "  undeclared: none (listed through the connection)");
            }
            (Some(list), None) => {
                let _ = writeln!(
                    out,
                    "  undeclared ({}, listed through the connection; import --connection {}/{} writes their manifests):",
                    list.len(),
                    c.namespace,
                    c.name
                );
                let rows: Vec<[String; 4]> = list
                    .iter()
                    .map(|u| {
                        [
                            u.tenant_id.clone(),
                            u.domain.clone().unwrap_or_else(|| "-".into()),
                            u.company.clone().unwrap_or_else(|| "-".into()),
                            match (&u.indirect_reseller, &u.reseller) {
                                (Some(t), Some(r)) => format!("{t} (Reseller {r})"),
                                (Some(t), None) => t.clone(),
                                _ => "-".into(),
                            },
                        ]
                    })
                    .collect();
                let head = ["TENANT", "DOMAIN", "COMPANY", "INDIRECT RESELLER"];
                let w: Vec<usize> = (0..4)
                    .map(|i| {
                        rows.iter()
                            .map(|r| r[i].chars().count())
                            .chain([head[i].len()])
                            .max()
                            .unwrap_or(0)
                    })
                    .collect();
                let line = |cells: [&str; 4]| {
                    format!(
                        "    {:w0$}  {:w1$}  {:w2$}  {}",
                        cells[0],
                        cells[1],
                        cells[2],
                        cells[3],
                        w0 = w[0],
                        w1 = w[1],
                        w2 = w[2]
                    )
                };
                let _ = writeln!(out, "{}", line(head).trim_end());
                for r in &rows {
                    let _ = writeln!(out, "{}", line([&r[0], &r[1], &r[2], &r[3]]).trim_end());
                }
            }
            (None, None) if c.inventory.as_ref().is_some_and(|i| i.undeclared > 0) => {
                let _ = writeln!(out, "  undeclared: see the inventory count (--live lists them)");
            }
            (None, None) => {}
        }
    }
    if r.connections.is_empty() {
        let _ = writeln!(out, "no connection or Customer readable");
    }
    for u in &r.unreadable {
        let _ = writeln!(out, "! {u}");
    }
    let _ = writeln!(out, "findings: {}", r.findings);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn customer(ns: &str, name: &str, conn: Option<&str>, observed: Option<(&str, &str)>) -> Customer {
        let mut status = json!({});
        if let Some(c) = conn {
            let (cns, cname) = c.split_once('/').unwrap();
            status["connection"] = json!({"namespace": cns, "name": cname});
        }
        if let Some((s, reason)) = observed {
            status["conditions"] = json!([{"type": "Observed", "status": s, "reason": reason,
                "message": format!("m-{name}"), "lastTransitionTime": "2026-01-01T00:00:00Z"}]);
        }
        serde_json::from_value(json!({
            "apiVersion": "channel.csp.dev/v1alpha1", "kind": "Customer",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"plan": "p", "tenant": {"existing": {"domain": "x.onmicrosoft.com"}}},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn audit_groups_findings_by_pinned_connection() {
        let customers = [
            customer("b", "z", Some("csp/nz"), Some(("False", "WrongReseller"))),
            customer("a", "y", Some("csp/nz"), Some(("True", "Observed"))),
            customer("a", "x", Some("csp/nz"), Some(("False", "TenantGone"))),
            customer("r", "w", Some("r/own"), Some(("False", "CountryOutsideRegion"))),
            customer("a", "v", None, Some(("False", "TenantGone"))),
        ];
        let got: Vec<(String, Vec<String>)> = group(&[], &customers)
            .into_iter()
            .map(|e| {
                (
                    format!("{}/{}", e.namespace, e.name),
                    e.not_as_declared
                        .iter()
                        .map(|f| format!("{} {}", f.customer, f.reason))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "csp/nz".to_string(),
                    vec!["a/x TenantGone".to_string(), "b/z WrongReseller".to_string()]
                ),
                ("r/own".to_string(), vec!["r/w CountryOutsideRegion".to_string()]),
            ]
        );
    }

    #[test]
    fn audit_findings_count() {
        let inv = |undeclared, wrong| Inventory {
            customers: 10,
            undeclared,
            wrong_reseller: wrong,
            ..Inventory::default()
        };
        let finding = CustomerFinding::default();
        // (inventory, customers not as declared, live undeclared, findings)
        let cases: Vec<(Option<Inventory>, usize, Option<usize>, u64)> = vec![
            (None, 0, None, 0),
            (Some(inv(0, 0)), 0, None, 0),
            (Some(inv(3, 0)), 0, None, 3),
            (Some(inv(3, 2)), 1, None, 5),
            (Some(inv(3, 0)), 1, Some(2), 3),
            (Some(inv(-4, 0)), 0, None, 0),
        ];
        for (inventory, observed, live, want) in cases {
            let a = ConnectionAudit {
                inventory: inventory.clone(),
                not_as_declared: vec![finding.clone(); observed],
                undeclared: live.map(|n| vec![UndeclaredCustomer::default(); n]),
                ..ConnectionAudit::default()
            };
            assert_eq!(count_findings(&a), want, "{inventory:?} {observed} {live:?}");
        }
    }
}
