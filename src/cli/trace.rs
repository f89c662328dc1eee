//! `trace`: why a Reseller, a PartnerCenterConnection or a Customer is (not) ready, as a tree of
//! what the operator published on each object on the path: a reseller's ancestors, each granted
//! plan, the connection provisioning uses and the Partner Center account behind it; for a
//! connection, every plan, reseller and customer through it. It only reads, with the caller's
//! kubeconfig: what the caller may not read is shown as such (403) instead of failing, so a
//! reseller's admin sees its own part of the tree.
//!
//! Nothing is decided here: readiness, reasons and effective plans are the statuses the operator
//! wrote from `policy` (docs/rules.md); the tool only follows the references between them.

use crate::api::conditions::{find_condition, types};
use crate::api::{ConnectionRef, Customer, CustomerPlan, EffectivePlan, PartnerCenterConnection, Reseller};
use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, ListParams};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::ser::SerializeMap;

#[derive(Args, Clone, Debug)]
pub struct TraceArgs {
    #[command(subcommand)]
    pub target: Target,
    /// Output: `tree` (default), `json` or `yaml`.
    #[arg(short = 'o', long, value_enum, default_value = "tree", global = true)]
    pub output: Format,
}

#[derive(Subcommand, Clone, Debug)]
pub enum Target {
    /// A Reseller: its ancestors, each granted plan, the connection and Partner Center account behind it.
    Reseller {
        /// Name of the Reseller (cluster-scoped).
        name: String,
    },
    /// A PartnerCenterConnection: its account and every plan, reseller and customer through it.
    Connection {
        /// NAMESPACE/NAME of the connection.
        reference: String,
    },
    /// A Customer: its status, its reseller's effective plan, the connection and account.
    Customer {
        /// NAMESPACE/NAME of the Customer.
        reference: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Tree,
    Json,
    Yaml,
}

/// One node of a trace: an object (or a reseller's effective plan) and what its status says.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    pub kind: String,
    pub name: String,
    /// How the node relates to its parent (`ancestor`, `root`, `plan`, `override`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Status of the Ready condition (`True`, `False`, `Unknown`), or `usable`/`unusable` for an
    /// effective plan; absent when unknown (not read, no status yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// This node is what keeps its part of the tree from working.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub blocking: bool,
    /// Why the node could not be read (forbidden, not found), instead of its status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    #[serde(skip_serializing_if = "Details::is_empty")]
    pub details: Details,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Node>,
}

/// Ordered `key: value` pairs (serialized as a map in this order).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Details(pub Vec<(String, String)>);

impl Details {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    fn push(&mut self, key: &str, value: impl Into<String>) {
        self.0.push((key.to_string(), value.into()));
    }
    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl Serialize for Details {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Node {
    fn new(kind: &str, name: impl Into<String>) -> Node {
        Node {
            kind: kind.to_string(),
            name: name.into(),
            ..Node::default()
        }
    }
    fn role(mut self, role: &str) -> Node {
        self.role = Some(role.to_string());
        self
    }
    /// Ready, reason and message from the object's Ready condition. A condition written for an
    /// older generation says nothing about the current spec: shown as Unknown, saying so.
    fn with_ready(mut self, conditions: &[Condition], generation: Option<i64>) -> Node {
        match find_condition(conditions, types::READY) {
            Some(c) if c.observed_generation == generation => {
                self.ready = Some(c.status.clone());
                self.reason = Some(c.reason.clone());
                self.message = Some(c.message.clone());
            }
            Some(c) => {
                self.ready = Some("Unknown".into());
                self.reason = Some(c.reason.clone());
                self.message = Some(format!(
                    "the operator has not evaluated the current spec yet (status of generation {}, spec at {}); \
                     last said: {}",
                    c.observed_generation.map_or("-".into(), |g| g.to_string()),
                    generation.map_or("-".into(), |g| g.to_string()),
                    c.message
                ));
            }
            None => {
                self.message = Some("no Ready condition yet: the operator has not evaluated it".into());
            }
        }
        self
    }
    fn unreadable(kind: &str, name: impl Into<String>, why: String) -> Node {
        Node {
            unreadable: Some(why),
            ..Node::new(kind, name)
        }
    }
    fn is_false(&self) -> bool {
        self.ready.as_deref() == Some("False") || self.ready.as_deref() == Some("unusable")
    }
    fn is_ready(&self) -> bool {
        self.ready.as_deref() == Some("True") || self.ready.as_deref() == Some("usable")
    }
}

/// A read with the caller's rights: the object, or why there is none.
pub enum Fetched<T> {
    Found(T),
    /// 404, or an object that does not exist in the listing.
    Missing,
    /// 403: the caller may not read it (the message is the API server's).
    Denied(String),
    Failed(String),
}

impl<T> Fetched<T> {
    /// The reason to show instead of a status, when not found.
    fn why(&self, what: &str) -> Option<String> {
        match self {
            Fetched::Found(_) => None,
            Fetched::Missing => Some(format!("{what} does not exist")),
            Fetched::Denied(m) => Some(format!("forbidden: you may not read {what} ({m})")),
            Fetched::Failed(m) => Some(format!("could not read {what}: {m}")),
        }
    }
}

pub async fn get<K>(api: &Api<K>, name: &str) -> Fetched<K>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.get_opt(name).await {
        Ok(Some(o)) => Fetched::Found(o),
        Ok(None) => Fetched::Missing,
        Err(kube::Error::Api(s)) if s.code == 403 => Fetched::Denied(s.message.clone()),
        Err(e) => Fetched::Failed(e.to_string()),
    }
}

pub async fn list<K>(api: &Api<K>) -> Fetched<Vec<K>>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.list(&ListParams::default()).await {
        Ok(l) => Fetched::Found(l.items),
        Err(kube::Error::Api(s)) if s.code == 403 => Fetched::Denied(s.message.clone()),
        Err(e) => Fetched::Failed(e.to_string()),
    }
}

