//! `Reseller`: a customer with the reseller service, one node of the reseller tree (docs/reference/api.md).
//!
//! No field a reseller's own admin is refused to change (everything but `displayName`) has a
//! schema `default:`: a default would make every create look like a change to the
//! ValidatingAdmissionPolicy in deploy/admission/reseller-guard.yaml.
// Repeated `printcolumn(type_ = ..)` keys are separate columns, not duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use super::common::{ConnectionRef, CspType, CustomerType, Environment};
use super::plan::{ConnectionBinding, MasterDirectory};
use super::rules;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A reseller (or the service provider itself, the root of the tree) and the customer plans
/// granted to it.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "channel.csp.dev",
    version = "v1alpha1",
    kind = "Reseller",
    plural = "resellers",
    singular = "reseller",
    shortname = "rsl",
    category = "channel",
    status = "ResellerStatus",
    doc = "A reseller in the provider's reseller tree and the customer plans granted to it.",
    validation = rules::not_own_parent(),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Reason", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].reason"),
    printcolumn(name = "Plans", type_ = "string", json_path = ".status.plans"),
    printcolumn(name = "Warnings", type_ = "integer", json_path = ".status.warningCount"),
    printcolumn(name = "Short Name", type_ = "string", json_path = ".spec.shortName"),
    printcolumn(name = "Parent", type_ = "string", json_path = ".spec.parent"),
    printcolumn(name = "Namespace", type_ = "string", json_path = ".spec.namespace"),
    printcolumn(name = "Region", type_ = "string", json_path = ".spec.region"),
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.customerType", priority = "1"),
    printcolumn(name = "Display Name", type_ = "string", json_path = ".spec.displayName", priority = "1"),
    printcolumn(name = "Message", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].message", priority = "1"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = rules::namespace_fixed_once_set(), validation = rules::sandbox_only_consistent())]
#[serde(rename_all = "camelCase")]
pub struct ResellerSpec {
    /// Human-readable name; not unique. The only field a reseller's own admins may change.
    #[schemars(length(max = 256))]
    pub display_name: String,

    /// Short code of the reseller, 2-16 upper-case letters or digits (`^[A-Z0-9]{2,16}$`), unique
    /// across resellers; it prefixes the names of plans named for this reseller. Immutable.
    #[schemars(length(max = 32))]
    #[x_kube(
        validation = rules::short_name_format(),
        validation = rules::immutable("shortName", "create a new Reseller to use another short name")
    )]
    pub short_name: String,

    /// Name of the parent Reseller. Absent only on the root (the service provider itself; there is
    /// exactly one). Provider-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    #[x_kube(validation = rules::dns_subdomain("parent"))]
    pub parent: Option<String>,

    /// `Standard`, `Test` or `Demo`; absent means `Standard`. Test and Demo resellers are
    /// sandbox-only. Provider-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_type: Option<CustomerType>,

    /// The reseller's own namespace, where its own PartnerCenterConnections and their Secrets live;
    /// unique across resellers; the root's is the provider namespace. Immutable once set (cannot be
    /// removed either). Provider-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    #[x_kube(validation = rules::dns_label("namespace"))]
    pub namespace: Option<String>,

    /// Optional home region code (upper-case, 2-5 letters): the reseller may then only be granted
    /// plans of that region. Provider-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    #[x_kube(validation = rules::region_format())]
    pub region: Option<String>,

    /// `true`: may only be granted Sandbox plans (the internal test reseller). Implied by
    /// customerType Test or Demo; absent means false for Standard. Provider-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_only: Option<bool>,

    /// The services of this reseller's reseller service. Provider-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<ResellerServices>,

    /// This reseller's own identity as a Microsoft indirect reseller (Tier 2 partner) of the provider.
    /// Customers of this reseller or its subtree provisioned through the provider's IndirectProvider
    /// connections are associated with it in Partner Center. Provider-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indirect_reseller: Option<IndirectResellerIdentity>,
}

