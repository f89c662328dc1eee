//! Where an undeclared customer of a connection belongs, for `import` (src/cli/import.rs): which
//! customers are undeclared, the Reseller and namespace each goes to, its plan when one can be
//! derived, and a manifest name (a DNS-1123 label from the company or domain, unique, stable).
//! Pure: the tool gathers the facts from the cluster and Partner Center and prints what this decides.

use std::collections::{BTreeMap, BTreeSet};

/// A customer Partner Center lists through the connection (values from the network, clamped by
/// the caller's client; names and domains are sanitised again before they reach a comment).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListedCustomer {
    pub tenant_id: String,
    pub domain: Option<String>,
    pub company: Option<String>,
    /// The indirect reseller (tenant id) the customer is associated with, when known.
    pub associated_partner_id: Option<String>,
}

/// What the Customers of the cluster already declare: a tenant is declared when some Customer's
/// `status.tenantId` or `spec.tenant.existing` (tenant id or domain) names it.
#[derive(Clone, Debug, Default)]
pub struct Declared {
    pub tenant_ids: BTreeSet<String>,
    pub domains: BTreeSet<String>,
}

impl Declared {
    pub fn add_tenant_id(&mut self, id: &str) {
        self.tenant_ids.insert(id.trim().to_ascii_lowercase());
    }
    pub fn add_domain(&mut self, domain: &str) {
        self.domains.insert(domain.trim().to_ascii_lowercase());
    }
    pub fn declares(&self, c: &ListedCustomer) -> bool {
        self.tenant_ids.contains(&c.tenant_id.to_ascii_lowercase())
            || c.domain
                .as_deref()
                .is_some_and(|d| self.domains.contains(&d.to_ascii_lowercase()))
    }
}

/// The listed customers no Customer declares, in tenant-id order (the output's stable order).
pub fn undeclared(listed: &[ListedCustomer], declared: &Declared) -> Vec<ListedCustomer> {
    let mut out: Vec<ListedCustomer> = listed.iter().filter(|c| !declared.declares(c)).cloned().collect();
    out.sort_by_key(|c| c.tenant_id.to_ascii_lowercase());
    out.dedup_by(|a, b| a.tenant_id.eq_ignore_ascii_case(&b.tenant_id));
    out
}

/// A Reseller as import needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResellerInfo {
    pub name: String,
    pub parent: Option<String>,
    pub namespace: Option<String>,
    /// `spec.indirectReseller.tenantId`, when the Reseller is a Microsoft indirect reseller.
    pub indirect_reseller: Option<String>,
    /// Its granted plans whose effective connection (status.effectivePlans) is the imported one.
    pub plans_through_connection: Vec<String>,
}

/// One row of a mapping file: a customer (by tenant id or domain) and the Reseller it belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MappingRow {
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub domain: Option<String>,
    pub reseller: String,
    /// The plan, when the reseller's cannot be derived (or another one is wanted).
    #[serde(default)]
    pub plan: Option<String>,
}

/// A mapping file: `mappings:` rows (examples/import-mapping.yaml).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    #[serde(default)]
    pub mappings: Vec<MappingRow>,
}