/// Splits `NAMESPACE/NAME`, naming the argument in the refusal.
pub fn namespaced(reference: &str, what: &str) -> anyhow::Result<(String, String)> {
    match reference.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok((ns.to_string(), name.to_string()))
        }
        _ => anyhow::bail!(
            "{what} must be written NAMESPACE/NAME, e.g. csp-system/contoso-nz-production; got {reference:?}"
        ),
    }
}

/// Reads what a trace follows, one GET per object (a reseller's admin may get objects it may not list).
struct Reader {
    client: Client,
}

impl Reader {
    async fn reseller(&self, name: &str) -> Fetched<Reseller> {
        get(&Api::<Reseller>::all(self.client.clone()), name).await
    }
    async fn plan(&self, name: &str) -> Fetched<CustomerPlan> {
        get(&Api::<CustomerPlan>::all(self.client.clone()), name).await
    }
    async fn connection(&self, c: &ConnectionRef) -> Fetched<PartnerCenterConnection> {
        get(
            &Api::<PartnerCenterConnection>::namespaced(self.client.clone(), &c.namespace),
            &c.name,
        )
        .await
    }
}

fn reseller_node(r: &Reseller) -> Node {
    let st = r.status.clone().unwrap_or_default();
    let mut n = Node::new("Reseller", r.name_any()).with_ready(&st.conditions, r.metadata.generation);
    if r.meta().deletion_timestamp.is_some() {
        n.details.push("deleting", "true");
    }
    if let Some(c) = find_condition(&st.conditions, types::HIERARCHY_VALID)
        && c.status == "False"
    {
        n.details.push("hierarchy", format!("{}: {}", c.reason, c.message));
    }
    for w in &st.warnings {
        n.details.push("warning", w.clone());
    }
    n
}

/// A reseller whose place in the tree is itself wrong (not merely below a wrong ancestor).
fn hierarchy_broken_here(r: &Reseller) -> bool {
    r.status
        .as_ref()
        .and_then(|s| find_condition(&s.conditions, types::HIERARCHY_VALID))
        .is_some_and(|c| c.status == "False" && c.reason != crate::policy::reasons::ANCESTOR_INVALID)
}

