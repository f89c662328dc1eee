//! `import`: Customer manifests (`spec.tenant.existing.tenantId`) for the customers a connection's
//! Partner Center account lists that no Customer declares, so an existing book of customers can be
//! brought under Git. Applying them adopts the tenants without invitations: each is already a
//! customer of that account, so the operator's look-up under the pinned connection finds it.
//!
//! The account is read through the connection's own credentials, with the client `check
//! --connection` builds (src/cli/check.rs). Which Reseller, namespace, plan and name each customer
//! gets is decided by `policy::import` (pure); this file gathers the facts and prints the result.
//!
//! The indirect association: Partner Center's customer list leaves `associatedPartnerId` empty
//! (only get-by-id fills it), and one get per customer would cost a call per customer. Instead,
//! `customers_of_reseller` is called once per indirect reseller that a Reseller declares
//! (`spec.indirectReseller`) and that the connection lists as linked
//! (`status.linkedIndirectResellers`): its answer names exactly the customers associated with
//! that Reseller. A customer associated with an indirect reseller no Reseller declares cannot be
//! placed by association and goes to the root (or a mapping row).

use anyhow::Context as _;
use clap::Args;
use kube::{Api, Client, ResourceExt};
use std::collections::BTreeSet;
use std::path::PathBuf;

use super::check::connection_client;
use super::trace::{Fetched, list, namespaced};
use crate::api::{CspType, Customer, PartnerCenterConnection, Reseller};
use crate::partner_center::PartnerCenterApi;
use crate::policy::import::{
    Declared, ImportContext, ListedCustomer, Mapping, Placement, Planned, ResellerInfo, plan_import, undeclared,
    validate_mapping,
};

#[derive(Args, Clone, Debug)]
pub struct ImportArgs {
    /// The PartnerCenterConnection whose undeclared customers to import, NAMESPACE/NAME. Its Secret
    /// must be readable by you (the credentials list the account's customers).
    #[arg(long)]
    pub connection: String,
    /// A YAML file of `mappings:` rows, each `tenantId` or `domain` and the `reseller` (optionally
    /// `plan`) of a customer; it wins over the indirect association (examples/import-mapping.yaml).
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// The plan of customers whose reseller's plan through this connection cannot be derived (none
    /// or several granted).
    #[arg(long)]
    pub plan: Option<String>,
    /// Where to write: `-` (default) one multi-document YAML stream on stdout; a directory: one
    /// file per customer, `DIR/<namespace>/<name>.yaml` (apply with `kubectl apply -R -f DIR`).
    #[arg(short = 'o', long, default_value = "-")]
    pub output: String,
    /// The provider namespace, for the root reseller's customers when the root declares no
    /// spec.namespace.
    #[arg(long, env = "PCO_PROVIDER_NAMESPACE", default_value = "csp-system")]
    pub provider_namespace: String,
}

/// A value from the network for a one-line comment: no control characters, bounded.
pub fn one_line(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(256).collect()
}

/// Clamps what Partner Center said about a customer: a tenant id that is not a GUID is dropped
/// (it would end up in a manifest), names and domains lose control characters and are bounded.
fn listed(c: &crate::partner_center::models::Customer) -> Option<ListedCustomer> {
    let id = uuid::Uuid::parse_str(c.id.trim()).ok()?.hyphenated().to_string();
    Some(ListedCustomer {
        tenant_id: id,
        domain: c.domain().map(one_line).filter(|d| !d.is_empty()),
        company: c.company_name().map(one_line).filter(|d| !d.is_empty()),
        associated_partner_id: c
            .associated_partner_id
            .as_deref()
            .and_then(|a| uuid::Uuid::parse_str(a.trim()).ok())
            .map(|u| u.hyphenated().to_string()),
    })
}

