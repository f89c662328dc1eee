//! `what-if -f FILES`: the live channel with the given manifests applied in memory, evaluated by the
//! same pure rules as the operator (`policy::evaluate` on a Snapshot built by `controller::facts`),
//! compared with the live channel as it is. Nothing is written. It prints, per reseller, the effective
//! plans that would change connection or become unusable and the new findings, per plan the new
//! findings, and exits 1 when something that works now would stop working (or a new object would be
//! refused by the rules), so a provider's CI can run it on every change to the channel repository.

use crate::api::{CustomerPlan, PartnerCenterConnection, Reseller};
use crate::controller::facts::{connection_facts, plan_facts, reseller_facts};
use crate::policy::{self, Evaluation, Finding, RegionTable, Settings, Snapshot};
use anyhow::{Context as _, bail};
use clap::Args;
use kube::api::{Api, ListParams};
use kube::{Client, Resource, ResourceExt};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const GROUP_VERSION: &str = "channel.csp.dev/v1alpha1";

#[derive(Args, Clone, Debug)]
pub struct WhatIfArgs {
    /// Manifest files or directories (`.yaml`, `.yml`, `.json`, searched recursively); repeatable.
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<PathBuf>,
    /// The operator's provider namespace (its --provider-namespace).
    #[arg(long, env = "PCO_PROVIDER_NAMESPACE", default_value = "csp-system")]
    pub provider_namespace: String,
    /// The operator's --sandbox-standard-is-error.
    #[arg(long, env = "PCO_SANDBOX_STANDARD_IS_ERROR", default_value_t = false)]
    pub sandbox_standard_is_error: bool,
    /// The operator's --region-table (YAML: region code -> ISO countries).
    #[arg(long, env = "PCO_REGION_TABLE")]
    pub region_table: Option<PathBuf>,
}

/// The channel objects of the manifests, in file order; other kinds are skipped (and counted).
#[derive(Default, Debug)]
pub struct Manifests {
    pub resellers: Vec<Reseller>,
    pub plans: Vec<CustomerPlan>,
    pub connections: Vec<PartnerCenterConnection>,
    /// `Kind name` of documents that are not channel objects (Namespaces, Secrets, ...).
    pub skipped: Vec<String>,
}

#[derive(Deserialize)]
struct Head {
    #[serde(default, rename = "apiVersion")]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

impl Manifests {
    /// Parses one YAML (or JSON) stream; `origin` names it in refusals.
    pub fn parse(&mut self, text: &str, origin: &str) -> anyhow::Result<()> {
        let docs: Vec<serde_json::Value> =
            serde_saphyr::from_multiple(text).map_err(|e| anyhow::anyhow!("{origin}: not YAML: {e}"))?;
        for (i, doc) in docs.into_iter().enumerate() {
            if doc.is_null() {
                continue;
            }
            let where_ = format!("{origin} (document {})", i + 1);
            let head: Head = serde_json::from_value(doc.clone()).with_context(|| where_.clone())?;
            let name = head
                .metadata
                .as_ref()
                .and_then(|m| m.get("name"))
                .and_then(|n| n.as_str())
                .unwrap_or("")
                .to_string();
            if head.kind == "List" {
                bail!("{where_}: a List; write the items as separate documents (---)");
            }
            if head.api_version != GROUP_VERSION {
                self.skipped.push(format!("{} {name}", head.kind));
                continue;
            }
            let bad = |e: serde_json::Error| anyhow::anyhow!("{where_}: {} '{name}': {e}", head.kind);
            match head.kind.as_str() {
                "Reseller" => self.resellers.push(serde_json::from_value(doc).map_err(bad)?),
                "CustomerPlan" => self.plans.push(serde_json::from_value(doc).map_err(bad)?),
                "PartnerCenterConnection" => {
                    let mut c: PartnerCenterConnection = serde_json::from_value(doc).map_err(bad)?;
                    if c.namespace().is_none() {
                        bail!("{where_}: PartnerCenterConnection '{name}' has no metadata.namespace: add it");
                    }
                    c.metadata.namespace = c.namespace();
                    self.connections.push(c);
                }
                // Customers do not change any rule's outcome (docs/rules.md); nor do other kinds.
                other => self.skipped.push(format!("{other} {name}")),
            }
        }
        Ok(())
    }

    pub fn read(paths: &[PathBuf]) -> anyhow::Result<Manifests> {
        let mut m = Manifests::default();
        for p in paths {
            for file in manifest_files(p)? {
                let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
                m.parse(&text, &file.display().to_string())?;
            }
        }
        Ok(m)
    }