fn account_node(c: &PartnerCenterConnection) -> Node {
    let mut n = Node::new("PartnerCenterAccount", c.spec.partner_tenant_id.clone());
    let st = c.status.clone().unwrap_or_default();
    if let Some(p) = &st.partner {
        if let Some(v) = &p.company_name {
            n.details.push("company", v.clone());
        }
        if let Some(v) = &p.tenant_id {
            n.details.push("tenant", v.clone());
        }
        if let Some(v) = &p.partner_id {
            n.details.push("partnerId", v.clone());
        }
        if let Some(v) = &p.country {
            n.details.push("country", v.clone());
        }
    } else {
        n.details.push(
            "tenant",
            format!("{} (declared; not reported yet)", c.spec.partner_tenant_id),
        );
    }
    n.details.push(
        "lastSync",
        st.last_sync_time.as_ref().map_or("never".into(), |t| t.0.to_string()),
    );
    if let Some(t) = &st.refresh_token_expires_at {
        n.details.push("refreshTokenExpires", t.0.to_string());
    }
    n
}

fn connection_node(c: &PartnerCenterConnection) -> Node {
    let st = c.status.clone().unwrap_or_default();
    let reference = format!("{}/{}", c.namespace().unwrap_or_default(), c.name_any());
    let mut n = Node::new("PartnerCenterConnection", reference).with_ready(&st.conditions, c.metadata.generation);
    n.details.push(
        "account",
        format!("{} {:?} {:?}", c.spec.region, c.spec.csp_type, c.spec.environment),
    );
    if let Some(o) = &st.owner {
        n.details.push("owner", o.clone());
    }
    if c.meta().deletion_timestamp.is_some() {
        n.details.push("deleting", "true");
    }
    n.children.push(account_node(c));
    n
}

fn plan_node(p: &CustomerPlan) -> Node {
    let st = p.status.clone().unwrap_or_default();
    let mut n = Node::new("CustomerPlan", p.name_any()).with_ready(&st.conditions, p.metadata.generation);
    n.details.push("displayName", p.spec.display_name.clone());
    n.details.push("connectionRef", p.spec.connection_ref.to_string());
    n
}

/// The effective-plan node of one grant, as the reseller's status published it.
fn effective_node(e: &EffectivePlan) -> Node {
    let mut n = Node::new("EffectivePlan", e.plan.clone()).role("plan");
    n.ready = Some(if e.usable { "usable" } else { "unusable" }.into());
    n.reason = e.reason.clone();
    n.message = e.message.clone();
    let source = match (&e.source, &e.inherited_from) {
        (crate::api::ConnectionSource::Inherited, Some(from)) => format!("Inherited from {from}"),
        (s, _) => format!("{s:?}"),
    };
    n.details.push("source", source);
    n.details.push(
        "connection",
        e.connection.as_ref().map_or("none".into(), |c| c.to_string()),
    );
    n
}

/// Marks which node of an unusable effective plan blocks it: the connection when it is not
/// Ready (or missing), else the plan when it is not Ready, else the grant itself (a rule about this
/// reseller and this plan, e.g. SandboxOnlyReseller). A usable plan has no blocking node.
pub fn mark_blocking(effective: &mut Node) {
    if effective.is_ready() || !effective.is_false() {
        return;
    }
    let reason = effective.reason.clone();
    let blocked_by =
        |n: &Node| n.is_false() || (n.unreadable.as_deref().is_some_and(|u| u.ends_with("does not exist")));
    let pos = |kind: &str| effective.children.iter().position(|c| c.kind == kind);
    if let Some(i) = pos("PartnerCenterConnection")
        && (blocked_by(&effective.children[i])
            || effective.children[i].ready.as_deref() == Some("Unknown")
                && reason.as_deref() == Some(crate::policy::reasons::CONNECTION_PENDING))
    {
        effective.children[i].blocking = true;
        return;
    }
    if let Some(i) = pos("CustomerPlan")
        && blocked_by(&effective.children[i])
    {
        effective.children[i].blocking = true;
        return;
    }
    effective.blocking = true;
}

