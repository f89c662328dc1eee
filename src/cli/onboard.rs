//! `onboard-reseller NAME --parent P --namespace NS`: the objects a new reseller needs — its
//! Namespace, its admins' RBAC (deploy/rbac/reseller-admin-template.yaml, rendered) and the Reseller —
//! printed as YAML for Git, or applied with `--apply` (server-side apply, as the caller); then what is
//! left to do by hand (consent, connection, override, the operator's Secret access).

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::{Client, discovery};

/// The reseller-admin template, one copy per reseller (the same file the chart renders).
const ADMIN_TEMPLATE: &str = include_str!("../../deploy/rbac/reseller-admin-template.yaml");

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SubjectKind {
    User,
    Group,
}

#[derive(Args, Clone, Debug)]
pub struct OnboardArgs {
    /// Name of the new Reseller (cluster-scoped; a DNS subdomain).
    pub name: String,
    /// Its parent Reseller.
    #[arg(long)]
    pub parent: String,
    /// Its own namespace (connections, Secrets, Customers, Events for its admins).
    #[arg(long)]
    pub namespace: String,
    /// spec.shortName (2-16 upper-case letters or digits). Default: NAME in upper case without dashes.
    #[arg(long)]
    pub short_name: Option<String>,
    /// spec.displayName. Default: NAME.
    #[arg(long)]
    pub display_name: Option<String>,
    /// spec.region (e.g. NZ, EUR).
    #[arg(long)]
    pub region: Option<String>,
    /// Plans to grant (repeatable); each must be granted to the parent (rule 8).
    #[arg(long = "plan")]
    pub plans: Vec<String>,
    /// Kind of the admins' subject.
    #[arg(long, value_enum, default_value = "group")]
    pub admin_kind: SubjectKind,
    /// The reseller's admins (user or group name). Default: `<NAME>-admins`.
    #[arg(long)]
    pub admin: Option<String>,
    /// Apply the objects (server-side apply as you; a provider admin's rights are needed) instead of printing them.
    #[arg(long)]
    pub apply: bool,
}

/// The default short name: NAME upper-cased, without what a short name may not hold.
pub fn default_short_name(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .take(16)
        .collect()
}

fn check(args: &OnboardArgs) -> anyhow::Result<String> {
    let dns = |v: &str| {
        !v.is_empty()
            && v.len() <= 63
            && v.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !v.starts_with('-')
            && !v.ends_with('-')
    };
    if !dns(&args.name) {
        bail!(
            "NAME {:?}: use lower-case letters, digits and '-' (at most 63), e.g. fabrikam-nz",
            args.name
        );
    }
    if !dns(&args.namespace) {
        bail!(
            "--namespace {:?}: use lower-case letters, digits and '-' (at most 63), e.g. reseller-{}",
            args.namespace,
            args.name
        );
    }
    let short = args
        .short_name
        .clone()
        .unwrap_or_else(|| default_short_name(&args.name));
    if !(2..=16).contains(&short.len()) || !short.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
        bail!("--short-name {short:?}: 2-16 upper-case letters or digits, unique among resellers, e.g. FABNZ");
    }
    Ok(short)
}

/// The manifests, in apply order (the namespace first).
pub fn manifests(args: &OnboardArgs) -> anyhow::Result<String> {
    let short = check(args)?;
    let admin = args.admin.clone().unwrap_or_else(|| format!("{}-admins", args.name));
    let kind = match args.admin_kind {
        SubjectKind::User => "User",
        SubjectKind::Group => "Group",
    };
    let rbac: String = ADMIN_TEMPLATE
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("${RESELLER}", &args.name)
        .replace("${NAMESPACE}", &args.namespace)
        .replace("${SUBJECT_KIND}", kind)
        .replace("${SUBJECT_NAME}", &admin);
    let namespace = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {}\n  labels:\n    channel.csp.dev/reseller: {}\n",
        args.namespace, args.name
    );
    let mut reseller = format!(
        "apiVersion: channel.csp.dev/v1alpha1\nkind: Reseller\nmetadata:\n  name: {name}\nspec:\n  displayName: {display}\n  \
         shortName: {short}\n  parent: {parent}\n  namespace: {ns}\n",
        name = args.name,
        display = serde_json::to_string(args.display_name.as_deref().unwrap_or(&args.name))?,
        parent = args.parent,
        ns = args.namespace,
    );
    if let Some(r) = &args.region {
        reseller.push_str(&format!("  region: {r}\n"));
    }
    if !args.plans.is_empty() {
        reseller.push_str("  services:\n    azureAD:\n      enabled: true\n      customerPlans:\n");
        for p in &args.plans {
            reseller.push_str(&format!("        - plan: {p}\n"));
        }
    }
    Ok(format!("{namespace}---\n{}\n---\n{reseller}", rbac.trim()))
}