/// Refuses a mapping whose rows cannot be applied, naming the row's field and the fix.
pub fn validate_mapping(mapping: &Mapping, resellers: &[ResellerInfo]) -> Result<(), Vec<String>> {
    let names: Vec<&str> = resellers.iter().map(|r| r.name.as_str()).collect();
    let mut problems = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, row) in mapping.mappings.iter().enumerate() {
        let at = format!("mappings[{i}]");
        let key = match (row.tenant_id.as_deref(), row.domain.as_deref()) {
            (Some(t), None) if uuid::Uuid::parse_str(t.trim()).is_ok() => t.trim().to_ascii_lowercase(),
            (Some(t), None) => {
                problems.push(format!(
                    "{at}.tenantId: {t:?} is not a tenant id (a GUID); write the customer's Entra tenant id, or use domain"
                ));
                continue;
            }
            (None, Some(d)) if !d.trim().is_empty() => d.trim().to_ascii_lowercase(),
            _ => {
                problems.push(format!(
                    "{at}: give exactly one of tenantId or domain (the customer the row maps)"
                ));
                continue;
            }
        };
        if let Some(first) = seen.insert(key.clone(), i) {
            problems.push(format!(
                "{at}: {key} is already mapped by mappings[{first}]; keep one row per customer"
            ));
        }
        if let Some(plan) = &row.plan
            && !is_object_name(plan)
        {
            problems.push(format!(
                "{at}.plan: {plan:?} is not a CustomerPlan name (lower-case letters, digits, '-' and '.'); write the plan's metadata.name"
            ));
        }
        if !names.contains(&row.reseller.as_str()) {
            problems.push(format!(
                "{at}.reseller: no Reseller {:?}{}",
                row.reseller,
                crate::policy::suggest::did_you_mean(&row.reseller, names.iter().copied())
            ));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// A Kubernetes object name (DNS-1123 subdomain): what may go into a manifest unquoted.
pub fn is_object_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// Why a customer goes to its Reseller (said in the manifest's comment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Row `index` of the mapping file.
    Mapping(usize),
    /// Associated in Partner Center with the indirect reseller that this Reseller declares.
    IndirectReseller(String),
    /// Neither: the root reseller. `associated` is an indirect reseller no Reseller declares.
    Root { associated: Option<String> },
}

/// What import writes for one customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub customer: ListedCustomer,
    pub name: String,
    pub namespace: String,
    pub reseller: String,
    pub placement: Placement,
    /// `None`: no plan could be derived; the manifest carries a TODO saying why.
    pub plan: Option<String>,
    /// Why there is no plan, or a note about the one chosen.
    pub plan_note: Option<String>,
}

/// The rest of import's input.
#[derive(Clone, Debug)]
pub struct ImportContext<'a> {
    pub resellers: &'a [ResellerInfo],
    pub mapping: &'a Mapping,
    /// `--plan`: for customers whose reseller's plan cannot be derived.
    pub plan: Option<&'a str>,
    /// The provider namespace (the root's when it declares none).
    pub provider_namespace: &'a str,
    /// Customers already in the cluster: (namespace, name), so new names do not collide.
    pub existing_names: &'a BTreeSet<(String, String)>,
}

/// The namespace a reseller's Customers live in: its own `spec.namespace`, else its nearest
/// ancestor's, else the provider namespace (the root's).
pub fn namespace_of(reseller: &str, resellers: &[ResellerInfo], provider_namespace: &str) -> String {
    let by_name: BTreeMap<&str, &ResellerInfo> = resellers.iter().map(|r| (r.name.as_str(), r)).collect();
    let mut seen = BTreeSet::new();
    let mut cur = by_name.get(reseller).copied();
    while let Some(r) = cur {
        if !seen.insert(r.name.as_str()) {
            break;
        }
        if let Some(ns) = &r.namespace {
            return ns.clone();
        }
        cur = r.parent.as_deref().and_then(|p| by_name.get(p).copied());
    }
    provider_namespace.to_string()
}