/// `trace reseller NAME`.
pub async fn trace_reseller(client: Client, name: &str) -> anyhow::Result<Node> {
    let reader = Reader { client };
    let r = match reader.reseller(name).await {
        Fetched::Found(r) => r,
        other => anyhow::bail!("{}", other.why(&format!("Reseller '{name}'")).unwrap_or_default()),
    };
    let mut root = reseller_node(&r);
    root.blocking = root.is_false() && hierarchy_broken_here(&r);
    let st = r.status.clone().unwrap_or_default();
    if r.spec.parent.is_none() {
        root.role = Some("root".into());
    }
    // Ancestors, nearest first, as the operator published them; else at least the parent.
    let ancestors = if st.ancestors.is_empty() {
        r.spec.parent.iter().cloned().collect()
    } else {
        st.ancestors.clone()
    };
    let last = ancestors.len().saturating_sub(1);
    for (i, a) in ancestors.iter().enumerate() {
        let role = if i == 0 && i == last {
            "parent, root"
        } else if i == 0 {
            "parent"
        } else if i == last {
            "root"
        } else {
            "ancestor"
        };
        let node = match reader.reseller(a).await {
            Fetched::Found(ar) => {
                let mut n = reseller_node(&ar).role(role);
                n.blocking = n.is_false() && hierarchy_broken_here(&ar);
                n
            }
            other => Node::unreadable(
                "Reseller",
                a.clone(),
                other.why(&format!("Reseller '{a}'")).unwrap_or_default(),
            )
            .role(role),
        };
        root.children.push(node);
    }
    for e in &st.effective_plans {
        root.children.push(effective_tree(&reader, e).await);
    }
    if st.effective_plans.is_empty() {
        root.details.push("effectivePlans", "none published");
    }
    Ok(root)
}

/// An effective plan with its plan, connection and account, the blocking node marked.
async fn effective_tree(reader: &Reader, e: &EffectivePlan) -> Node {
    let mut n = effective_node(e);
    n.children.push(match reader.plan(&e.plan).await {
        Fetched::Found(p) => plan_node(&p),
        other => Node::unreadable(
            "CustomerPlan",
            e.plan.clone(),
            other.why(&format!("CustomerPlan '{}'", e.plan)).unwrap_or_default(),
        ),
    });
    if let Some(c) = &e.connection {
        n.children.push(match reader.connection(c).await {
            Fetched::Found(conn) => connection_node(&conn),
            other => Node::unreadable(
                "PartnerCenterConnection",
                c.to_string(),
                other.why(&format!("PartnerCenterConnection {c}")).unwrap_or_default(),
            ),
        });
    }
    mark_blocking(&mut n);
    n
}

/// `trace connection NS/NAME`.
pub async fn trace_connection(client: Client, reference: &str) -> anyhow::Result<Node> {
    let (ns, name) = namespaced(reference, "the connection")?;
    let target = ConnectionRef {
        namespace: ns.clone(),
        name: name.clone(),
    };
    let conn = match get(&Api::<PartnerCenterConnection>::namespaced(client.clone(), &ns), &name).await {
        Fetched::Found(c) => c,
        other => anyhow::bail!(
            "{}",
            other
                .why(&format!("PartnerCenterConnection {target}"))
                .unwrap_or_default()
        ),
    };
    let mut root = connection_node(&conn);
    root.blocking = root.is_false();
    if let Some(u) = conn.status.as_ref().and_then(|s| s.used_by.as_ref()) {
        root.details.push(
            "usedBy",
            format!(
                "{} plans, {} resellers, {} references",
                u.plans,
                u.resellers,
                u.references.map_or("-".into(), |r| r.to_string())
            ),
        );
    }

    match list(&Api::<CustomerPlan>::all(client.clone())).await {
        Fetched::Found(plans) => {
            for p in plans.iter().filter(|p| p.spec.connection_ref == target) {
                root.children.push(plan_node(p).role("connectionRef"));
            }
        }
        other => root.children.push(Node::unreadable(
            "CustomerPlan",
            "*",
            other.why("the list of CustomerPlans").unwrap_or_default(),
        )),
    }
    let resellers = list(&Api::<Reseller>::all(client.clone())).await;
    match &resellers {
        Fetched::Found(all) => {
            for r in all {
                let through: Vec<&EffectivePlan> = r
                    .status
                    .iter()
                    .flat_map(|s| &s.effective_plans)
                    .filter(|e| e.connection.as_ref() == Some(&target))
                    .collect();
                for e in through {
                    let mut n = reseller_node(r).role("effective plan");
                    n.details.push("plan", e.plan.clone());
                    n.details.push("source", format!("{:?}", e.source));
                    n.details.push(
                        "usable",
                        match &e.reason {
                            None => e.usable.to_string(),
                            Some(reason) => format!("{} ({reason})", e.usable),
                        },
                    );
                    root.children.push(n);
                }
            }
        }
        other => {
            let mut n = Node::unreadable("Reseller", "*", other.why("the list of Resellers").unwrap_or_default());
            // What the operator lets every reader of the connection see (docs/rules.md: usedBy).
            if let Some(u) = conn.status.as_ref().and_then(|s| s.used_by.as_ref())
                && !u.examples.is_empty()
            {
                n.details.push("usedBy.examples", u.examples.join(", "));
            }
            root.children.push(n);
        }
    }
    match list(&Api::<Customer>::all(client.clone())).await {
        Fetched::Found(customers) => {
            for c in customers {
                let pinned = c.status.as_ref().and_then(|s| s.connection.as_ref());
                let effective = match (&resellers, pinned) {
                    (_, Some(_)) => None,
                    (Fetched::Found(all), None) => customer_effective(&c, all).and_then(|e| e.connection),
                    _ => None,
                };
                let via = if pinned == Some(&target) {
                    "pinned"
                } else if effective.as_ref() == Some(&target) {
                    "effective plan"
                } else {
                    continue;
                };
                let mut n = customer_node(&c).role(via);
                n.details.push("plan", c.spec.plan.clone());
                root.children.push(n);
            }
        }
        other => root.children.push(Node::unreadable(
            "Customer",
            "*",
            other.why("the list of Customers").unwrap_or_default(),
        )),
    }
    Ok(root)
}