    fn count(&self) -> usize {
        self.resellers.len() + self.plans.len() + self.connections.len()
    }
}

/// The files under `path` (itself when a file), sorted, as kubectl apply -R would take them.
fn manifest_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        if !path.exists() {
            bail!("-f {}: no such file or directory", path.display());
        }
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read directory {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            out.extend(manifest_files(&e)?);
        } else if e
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| matches!(x, "yaml" | "yml" | "json"))
        {
            out.push(e);
        }
    }
    Ok(out)
}

/// The live objects.
#[derive(Clone, Debug, Default)]
pub struct Live {
    pub resellers: Vec<Reseller>,
    pub plans: Vec<CustomerPlan>,
    pub connections: Vec<PartnerCenterConnection>,
}

/// `live` with `manifests` applied as `kubectl apply` would leave the specs: a manifest's spec,
/// labels and annotations replace the live object's; its status (the operator's memory: health,
/// bindings) is kept. A spec change moves the generation, so the operator's last verdict on that
/// object no longer counts (a changed connection is Unknown until it is synced again), exactly as
/// the operator would see it right after the apply.
pub fn apply(live: &Live, manifests: &Manifests) -> Live {
    Live {
        resellers: merge(&live.resellers, &manifests.resellers),
        plans: merge(&live.plans, &manifests.plans),
        connections: merge(&live.connections, &manifests.connections),
    }
}

fn merge<K: Applied>(live: &[K], changes: &[K]) -> Vec<K> {
    let key = |k: &K| (k.meta().namespace.clone(), k.meta().name.clone());
    let mut out: Vec<K> = live.to_vec();
    for c in changes {
        match out.iter_mut().find(|o| key(o) == key(c)) {
            Some(o) => {
                let changed = !o.same_spec(c);
                let mut next = c.clone();
                let old = o.meta();
                let meta = next.meta_mut();
                meta.uid = old.uid.clone();
                meta.creation_timestamp = old.creation_timestamp.clone();
                meta.deletion_timestamp = old.deletion_timestamp.clone();
                meta.generation = old.generation.map(|g| if changed { g.saturating_add(1) } else { g });
                next.keep_status_of(o);
                *o = next;
            }
            None => out.push(c.clone()),
        }
    }
    out
}

/// What `apply` needs of the three kinds.
trait Applied: Resource + Clone {
    fn same_spec(&self, other: &Self) -> bool;
    /// Manifests carry no status the API server would accept: the live one stays.
    fn keep_status_of(&mut self, live: &Self);
}

macro_rules! applied {
    ($($kind:ty),*) => {$(
        impl Applied for $kind {
            fn same_spec(&self, other: &Self) -> bool {
                self.spec == other.spec
            }
            fn keep_status_of(&mut self, live: &Self) {
                self.status = live.status.clone();
            }
        }
    )*};
}
applied!(Reseller, CustomerPlan, PartnerCenterConnection);

/// The rules' view of `objects` (the operator's facts functions).
pub fn snapshot(objects: &Live) -> Snapshot {
    Snapshot::new(
        objects.resellers.iter().map(reseller_facts),
        objects.plans.iter().map(plan_facts),
        objects.connections.iter().map(connection_facts),
    )
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// `Reseller NAME` or `CustomerPlan NAME`.
    pub object: String,
    pub text: String,
    /// Something that works now would stop working (or a new object would be refused).
    pub breaks: bool,
}

fn finding_text(f: &Finding) -> String {
    format!("{}: {}", f.reason, f.message)
}

fn new_findings<'a>(before: &[Finding], after: &'a [Finding]) -> Vec<&'a Finding> {
    let seen: BTreeSet<(&str, &str)> = before.iter().map(|f| (f.reason.as_str(), f.message.as_str())).collect();
    after
        .iter()
        .filter(|f| !seen.contains(&(f.reason.as_str(), f.message.as_str())))
        .collect()
}