/// A reseller's identity as a Microsoft indirect reseller.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IndirectResellerIdentity {
    /// The indirect reseller's Entra tenant id (a GUID): sent as the customer's `associatedPartnerId`,
    /// and it must be among the connection's Active indirect resellers.
    #[schemars(length(max = 64))]
    #[x_kube(validation = rules::guid("indirectReseller.tenantId", "the indirect reseller's Entra tenant id"))]
    pub tenant_id: String,

    /// The indirect reseller's Microsoft partner (MPN) id, digits only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    #[x_kube(validation = rules::mpn_id())]
    pub mpn_id: Option<String>,
}

impl ResellerSpec {
    /// The customer type, `Standard` when absent.
    pub fn customer_type(&self) -> CustomerType {
        self.customer_type.unwrap_or_default()
    }

    /// Sandbox-only explicitly, or implied by customer type Test or Demo (rule 7).
    pub fn is_sandbox_only(&self) -> bool {
        self.sandbox_only.unwrap_or(false) || matches!(self.customer_type(), CustomerType::Test | CustomerType::Demo)
    }

    /// Granted plans, or none when the Azure AD service is absent or disabled.
    pub fn active_plan_grants(&self) -> &[PlanGrant] {
        match self.services.as_ref().and_then(|s| s.azure_ad.as_ref()) {
            Some(aad) if aad.enabled => &aad.customer_plans,
            _ => &[],
        }
    }
}

/// Services of a reseller service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResellerServices {
    /// The Azure AD service: the customer plans this reseller may provision through.
    #[serde(rename = "azureAD", default, skip_serializing_if = "Option::is_none")]
    pub azure_ad: Option<AzureAdService>,
}

/// The Azure AD service of a reseller.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AzureAdService {
    /// Whether the service is on. `false` makes every grant inactive (no effective plans).
    pub enabled: bool,

    /// Customer plans granted to the reseller, keyed by `plan` (no duplicates, at most 64). An
    /// entry may override, for this reseller and its sub-resellers, the connection behind the plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["plan"]))]
    pub customer_plans: Vec<PlanGrant>,
}

/// One plan granted to a reseller.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlanGrant {
    /// Name of the CustomerPlan.
    #[schemars(length(max = 253))]
    #[x_kube(validation = rules::dns_subdomain("plan"))]
    pub plan: String,

    /// The reseller's own PartnerCenterConnection to use for this plan instead of the plan's
    /// (`{namespace, name}`; the namespace must be this reseller's or an ancestor's). Only the
    /// provider may add, change or remove it (RBAC: update on resellers/connectionoverride).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_override: Option<ConnectionRef>,
}

/// Observed state of a reseller, written only by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResellerStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Ready` (True only when the hierarchy is valid and every granted plan is usable),
    /// `HierarchyValid` and `PlansValid`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// Non-blocking findings (also sent as Warning Events).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,

    /// How many entries `warnings` has (a column of `kubectl get rsl`: a Ready reseller may still warn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning_count: Option<i32>,

    /// Usable and granted effective plans as `usable/granted`, e.g. `1/2` (a column of `kubectl get rsl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    pub plans: Option<String>,

    /// Names of the ancestors, parent first, ending at the root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ancestors: Vec<String>,

    /// For every granted plan, the one connection provisioning must use (at most one per grant,
    /// so at most 64; the bound keeps the API server's CEL cost estimate finite).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["plan"]))]
    pub effective_plans: Vec<EffectivePlan>,
}

impl ResellerStatus {
    /// The recorded connection and binding (`effectivePlans[].connection` and `.connectionBinding`)
    /// of each effective plan whose connection is this reseller's own `connectionOverride`, of a
    /// full status (a cached one keeps them in its facts). Only these are ever read: through the
    /// plan's connection the plan's own binding decides, and an inherited override is decided by
    /// the binding of the reseller that set it. The others are a status for people, not a memory.
    pub fn recorded_bindings(&self) -> impl Iterator<Item = (&str, &ConnectionRef, &ConnectionBinding)> {
        self.effective_plans
            .iter()
            .filter(|e| e.source == ConnectionSource::Override)
            .filter_map(|e| Some((e.plan.as_str(), e.connection.as_ref()?, e.connection_binding.as_ref()?)))
    }
}