/// The reseller a Customer belongs to: `spec.reseller`, else the reseller owning its namespace.
fn customer_reseller<'a>(c: &Customer, resellers: &'a [Reseller]) -> Option<&'a Reseller> {
    match &c.spec.reseller {
        Some(name) => resellers.iter().find(|r| &r.name_any() == name),
        None => resellers
            .iter()
            .find(|r| r.spec.namespace.is_some() && r.spec.namespace == c.namespace()),
    }
}

fn customer_effective(c: &Customer, resellers: &[Reseller]) -> Option<EffectivePlan> {
    customer_reseller(c, resellers)?
        .status
        .as_ref()?
        .effective_plans
        .iter()
        .find(|e| e.plan == c.spec.plan)
        .cloned()
}

fn customer_node(c: &Customer) -> Node {
    let st = c.status.clone().unwrap_or_default();
    let reference = format!("{}/{}", c.namespace().unwrap_or_default(), c.name_any());
    let mut n = Node::new("Customer", reference).with_ready(&st.conditions, c.metadata.generation);
    if c.status.is_none() {
        n.message = Some("no status: no controller has acted on this Customer yet".into());
    }
    if let Some(conn) = &st.connection {
        n.details.push("pinnedConnection", conn.to_string());
    }
    if let Some(t) = &st.tenant_id {
        n.details.push("tenant", t.clone());
    }
    if let Some(d) = &st.domain {
        n.details.push("domain", d.clone());
    }
    n
}