/// What changes between two evaluations, per reseller then per plan, sorted by name.
pub fn compare(before: &Evaluation, after: &Evaluation) -> Vec<Change> {
    let mut out = Vec::new();
    for (name, a) in &after.resellers {
        let object = format!("Reseller {name}");
        let Some(b) = before.resellers.get(name) else {
            let refused: Vec<&Finding> = a.errors.iter().filter(|f| !f.is_pending()).collect();
            for f in &a.errors {
                out.push(Change {
                    object: object.clone(),
                    text: format!("new Reseller, not ready: {}", finding_text(f)),
                    breaks: !f.is_pending(),
                });
            }
            if refused.is_empty() && a.errors.is_empty() {
                out.push(Change {
                    object: object.clone(),
                    text: format!("new Reseller, {} effective plans, all usable", a.effective_plans.len()),
                    breaks: false,
                });
            }
            continue;
        };
        // Problems already shown on a plan line are not repeated as findings.
        let mut shown: BTreeSet<(String, String)> = BTreeSet::new();
        let old: BTreeMap<&str, &policy::EffectivePlan> =
            b.effective_plans.iter().map(|e| (e.plan.as_str(), e)).collect();
        for e in &a.effective_plans {
            let show = |c: &Option<crate::api::ConnectionRef>| c.as_ref().map_or("none".to_string(), |c| c.to_string());
            let Some(o) = old.get(e.plan.as_str()) else {
                out.push(Change {
                    object: object.clone(),
                    text: format!(
                        "plan {}: newly granted, connection {}, {}",
                        e.plan,
                        show(&e.connection),
                        usability(e)
                    ),
                    breaks: !e.usable && !e.problems.iter().all(Finding::is_pending),
                });
                continue;
            };
            let moved = o.connection != e.connection;
            let lost = o.usable && !e.usable;
            if !moved && !lost {
                continue;
            }
            let mut text = format!("plan {}:", e.plan);
            if moved {
                text.push_str(&format!(
                    " connection {} -> {}",
                    show(&o.connection),
                    show(&e.connection)
                ));
                if moved && lost {
                    text.push(',');
                }
            }
            if lost {
                text.push_str(&format!(" usable -> {}", usability(e)));
                shown.extend(e.problems.iter().map(|f| (f.reason.clone(), f.message.clone())));
            }
            out.push(Change {
                object: object.clone(),
                text,
                breaks: lost && !e.problems.iter().all(Finding::is_pending),
            });
        }
        for e in &b.effective_plans {
            if !a.effective_plans.iter().any(|x| x.plan == e.plan) {
                out.push(Change {
                    object: object.clone(),
                    text: format!("plan {}: no longer granted", e.plan),
                    breaks: false,
                });
            }
        }
        let was_ready = b.ready.is_true();
        for f in new_findings(&b.errors, &a.errors) {
            if shown.contains(&(f.reason.clone(), f.message.clone())) {
                continue;
            }
            out.push(Change {
                object: object.clone(),
                text: format!("new finding: {}", finding_text(f)),
                // Ready -> not ready is what breaks a reseller; more reasons on one already
                // failing is reported, not counted.
                breaks: was_ready && !f.is_pending(),
            });
        }
        for f in new_findings(&b.warnings, &a.warnings) {
            out.push(Change {
                object: object.clone(),
                text: format!("new warning: {}", finding_text(f)),
                breaks: false,
            });
        }
    }
    for (name, a) in &after.plans {
        let object = format!("CustomerPlan {name}");
        let (before_errors, was_ready, is_new) = match before.plans.get(name) {
            Some(b) => (b.errors.as_slice(), b.ready.is_true(), false),
            None => (&[][..], false, true),
        };
        for f in new_findings(before_errors, &a.errors) {
            out.push(Change {
                object: object.clone(),
                text: format!(
                    "{}: {}",
                    if is_new { "new plan, not ready" } else { "new finding" },
                    finding_text(f)
                ),
                breaks: (was_ready || is_new) && !f.is_pending(),
            });
        }
    }
    out
}

fn usability(e: &policy::EffectivePlan) -> String {
    if e.usable {
        "usable".into()
    } else {
        format!(
            "NOT USABLE: {}: {}",
            e.reason.as_deref().unwrap_or("?"),
            e.message.as_deref().unwrap_or("")
        )
    }
}

/// The report and whether something would break.
pub fn report(manifests: &Manifests, changes: &[Change]) -> (String, bool) {
    let mut out = format!(
        "what-if: {} channel object(s) from the manifests applied in memory to the live channel; nothing was written\n",
        manifests.count()
    );
    if !manifests.skipped.is_empty() {
        out.push_str(&format!(
            "skipped (not channel objects): {}\n",
            manifests.skipped.join(", ")
        ));
    }
    let mut current = "";
    for c in changes {
        if c.object != current {
            out.push_str(&format!("{}\n", c.object));
            current = &c.object;
        }
        out.push_str(&format!("  {}{}\n", if c.breaks { "BREAKS " } else { "" }, c.text));
    }
    let broken: BTreeSet<&str> = changes.iter().filter(|c| c.breaks).map(|c| c.object.as_str()).collect();
    let breaks = !broken.is_empty();
    if changes.is_empty() {
        out.push_str("no effective plan, reseller or plan would change\n");
    }
    if breaks {
        out.push_str(&format!(
            "would break {} object(s): {}\n",
            broken.len(),
            broken.into_iter().collect::<Vec<_>>().join(", ")
        ));
    } else {
        out.push_str("nothing that works now would break\n");
    }
    (out, breaks)
}

async fn list_all<K>(client: &Client, what: &str) -> anyhow::Result<Vec<K>>
where
    K: Resource<Scope = k8s_openapi::ClusterResourceScope> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    list_with(Api::<K>::all(client.clone()), what).await
}