/// The root reseller (the one without a parent), when exactly one is known.
pub fn root_of(resellers: &[ResellerInfo]) -> Result<&ResellerInfo, String> {
    let roots: Vec<&ResellerInfo> = resellers.iter().filter(|r| r.parent.is_none()).collect();
    match roots.as_slice() {
        [one] => Ok(one),
        [] => Err("no root Reseller (one without spec.parent) is readable: map every customer in --mapping".into()),
        many => Err(format!(
            "several Resellers without spec.parent ({}): fix the hierarchy first",
            many.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Decides the Reseller, namespace, plan and name of every undeclared customer (already in
/// tenant-id order). A mapping row wins; then the indirect association; else the root.
pub fn plan_import(undeclared: &[ListedCustomer], ctx: &ImportContext<'_>) -> Result<Vec<Planned>, String> {
    let root = root_of(ctx.resellers);
    let mut by_indirect: BTreeMap<String, &ResellerInfo> = BTreeMap::new();
    // Sorted by name, so two Resellers declaring one indirect reseller resolve the same way each run.
    let mut sorted: Vec<&ResellerInfo> = ctx.resellers.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for r in sorted {
        if let Some(t) = &r.indirect_reseller {
            by_indirect.entry(t.trim().to_ascii_lowercase()).or_insert(r);
        }
    }
    let row_for = |c: &ListedCustomer| {
        ctx.mapping.mappings.iter().position(|row| {
            row.tenant_id
                .as_deref()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(&c.tenant_id))
                || (row.domain.as_deref())
                    .zip(c.domain.as_deref())
                    .is_some_and(|(a, b)| a.trim().eq_ignore_ascii_case(b))
        })
    };
    let mut out = Vec::new();
    for c in undeclared {
        let associated = c
            .associated_partner_id
            .as_deref()
            .map(|a| a.trim().to_ascii_lowercase());
        let (reseller, placement, row_plan) = if let Some(i) = row_for(c) {
            let row = &ctx.mapping.mappings[i];
            (row.reseller.clone(), Placement::Mapping(i), row.plan.clone())
        } else if let Some(r) = associated.as_deref().and_then(|a| by_indirect.get(a)) {
            (
                r.name.clone(),
                Placement::IndirectReseller(associated.clone().unwrap_or_default()),
                None,
            )
        } else {
            let root = root.as_ref().map_err(|e| format!("customer {}: {e}", c.tenant_id))?;
            (root.name.clone(), Placement::Root { associated }, None)
        };
        let info = ctx.resellers.iter().find(|r| r.name == reseller);
        let through: Vec<String> = info.map(|r| r.plans_through_connection.clone()).unwrap_or_default();
        let (plan, plan_note) = match (row_plan, through.as_slice(), ctx.plan) {
            (Some(p), _, _) => (Some(p), None),
            (None, [one], _) => (Some(one.clone()), None),
            (None, [], Some(p)) => (
                Some(p.to_string()),
                Some(format!(
                    "--plan: Reseller {reseller} is granted no plan through this connection"
                )),
            ),
            (None, many, Some(p)) => (
                Some(p.to_string()),
                Some(format!(
                    "--plan: Reseller {reseller} has several plans through this connection ({})",
                    many.join(", ")
                )),
            ),
            (None, [], None) => (
                None,
                Some(format!(
                    "Reseller {reseller} is granted no plan whose connection is this one: grant one, or set \
                     spec.plan (or pass --plan, or a mapping row's plan)"
                )),
            ),
            (None, many, None) => (
                None,
                Some(format!(
                    "Reseller {reseller} has several plans through this connection ({}): choose one for spec.plan \
                     (or pass --plan, or a mapping row's plan)",
                    many.join(", ")
                )),
            ),
        };
        out.push(Planned {
            customer: c.clone(),
            name: String::new(),
            namespace: namespace_of(&reseller, ctx.resellers, ctx.provider_namespace),
            reseller,
            placement,
            plan,
            plan_note,
        });
    }
    assign_names(&mut out, ctx.existing_names);
    Ok(out)
}

/// The longest base name: room for `-` and an 8-character tenant suffix in a 63-character label.
const BASE_MAX: usize = 54;

/// A DNS-1123 label from free text: lower-case letters and digits, other runs become one `-`.
pub fn slug(text: &str) -> String {
    let mut s = String::new();
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() {
            s.push(ch.to_ascii_lowercase());
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let mut s: String = s.chars().take(BASE_MAX).collect();
    while s.ends_with('-') {
        s.pop();
    }
    s
}

/// The base name of a customer's manifest: from the company name, else the domain's first label,
/// else `customer`.
pub fn base_name(c: &ListedCustomer) -> String {
    let from_company = c.company.as_deref().map(slug).unwrap_or_default();
    if !from_company.is_empty() {
        return from_company;
    }
    let from_domain = c
        .domain
        .as_deref()
        .and_then(|d| d.split('.').next())
        .map(slug)
        .unwrap_or_default();
    if from_domain.is_empty() {
        "customer".into()
    } else {
        from_domain
    }
}

/// Unique names per namespace. A base shared by several imported customers, or already taken by a
/// Customer, gets `-<first 8 of the tenant id>` on every one of them: a name then depends on its
/// own customer only, not on which others happen to be listed in the same run.
fn assign_names(planned: &mut [Planned], existing: &BTreeSet<(String, String)>) {
    let mut count: BTreeMap<(String, String), usize> = BTreeMap::new();
    for p in planned.iter() {
        *count.entry((p.namespace.clone(), base_name(&p.customer))).or_default() += 1;
    }
    let mut used: BTreeSet<(String, String)> = existing.clone();
    for p in planned.iter_mut() {
        let base = base_name(&p.customer);
        let key = (p.namespace.clone(), base.clone());
        let clash = count.get(&key).copied().unwrap_or(0) > 1 || existing.contains(&key);
        let suffix: String = p
            .customer
            .tenant_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let mut name = if clash {
            format!("{base}-{}", &suffix[..suffix.len().min(8)])
        } else {
            base.clone()
        };
        // The full tenant id (unique) when even that is taken.
        if used.contains(&(p.namespace.clone(), name.clone())) {
            let short: String = base.chars().take(63usize.saturating_sub(suffix.len() + 1)).collect();
            name = format!("{}-{suffix}", short.trim_end_matches('-'));
        }
        used.insert((p.namespace.clone(), name.clone()));
        p.name = name;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(id: &str, company: Option<&str>, domain: Option<&str>, associated: Option<&str>) -> ListedCustomer {
        ListedCustomer {
            tenant_id: id.into(),
            domain: domain.map(str::to_string),
            company: company.map(str::to_string),
            associated_partner_id: associated.map(str::to_string),
        }
    }

    fn reseller(
        name: &str,
        parent: Option<&str>,
        ns: Option<&str>,
        indirect: Option<&str>,
        plans: &[&str],
    ) -> ResellerInfo {
        ResellerInfo {
            name: name.into(),
            parent: parent.map(str::to_string),
            namespace: ns.map(str::to_string),
            indirect_reseller: indirect.map(str::to_string),
            plans_through_connection: plans.iter().map(|p| p.to_string()).collect(),
        }
    }

    const WINGTIP: &str = "44444444-4444-4444-8444-444444444404";
    const OTHER: &str = "44444444-4444-4444-8444-444444444499";

    fn channel() -> Vec<ResellerInfo> {
        vec![
            reseller("contoso", None, Some("csp-system"), None, &["nz"]),
            reseller("wingtip", Some("contoso"), None, Some(WINGTIP), &["nz"]),
            reseller("northwind", Some("contoso"), Some("reseller-northwind"), None, &["nz"]),
            reseller("northwind-wellington", Some("northwind"), None, None, &["nz"]),
            reseller("sandbox-only", Some("contoso"), None, None, &[]),
            reseller("two-plans", Some("contoso"), None, None, &["nz", "nz-2"]),
        ]
    }

    #[test]
    fn import_declared_by_tenant_id_or_domain() {
        let mut d = Declared::default();
        d.add_tenant_id("AAAAAAAA-0000-4000-8000-000000000001");
        d.add_domain("Known.onmicrosoft.com");
        let all = [
            listed(
                "bbbbbbbb-0000-4000-8000-000000000002",
                None,
                Some("free.onmicrosoft.com"),
                None,
            ),
            listed(
                "aaaaaaaa-0000-4000-8000-000000000001",
                None,
                Some("x.onmicrosoft.com"),
                None,
            ),
            listed(
                "cccccccc-0000-4000-8000-000000000003",
                None,
                Some("known.onmicrosoft.com"),
                None,
            ),
            listed("0aaaaaaa-0000-4000-8000-000000000004", None, None, None),
        ];
        let ids: Vec<String> = undeclared(&all, &d).into_iter().map(|c| c.tenant_id).collect();
        assert_eq!(
            ids,
            [
                "0aaaaaaa-0000-4000-8000-000000000004",
                "bbbbbbbb-0000-4000-8000-000000000002"
            ]
        );
    }

    #[test]
    fn import_placement_table() {
        let resellers = channel();
        let mapping = Mapping {
            mappings: vec![
                MappingRow {
                    domain: Some("mapped.onmicrosoft.com".into()),
                    reseller: "northwind-wellington".into(),
                    ..MappingRow::default()
                },
                MappingRow {
                    tenant_id: Some("00000000-0000-4000-8000-00000000000d".into()),
                    reseller: "two-plans".into(),
                    plan: Some("nz-2".into()),
                    ..MappingRow::default()
                },
                MappingRow {
                    tenant_id: Some("00000000-0000-4000-8000-00000000000e".into()),
                    reseller: "sandbox-only".into(),
                    ..MappingRow::default()
                },
                MappingRow {
                    tenant_id: Some("00000000-0000-4000-8000-00000000000f".into()),
                    reseller: "two-plans".into(),
                    ..MappingRow::default()
                },
            ],
        };
        let none = BTreeSet::new();
        let ctx = ImportContext {
            resellers: &resellers,
            mapping: &mapping,
            plan: None,
            provider_namespace: "csp-system",
            existing_names: &none,
        };
        // (tenant, associated, domain, reseller, namespace, plan, placement)
        type Row<'a> = (
            &'a str,
            Option<&'a str>,
            &'a str,
            &'a str,
            &'a str,
            Option<&'a str>,
            Placement,
        );
        let rows: Vec<Row> = vec![
            (
                "00000000-0000-4000-8000-00000000000a",
                Some(WINGTIP),
                "a.onmicrosoft.com",
                "wingtip",
                "csp-system",
                Some("nz"),
                Placement::IndirectReseller(WINGTIP.into()),
            ),
            (
                "00000000-0000-4000-8000-00000000000b",
                Some(OTHER),
                "b.onmicrosoft.com",
                "contoso",
                "csp-system",
                Some("nz"),
                Placement::Root {
                    associated: Some(OTHER.into()),
                },
            ),
            (
                "00000000-0000-4000-8000-00000000000c",
                Some(WINGTIP),
                "mapped.onmicrosoft.com",
                "northwind-wellington",
                "reseller-northwind",
                Some("nz"),
                Placement::Mapping(0),
            ),
            (
                "00000000-0000-4000-8000-00000000000d",
                None,
                "d.onmicrosoft.com",
                "two-plans",
                "csp-system",
                Some("nz-2"),
                Placement::Mapping(1),
            ),
            (
                "00000000-0000-4000-8000-00000000000e",
                None,
                "e.onmicrosoft.com",
                "sandbox-only",
                "csp-system",
                None,
                Placement::Mapping(2),
            ),
            (
                "00000000-0000-4000-8000-00000000000f",
                None,
                "f.onmicrosoft.com",
                "two-plans",
                "csp-system",
                None,
                Placement::Mapping(3),
            ),
        ];
        let input: Vec<ListedCustomer> = rows.iter().map(|r| listed(r.0, Some("Co"), Some(r.2), r.1)).collect();
        let planned = plan_import(&input, &ctx).unwrap();
        for (row, p) in rows.iter().zip(&planned) {
            assert_eq!(
                (
                    p.reseller.as_str(),
                    p.namespace.as_str(),
                    p.plan.as_deref(),
                    &p.placement
                ),
                (row.3, row.4, row.5, &row.6),
                "{}",
                row.0
            );
            assert_eq!(p.plan.is_none(), p.plan_note.is_some(), "{}: {:?}", row.0, p.plan_note);
        }
        assert!(
            planned[4]
                .plan_note
                .as_deref()
                .unwrap()
                .contains("granted no plan whose connection is this one")
        );
        assert!(
            planned[5]
                .plan_note
                .as_deref()
                .unwrap()
                .contains("several plans through this connection (nz, nz-2)")
        );
        // --plan fills the gaps, and says so; derived plans stay.
        let ctx = ImportContext {
            plan: Some("nz"),
            ..ctx
        };
        let planned = plan_import(&input, &ctx).unwrap();
        assert_eq!(
            planned.iter().map(|p| p.plan.as_deref()).collect::<Vec<_>>(),
            [Some("nz"), Some("nz"), Some("nz"), Some("nz-2"), Some("nz"), Some("nz")]
        );
        assert!(planned[4].plan_note.as_deref().unwrap().starts_with("--plan"));
    }

    #[test]
    fn import_names_are_labels_unique_and_stable() {
        let resellers = channel();
        let mapping = Mapping::default();
        let existing = BTreeSet::from([("csp-system".to_string(), "taken-ltd".to_string())]);
        let ctx = ImportContext {
            resellers: &resellers,
            mapping: &mapping,
            plan: None,
            provider_namespace: "csp-system",
            existing_names: &existing,
        };
        let long = "Very Long Company Name ".repeat(5);
        // (company, domain, tenant, name)
        let rows = [
            (
                Some("Kōwhai Books & Co."),
                None,
                "10000000-0000-4000-8000-000000000001",
                "k-whai-books-co",
            ),
            (
                None,
                Some("Harbour.onmicrosoft.com"),
                "20000000-0000-4000-8000-000000000002",
                "harbour",
            ),
            (
                Some("Twin Ltd"),
                None,
                "30000000-0000-4000-8000-000000000003",
                "twin-ltd-30000000",
            ),
            (
                Some("Twin Ltd"),
                None,
                "40000000-0000-4000-8000-000000000004",
                "twin-ltd-40000000",
            ),
            (
                Some("Taken Ltd"),
                None,
                "50000000-0000-4000-8000-000000000005",
                "taken-ltd-50000000",
            ),
            (Some("!!!"), None, "60000000-0000-4000-8000-000000000006", "customer"),
            (
                Some(long.as_str()),
                None,
                "70000000-0000-4000-8000-000000000007",
                "very-long-company-name-very-long-company-name-very-lon",
            ),
        ];
        let input: Vec<ListedCustomer> = rows.iter().map(|r| listed(r.2, r.0, r.1, None)).collect();
        let names: Vec<String> = plan_import(&input, &ctx).unwrap().into_iter().map(|p| p.name).collect();
        let want: Vec<&str> = rows.iter().map(|r| r.3).collect();
        assert_eq!(names, want);
        for n in &names {
            assert!(n.len() <= 63 && !n.starts_with('-') && !n.ends_with('-'), "{n}");
        }
        // Stable: the same customer keeps its name when another is listed alongside it.
        let alone = plan_import(&input[..1], &ctx).unwrap();
        assert_eq!(alone[0].name, names[0]);
    }

    #[test]
    fn import_mapping_refusals_name_the_field() {
        let resellers = channel();
        let row = |t: Option<&str>, d: Option<&str>, r: &str| MappingRow {
            tenant_id: t.map(str::to_string),
            domain: d.map(str::to_string),
            reseller: r.into(),
            plan: None,
        };
        // (rows, the problems)
        let cases: Vec<(Vec<MappingRow>, Vec<&str>)> = vec![
            (vec![row(None, Some("a.onmicrosoft.com"), "wingtip")], vec![]),
            (
                vec![MappingRow {
                    plan: Some("nz\nkind: Secret".into()),
                    ..row(None, Some("a.onmicrosoft.com"), "wingtip")
                }],
                vec![
                    "mappings[0].plan: \"nz\\nkind: Secret\" is not a CustomerPlan name (lower-case letters, digits, '-' and '.'); write the plan's metadata.name",
                ],
            ),
            (
                vec![row(Some("not-a-guid"), None, "wingtip")],
                vec![
                    "mappings[0].tenantId: \"not-a-guid\" is not a tenant id (a GUID); write the customer's Entra tenant id, or use domain",
                ],
            ),
            (
                vec![row(Some(WINGTIP), Some("a.onmicrosoft.com"), "wingtip")],
                vec!["mappings[0]: give exactly one of tenantId or domain (the customer the row maps)"],
            ),
            (
                vec![row(None, Some("a.onmicrosoft.com"), "wingtop")],
                vec!["mappings[0].reseller: no Reseller \"wingtop\" (did you mean 'wingtip'?)"],
            ),
            (
                vec![
                    row(None, Some("A.onmicrosoft.com"), "wingtip"),
                    row(None, Some("a.onmicrosoft.com"), "contoso"),
                ],
                vec!["mappings[1]: a.onmicrosoft.com is already mapped by mappings[0]; keep one row per customer"],
            ),
        ];
        for (rows, want) in cases {
            let got = validate_mapping(&Mapping { mappings: rows.clone() }, &resellers)
                .err()
                .unwrap_or_default();
            assert_eq!(got, want, "{rows:?}");
        }
    }
}