/// `trace customer NS/NAME`.
pub async fn trace_customer(client: Client, reference: &str) -> anyhow::Result<Node> {
    let (ns, name) = namespaced(reference, "the customer")?;
    let c = match get(&Api::<Customer>::namespaced(client.clone(), &ns), &name).await {
        Fetched::Found(c) => c,
        other => anyhow::bail!("{}", other.why(&format!("Customer {ns}/{name}")).unwrap_or_default()),
    };
    let mut root = customer_node(&c);
    root.details.push("plan", c.spec.plan.clone());
    let reader = Reader { client: client.clone() };
    // The reseller: named, or the one whose spec.namespace is the Customer's (needs the list).
    let reseller = match &c.spec.reseller {
        Some(r) => reader.reseller(r).await,
        None => match list(&Api::<Reseller>::all(client.clone())).await {
            Fetched::Found(all) => match customer_reseller(&c, &all) {
                Some(r) => Fetched::Found(r.clone()),
                None => Fetched::Missing,
            },
            Fetched::Denied(m) => Fetched::Denied(m),
            Fetched::Missing => Fetched::Missing,
            Fetched::Failed(m) => Fetched::Failed(m),
        },
    };
    let what = c
        .spec
        .reseller
        .as_ref()
        .map_or(format!("the Reseller owning namespace {ns}"), |r| {
            format!("Reseller '{r}'")
        });
    match reseller {
        Fetched::Found(r) => {
            let mut rn = reseller_node(&r).role("reseller");
            let effective = r
                .status
                .iter()
                .flat_map(|s| &s.effective_plans)
                .find(|e| e.plan == c.spec.plan)
                .cloned();
            match effective {
                Some(e) => rn.children.push(effective_tree(&reader, &e).await),
                None => rn.children.push(Node::unreadable(
                    "EffectivePlan",
                    c.spec.plan.clone(),
                    format!(
                        "Reseller '{}' has no effective plan '{}': the plan is not granted to it",
                        r.name_any(),
                        c.spec.plan
                    ),
                )),
            }
            root.children.push(rn);
        }
        other => root
            .children
            .push(Node::unreadable("Reseller", "?", other.why(&what).unwrap_or_default())),
    }
    // A pinned connection that is not the effective one: show it too (it is the one used).
    let effective_conn = root
        .children
        .first()
        .and_then(|r| r.children.first())
        .and_then(|e| e.details.get("connection"))
        .map(str::to_string);
    if let Some(pinned) = c.status.as_ref().and_then(|s| s.connection.clone())
        && effective_conn.as_deref() != Some(pinned.to_string().as_str())
    {
        root.children.push(match reader.connection(&pinned).await {
            Fetched::Found(conn) => connection_node(&conn).role("pinned"),
            other => Node::unreadable(
                "PartnerCenterConnection",
                pinned.to_string(),
                other
                    .why(&format!("PartnerCenterConnection {pinned}"))
                    .unwrap_or_default(),
            )
            .role("pinned"),
        });
    }
    Ok(root)
}

/// The tree as text: one line per node (kind, name, role, Ready and reason, a mark on the
/// blocking node), its details and, when it is not ready, its message below it.
pub fn render_tree(root: &Node) -> String {
    let mut out = String::new();
    render(root, "", "", &mut out);
    out
}

fn headline(n: &Node) -> String {
    let mut s = format!("{} {}", n.kind, n.name);
    if let Some(r) = &n.role {
        s.push_str(&format!(" ({r})"));
    }
    match (&n.ready, &n.reason) {
        (Some(ready), Some(reason)) if n.kind == "EffectivePlan" => s.push_str(&format!("  {ready}: {reason}")),
        (Some(ready), _) if n.kind == "EffectivePlan" => s.push_str(&format!("  {ready}")),
        (Some(ready), Some(reason)) => s.push_str(&format!("  Ready={ready} {reason}")),
        (Some(ready), None) => s.push_str(&format!("  Ready={ready}")),
        _ => {}
    }
    if n.blocking {
        s.push_str("  <== BLOCKING");
    }
    s
}