/// The indirect resellers whose customers to ask for: declared by a Reseller and linked to this
/// connection (an IndirectProvider account), each once, in order.
pub fn declared_indirect_resellers(conn: &PartnerCenterConnection, resellers: &[Reseller]) -> Vec<String> {
    if conn.spec.csp_type != CspType::IndirectProvider {
        return Vec::new();
    }
    let linked: BTreeSet<String> = conn
        .status
        .as_ref()
        .map(|s| {
            s.linked_indirect_resellers
                .iter()
                .map(|t| t.to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    resellers
        .iter()
        .filter_map(|r| r.spec.indirect_reseller.as_ref())
        .map(|i| i.tenant_id.trim().to_ascii_lowercase())
        .filter(|t| linked.contains(t))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Every customer the account lists, with its indirect reseller when it is one of `indirect`
/// (one call per indirect reseller, see the module comment).
pub async fn list_account(api: &dyn PartnerCenterApi, indirect: &[String]) -> anyhow::Result<Vec<ListedCustomer>> {
    let mut all: Vec<ListedCustomer> = api
        .list_customers()
        .await
        .map_err(|e| anyhow::anyhow!("listing the account's customers failed ({}: {e})", e.reason()))?
        .iter()
        .filter_map(listed)
        .collect();
    for reseller in indirect {
        let theirs = api.customers_of_reseller(reseller).await.map_err(|e| {
            anyhow::anyhow!(
                "listing the customers of indirect reseller {reseller} failed ({}: {e})",
                e.reason()
            )
        })?;
        for c in theirs.iter().filter_map(listed) {
            match all.iter_mut().find(|a| a.tenant_id == c.tenant_id) {
                Some(a) => a.associated_partner_id = Some(reseller.clone()),
                None => all.push(ListedCustomer {
                    associated_partner_id: Some(reseller.clone()),
                    ..c
                }),
            }
        }
    }
    Ok(all)
}

/// The tenants the cluster's Customers declare (status.tenantId, spec.tenant.existing).
pub fn declared_by(customers: &[Customer]) -> Declared {
    let mut d = Declared::default();
    for c in customers {
        if let Some(t) = c.status.as_ref().and_then(|s| s.tenant_id.as_deref()) {
            d.add_tenant_id(t);
        }
        if let Some(e) = &c.spec.tenant.existing {
            if let Some(t) = &e.tenant_id {
                d.add_tenant_id(t);
            }
            if let Some(dom) = &e.domain {
                d.add_domain(dom);
            }
        }
    }
    d
}

/// The Resellers as `policy::import` needs them, with their plans through connection `ns/name`.
pub fn reseller_infos(resellers: &[Reseller], ns: &str, name: &str) -> Vec<ResellerInfo> {
    resellers
        .iter()
        .map(|r| ResellerInfo {
            name: r.name_any(),
            parent: r.spec.parent.clone(),
            namespace: r.spec.namespace.clone(),
            indirect_reseller: r
                .spec
                .indirect_reseller
                .as_ref()
                .map(|i| i.tenant_id.to_ascii_lowercase()),
            plans_through_connection: r
                .status
                .as_ref()
                .map(|s| {
                    s.effective_plans
                        .iter()
                        .filter(|p| {
                            p.connection
                                .as_ref()
                                .is_some_and(|c| c.namespace == ns && c.name == name)
                        })
                        .map(|p| p.plan.clone())
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

fn must<T>(fetched: Fetched<T>, what: &str) -> anyhow::Result<T> {
    match fetched {
        Fetched::Found(v) => Ok(v),
        Fetched::Missing => anyhow::bail!("{what}: none found"),
        Fetched::Denied(m) => anyhow::bail!("import needs to list {what}, and you may not ({m})"),
        Fetched::Failed(m) => anyhow::bail!("could not list {what}: {m}"),
    }
}

pub async fn run(args: ImportArgs) -> anyhow::Result<i32> {
    crate::tls::install_crypto_provider();
    let (ns, name) = namespaced(&args.connection, "--connection")?;
    if let Some(plan) = &args.plan
        && !crate::policy::import::is_object_name(plan)
    {
        anyhow::bail!("--plan: {plan:?} is not a CustomerPlan name (lower-case letters, digits, '-' and '.')");
    }
    let mapping: Mapping = match &args.mapping {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            serde_saphyr::from_str(&text).map_err(|e| {
                anyhow::anyhow!(
                    "{}: not a mapping file ({e}); see examples/import-mapping.yaml",
                    path.display()
                )
            })?
        }
        None => Mapping::default(),
    };
    let client = Client::try_default()
        .await
        .context("cannot reach the Kubernetes API (kubeconfig)")?;
    let conn: PartnerCenterConnection = Api::namespaced(client.clone(), &ns)
        .get(&name)
        .await
        .with_context(|| format!("cannot read PartnerCenterConnection {ns}/{name}"))?;
    let resellers: Vec<Reseller> = must(list(&Api::all(client.clone())).await, "every Reseller")?;
    let customers: Vec<Customer> = must(list(&Api::all(client.clone())).await, "every Customer")?;
    let infos = reseller_infos(&resellers, &ns, &name);
    if let Err(problems) = validate_mapping(&mapping, &infos) {
        let file = args
            .mapping
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        anyhow::bail!("{file}: {}", problems.join("; "));
    }
    let pc = connection_client(&conn)
        .await
        .with_context(|| format!("cannot call Partner Center through {ns}/{name}"))?;
    let account = list_account(&pc, &declared_indirect_resellers(&conn, &resellers)).await?;
    let todo = undeclared(&account, &declared_by(&customers));
    let existing: BTreeSet<(String, String)> = customers
        .iter()
        .map(|c| (c.namespace().unwrap_or_default(), c.name_any()))
        .collect();
    let root_ns = crate::policy::import::root_of(&infos)
        .ok()
        .and_then(|r| r.namespace.clone())
        .unwrap_or_else(|| args.provider_namespace.clone());
    let ctx = ImportContext {
        resellers: &infos,
        mapping: &mapping,
        plan: args.plan.as_deref(),
        provider_namespace: &root_ns,
        existing_names: &existing,
    };
    let mut planned = plan_import(&todo, &ctx).map_err(anyhow::Error::msg)?;
    planned.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let header = header(&conn, &ns, &name);
    if args.output == "-" {
        let mut out = header.clone();
        for p in &planned {
            out.push_str("---\n");
            out.push_str(&manifest(p, &mapping));
        }
        print!("{out}");
    } else {
        let dir = PathBuf::from(&args.output);
        for p in &planned {
            let sub = dir.join(&p.namespace);
            std::fs::create_dir_all(&sub).with_context(|| format!("cannot create {}", sub.display()))?;
            let file = sub.join(format!("{}.yaml", p.name));
            std::fs::write(&file, format!("{header}{}", manifest(p, &mapping)))
                .with_context(|| format!("cannot write {}", file.display()))?;
        }
    }
    eprintln!(
        "{} undeclared customer(s) of {ns}/{name} ({} listed, {} declared)",
        planned.len(),
        account.len(),
        account.len().saturating_sub(todo.len())
    );
    let without: Vec<&Planned> = planned.iter().filter(|p| p.plan.is_none()).collect();
    if !without.is_empty() {
        eprintln!("{} need a plan (spec.plan is a TODO):", without.len());
        for p in without {
            eprintln!(
                "  {}/{}: {}",
                p.namespace,
                p.name,
                p.plan_note.as_deref().unwrap_or_default()
            );
        }
    }
    Ok(0)
}

fn header(conn: &PartnerCenterConnection, ns: &str, name: &str) -> String {
    let company = conn
        .status
        .as_ref()
        .and_then(|s| s.partner.as_ref())
        .and_then(|p| p.company_name.as_deref())
        .map(|c| format!(" ({})", one_line(c)))
        .unwrap_or_default();
    format!(
        "# Customers of the Partner Center account {}{company}\n\
         # that no Customer declared, listed through PartnerCenterConnection {ns}/{name}\n\
         # by `partner-center-operator import`. Applying them adopts the tenants (already customers of\n\
         # that account: no invitation is sent). Review spec.reseller and spec.plan before committing.\n",
        conn.spec.partner_tenant_id
    )
}

fn manifest(p: &Planned, mapping: &Mapping) -> String {
    let c = &p.customer;
    let why = match &p.placement {
        Placement::Mapping(i) => {
            let row = &mapping.mappings[*i];
            let key = row
                .tenant_id
                .as_deref()
                .map(|t| format!("tenantId {t}"))
                .or(row.domain.as_deref().map(|d| format!("domain {d}")))
                .unwrap_or_default();
            format!("mappings[{i}] ({key})")
        }
        Placement::IndirectReseller(t) => {
            format!(
                "associated in Partner Center with indirect reseller {t}, which Reseller {} declares",
                p.reseller
            )
        }
        Placement::Root { associated: None } => {
            "no mapping row, and no Reseller's indirect reseller lists it: the root reseller".into()
        }
        Placement::Root { associated: Some(t) } => format!(
            "no mapping row; associated with indirect reseller {t}, which no Reseller declares: the root reseller"
        ),
    };
    let mut out = format!(
        "# tenant {} {:?} ({})\n# spec.reseller: {why}\n",
        c.tenant_id,
        c.company.as_deref().unwrap_or("-"),
        c.domain.as_deref().unwrap_or("-"),
    );
    if let (Some(_), Some(note)) = (&p.plan, &p.plan_note) {
        out.push_str(&format!("# spec.plan: {note}\n"));
    }
    out.push_str(&format!(
        "apiVersion: channel.csp.dev/v1alpha1\nkind: Customer\nmetadata:\n  name: {}\n  namespace: {}\nspec:\n  \
         reseller: {}\n",
        p.name, p.namespace, p.reseller
    ));
    match (&p.plan, &p.plan_note) {
        (Some(plan), _) => out.push_str(&format!("  plan: {plan}\n")),
        (None, note) => out.push_str(&format!(
            "  plan: \"\"  # TODO: {}\n",
            note.as_deref().unwrap_or("choose the plan")
        )),
    }
    out.push_str(&format!("  tenant:\n    existing:\n      tenantId: {}\n", c.tenant_id));
    out
}