async fn list_with<K>(api: Api<K>, what: &str) -> anyhow::Result<Vec<K>>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.list(&ListParams::default()).await {
        Ok(l) => Ok(l.items),
        Err(kube::Error::Api(s)) if s.code == 403 => bail!(
            "what-if needs to list every {what} (the whole channel decides each outcome), and you may not: {} \
             — run it as a provider admin (deploy/rbac/provider-admin.yaml)",
            s.message
        ),
        Err(e) => Err(e).with_context(|| format!("cannot list {what}")),
    }
}

pub async fn read_live(client: &Client) -> anyhow::Result<Live> {
    Ok(Live {
        resellers: list_all::<Reseller>(client, "Reseller").await?,
        plans: list_all::<CustomerPlan>(client, "CustomerPlan").await?,
        connections: list_with(
            Api::<PartnerCenterConnection>::all(client.clone()),
            "PartnerCenterConnection",
        )
        .await?,
    })
}

pub fn settings(args: &WhatIfArgs) -> anyhow::Result<Settings> {
    let mut s = Settings::new(args.provider_namespace.clone());
    s.sandbox_standard_is_error = args.sandbox_standard_is_error;
    if let Some(path) = &args.region_table {
        let text = std::fs::read_to_string(path).with_context(|| format!("--region-table {}", path.display()))?;
        let overrides: BTreeMap<String, Vec<String>> =
            serde_saphyr::from_str(&text).map_err(|e| anyhow::anyhow!("--region-table {}: {e}", path.display()))?;
        s.regions = RegionTable::with_overrides(&overrides).map_err(|e| anyhow::anyhow!("--region-table: {e}"))?;
    }
    Ok(s)
}

/// Exit code: 1 when something would break.
pub async fn run(args: WhatIfArgs) -> anyhow::Result<i32> {
    let manifests = Manifests::read(&args.files)?;
    let settings = settings(&args)?;
    let client = Client::try_default()
        .await
        .context("cannot reach the Kubernetes API (kubeconfig)")?;
    let live = read_live(&client).await?;
    let before = policy::evaluate(&snapshot(&live), &settings);
    let after = policy::evaluate(&snapshot(&apply(&live, &manifests)), &settings);
    let (text, breaks) = report(&manifests, &compare(&before, &after));
    print!("{text}");
    Ok(i32::from(breaks))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = "apiVersion: channel.csp.dev/v1alpha1
kind: CustomerPlan
metadata: {name: nz-indirect-production}
spec:
  displayName: NZ Indirect Production
  region: NZ
  cspType: IndirectProvider
  environment: Production
  connectionRef: {namespace: csp-system, name: CONNECTION}
";

    fn live_plan() -> CustomerPlan {
        let mut p: CustomerPlan = serde_saphyr::from_str(&PLAN.replace("CONNECTION", "contoso-nz-production")).unwrap();
        p.metadata.uid = Some("u1".into());
        p.metadata.generation = Some(4);
        p.status = Some(Default::default());
        p
    }

    #[test]
    fn manifests_replace_the_spec_keep_identity_and_status_and_move_the_generation() {
        // (manifest's connection, generation after, connectionRef after)
        let cases = [
            ("contoso-nz-production", 4, "contoso-nz-production"),
            ("contoso-eur-sandbox", 5, "contoso-eur-sandbox"),
        ];
        for (connection, generation, want) in cases {
            let mut m = Manifests::default();
            m.parse(&PLAN.replace("CONNECTION", connection), "plans.yaml").unwrap();
            let live = Live {
                plans: vec![live_plan()],
                ..Live::default()
            };
            let after = apply(&live, &m);
            let p = &after.plans[0];
            assert_eq!(after.plans.len(), 1, "{connection}");
            assert_eq!(p.metadata.generation, Some(generation), "{connection}");
            assert_eq!(p.metadata.uid.as_deref(), Some("u1"), "{connection}");
            assert!(p.status.is_some(), "{connection}");
            assert_eq!(p.spec.connection_ref.name, want);
        }
    }

    #[test]
    fn bad_manifests_are_refused_naming_the_document() {
        let cases = [
            (
                "kind: List\napiVersion: v1\nitems: []\n",
                "plans.yaml (document 1): a List",
            ),
            (
                "apiVersion: channel.csp.dev/v1alpha1\nkind: PartnerCenterConnection\nmetadata: {name: x}\nspec: {}\n",
                "plans.yaml (document 1): PartnerCenterConnection 'x'",
            ),
            ("a: [", "plans.yaml: not YAML"),
        ];
        for (text, want) in cases {
            let err = Manifests::default().parse(text, "plans.yaml").unwrap_err().to_string();
            assert!(err.starts_with(want), "{text:?}: {err}");
        }
        let mut m = Manifests::default();
        m.parse(
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns}\n---\n",
            "all.yaml",
        )
        .unwrap();
        assert_eq!(m.skipped, ["Namespace ns"]);
    }
}