fn render(n: &Node, first: &str, rest: &str, out: &mut String) {
    out.push_str(first);
    out.push_str(&headline(n));
    out.push('\n');
    let more = !n.children.is_empty();
    let bar = if more { "│  " } else { "   " };
    if let Some(u) = &n.unreadable {
        out.push_str(&format!("{rest}{bar}! {u}\n"));
    }
    if !n.is_ready()
        && let Some(m) = &n.message
        && !m.is_empty()
    {
        out.push_str(&format!("{rest}{bar}{m}\n"));
    }
    for (k, v) in &n.details.0 {
        out.push_str(&format!("{rest}{bar}{k}: {v}\n"));
    }
    let count = n.children.len();
    for (i, c) in n.children.iter().enumerate() {
        let (f, r) = if i + 1 == count {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        render(c, &format!("{rest}{f}"), &format!("{rest}{r}"), out);
    }
}

/// Renders `root` in `format`.
pub fn format_node(root: &Node, format: Format) -> anyhow::Result<String> {
    Ok(match format {
        Format::Tree => render_tree(root),
        Format::Json => serde_json::to_string_pretty(root)? + "\n",
        Format::Yaml => serde_saphyr::to_string(root).context("YAML")?,
    })
}

pub async fn run(args: TraceArgs) -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("cannot reach the Kubernetes API (kubeconfig)")?;
    let root = match &args.target {
        Target::Reseller { name } => trace_reseller(client, name).await?,
        Target::Connection { reference } => trace_connection(client, reference).await?,
        Target::Customer { reference } => trace_customer(client, reference).await?,
    };
    print!("{}", format_node(&root, args.output)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: &str, ready: Option<&str>) -> Node {
        Node {
            ready: ready.map(str::to_string),
            ..Node::new(kind, "x")
        }
    }

    #[test]
    fn the_blocking_node_is_the_first_failing_one_from_the_account_up() {
        let missing = Node::unreadable(
            "PartnerCenterConnection",
            "ns/x",
            "PartnerCenterConnection ns/x does not exist".into(),
        );
        let forbidden = Node::unreadable(
            "PartnerCenterConnection",
            "ns/x",
            "forbidden: you may not read it".into(),
        );
        // (case, effective ready, reason, plan node, connection node, which is marked)
        let cases: Vec<(&str, &str, &str, Node, Node, &str)> = vec![
            (
                "usable: nothing",
                "usable",
                "",
                node("CustomerPlan", Some("True")),
                node("PartnerCenterConnection", Some("True")),
                "none",
            ),
            (
                "connection not ready",
                "unusable",
                "ConsentExpired",
                node("CustomerPlan", Some("False")),
                node("PartnerCenterConnection", Some("False")),
                "connection",
            ),
            (
                "connection missing",
                "unusable",
                "ConnectionNotFound",
                node("CustomerPlan", Some("False")),
                missing,
                "connection",
            ),
            (
                "connection pending",
                "unusable",
                "ConnectionPending",
                node("CustomerPlan", Some("Unknown")),
                node("PartnerCenterConnection", Some("Unknown")),
                "connection",
            ),
            (
                "plan not ready, connection fine",
                "unusable",
                "PlanConnectionMismatch",
                node("CustomerPlan", Some("False")),
                node("PartnerCenterConnection", Some("True")),
                "plan",
            ),
            (
                "a rule of the grant itself",
                "unusable",
                "SandboxOnlyReseller",
                node("CustomerPlan", Some("True")),
                node("PartnerCenterConnection", Some("True")),
                "grant",
            ),
            (
                "connection unreadable (403): the grant",
                "unusable",
                "SandboxOnlyReseller",
                node("CustomerPlan", Some("True")),
                forbidden,
                "grant",
            ),
        ];
        for (case, ready, reason, plan, conn, want) in cases {
            let mut e = node("EffectivePlan", Some(ready));
            e.reason = (!reason.is_empty()).then(|| reason.to_string());
            e.children = vec![plan, conn];
            mark_blocking(&mut e);
            let got = match (e.blocking, e.children[0].blocking, e.children[1].blocking) {
                (false, false, false) => "none",
                (true, false, false) => "grant",
                (false, true, false) => "plan",
                (false, false, true) => "connection",
                _ => "several",
            };
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn references_are_namespace_slash_name() {
        let cases = [
            ("csp-system/contoso", Ok(("csp-system", "contoso"))),
            ("contoso", Err(())),
            ("/contoso", Err(())),
            ("csp-system/", Err(())),
            ("a/b/c", Err(())),
        ];
        for (input, want) in cases {
            let got = namespaced(input, "the connection");
            match want {
                Ok((ns, n)) => assert_eq!(got.unwrap(), (ns.to_string(), n.to_string()), "{input}"),
                Err(()) => assert!(got.unwrap_err().to_string().contains("NAMESPACE/NAME"), "{input}"),
            }
        }
    }

    #[test]
    fn the_tree_shows_unreadable_nodes_messages_of_failing_ones_and_the_mark() {
        let mut root = node("Reseller", Some("False"));
        root.name = "r".into();
        root.reason = Some("SandboxOnlyReseller".into());
        root.message = Some("why".into());
        let mut e = node("EffectivePlan", Some("unusable"));
        e.name = "p".into();
        e.reason = Some("SandboxOnlyReseller".into());
        e.blocking = true;
        e.details.push("source", "Plan");
        e.children
            .push(Node::unreadable("CustomerPlan", "p", "forbidden: no".into()));
        root.children.push(e);
        assert_eq!(
            render_tree(&root),
            "Reseller r  Ready=False SandboxOnlyReseller\n\
             │  why\n\
             └─ EffectivePlan p  unusable: SandboxOnlyReseller  <== BLOCKING\n   \
             │  source: Plan\n   \
             └─ CustomerPlan p\n         \
             ! forbidden: no\n"
        );
    }
}