/// What is left once the objects exist.
pub fn next_steps(args: &OnboardArgs) -> String {
    let (name, ns) = (&args.name, &args.namespace);
    format!(
        "What is left:\n\
         1. Let the operator read the reseller's Secrets: add {ns} to the chart value rbac.secretNamespaces \
         (a connection there reports SecretForbidden until then).\n\
         2. Consent (if the reseller brings its own Partner Center account): partner-center-operator consent \
         --tenant-id <its tenant> --client-id <app> --namespace {ns} --secret-name {name}-credentials\n\
         3. Its connection: a PartnerCenterConnection in namespace {ns} with auth.secretRef.name {name}-credentials; \
         check it first with partner-center-operator check --connection {ns}/<connection>.\n\
         4. The override (provider admins only): in Reseller {name}, spec.services.azureAD.customerPlans[].connectionOverride \
         = {{namespace: {ns}, name: <connection>}} for each plan it provisions through its own account.\n\
         Then: kubectl channel trace reseller {name}\n"
    )
}

async fn apply_all(text: &str) -> anyhow::Result<Vec<String>> {
    let client = Client::try_default()
        .await
        .context("cannot reach the Kubernetes API (kubeconfig)")?;
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let params = PatchParams::apply("kubectl-channel-onboard");
    let mut done = Vec::new();
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        let obj: DynamicObject = serde_json::from_value(doc.clone())?;
        let types = obj.types.clone().context("a manifest without apiVersion/kind")?;
        let (group, version) = match types.api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), types.api_version.clone()),
        };
        let gvk = GroupVersionKind::gvk(&group, &version, &types.kind);
        let (resource, caps) = discovery::pinned_kind(&client, &gvk)
            .await
            .with_context(|| format!("the API server does not serve {}", types.kind))?;
        let name = obj.metadata.name.clone().unwrap_or_default();
        let api: Api<DynamicObject> = match (&caps.scope, &obj.metadata.namespace) {
            (discovery::Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &resource),
            _ => Api::all_with(client.clone(), &resource),
        };
        api.patch(&name, &params, &Patch::Apply(&doc))
            .await
            .with_context(|| format!("applying {} {name}", types.kind))?;
        done.push(describe(&resource, &obj));
    }
    Ok(done)
}

fn describe(resource: &ApiResource, obj: &DynamicObject) -> String {
    let name = obj.metadata.name.clone().unwrap_or_default();
    match &obj.metadata.namespace {
        Some(ns) => format!("{} {ns}/{name}", resource.kind),
        None => format!("{} {name}", resource.kind),
    }
}

pub async fn run(args: OnboardArgs) -> anyhow::Result<()> {
    let text = manifests(&args)?;
    if args.apply {
        for d in apply_all(&text).await? {
            println!("applied {d}");
        }
    } else {
        print!("{text}");
        println!("# apply with: kubectl apply -f <this file>  (or run again with --apply)");
    }
    eprint!("{}", next_steps(&args));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: OnboardArgs,
    }

    fn args(line: &str) -> OnboardArgs {
        T::parse_from(std::iter::once("x").chain(line.split_whitespace())).a
    }

    #[test]
    fn bad_input_is_refused_naming_the_argument() {
        let cases = [
            ("Fab --parent contoso --namespace rf", "NAME \"Fab\""),
            ("fab --parent contoso --namespace Rf", "--namespace \"Rf\""),
            ("f --parent contoso --namespace rf", "--short-name \"F\""),
            (
                "fab --parent contoso --namespace rf --short-name fab",
                "--short-name \"fab\"",
            ),
        ];
        for (line, want) in cases {
            let err = manifests(&args(line)).unwrap_err().to_string();
            assert!(err.starts_with(want), "{line}: {err}");
        }
    }

    #[test]
    fn the_manifests_are_the_namespace_the_rendered_template_and_the_reseller() {
        let text = manifests(&args(
            "fabrikam-nz --parent contoso --namespace reseller-fabrikam --region NZ --plan nz-indirect-production --admin-kind user --admin fab",
        ))
        .unwrap();
        assert!(!text.contains("${"), "a placeholder is left:\n{text}");
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "Namespace",
                "ClusterRole",
                "ClusterRoleBinding",
                "Role",
                "RoleBinding",
                "Reseller"
            ]
        );
        let r = &docs[5]["spec"];
        assert_eq!(r["shortName"], "FABRIKAMNZ");
        assert_eq!(r["parent"], "contoso");
        assert_eq!(r["namespace"], "reseller-fabrikam");
        assert_eq!(
            r["services"]["azureAD"]["customerPlans"][0]["plan"],
            "nz-indirect-production"
        );
        assert_eq!(docs[2]["subjects"][0]["kind"], "User");
        assert_eq!(docs[2]["subjects"][0]["name"], "fab");
        assert_eq!(docs[3]["metadata"]["namespace"], "reseller-fabrikam");
    }
}