/// Where an effective plan's connection comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ConnectionSource {
    /// The plan's own `connectionRef`.
    Plan,
    /// This reseller's `connectionOverride`.
    Override,
    /// An ancestor's `connectionOverride` for the same plan (see `inheritedFrom`).
    Inherited,
}

/// The connection provisioning must use for one granted plan.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EffectivePlan {
    /// Name of the CustomerPlan.
    pub plan: String,
    /// The plan's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The PartnerCenterConnection provisioning must use (absent when none can be resolved, e.g.
    /// the plan does not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionRef>,
    /// The identity `connection` had when the decision naming it was bound to it (first resolved,
    /// re-pointed or confirmed). The decision is the CustomerPlan's `connectionRef` (source `Plan`)
    /// or the `connectionOverride` of this Reseller or of `inheritedFrom`: a connection of that name
    /// with another uid or partnerTenantId (deleted and recreated) is not used — reason
    /// `ConnectionReplaced` — until the provider lists its uid in the annotation
    /// `channel.csp.dev/confirm-connection` of that CustomerPlan or Reseller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_binding: Option<ConnectionBinding>,
    /// `Plan`, `Override` or `Inherited`.
    pub source: ConnectionSource,
    /// The ancestor Reseller whose override is inherited (source `Inherited`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherited_from: Option<String>,
    /// Region code of the plan (absent when the plan does not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Account type of the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csp_type: Option<CspType>,
    /// Environment of the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// Whether provisioning may use this plan now. When false there is no fallback.
    pub usable: bool,
    /// Why the plan is not usable (CamelCase).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable detail of `reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The plan's master directory, for the provisioning system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_directory: Option<MasterDirectory>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(customer_type: Option<CustomerType>, sandbox_only: Option<bool>, enabled: Option<bool>) -> ResellerSpec {
        ResellerSpec {
            display_name: "R".into(),
            short_name: "R1".into(),
            parent: Some("provider".into()),
            customer_type,
            namespace: None,
            region: None,
            sandbox_only,
            indirect_reseller: None,
            services: enabled.map(|enabled| ResellerServices {
                azure_ad: Some(AzureAdService {
                    enabled,
                    customer_plans: vec![PlanGrant {
                        plan: "eur-direct-sandbox".into(),
                        connection_override: None,
                    }],
                }),
            }),
        }
    }

    #[test]
    fn sandbox_only_is_explicit_or_implied_by_test_and_demo() {
        let cases = [
            (None, None, false),
            (Some(CustomerType::Standard), None, false),
            (None, Some(true), true),
            (Some(CustomerType::Standard), Some(false), false),
            (Some(CustomerType::Test), None, true),
            (Some(CustomerType::Demo), None, true),
            (Some(CustomerType::Demo), Some(true), true),
        ];
        for (customer_type, sandbox_only, want) in cases {
            assert_eq!(
                spec(customer_type, sandbox_only, None).is_sandbox_only(),
                want,
                "{customer_type:?} {sandbox_only:?}"
            );
        }
    }

    #[test]
    fn disabled_or_absent_service_grants_nothing() {
        assert!(spec(None, None, None).active_plan_grants().is_empty());
        assert!(spec(None, None, Some(false)).active_plan_grants().is_empty());
        assert_eq!(spec(None, None, Some(true)).active_plan_grants().len(), 1);
    }

    #[test]
    fn absent_optional_fields_are_not_serialized() {
        // A null would be pruned by the API server, but a client-side apply would show a diff.
        let json = serde_json::to_value(spec(None, None, None)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"displayName": "R", "shortName": "R1", "parent": "provider"})
        );
    }
}
