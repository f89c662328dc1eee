//! `CustomerPlan`: an Azure AD customer plan of the provider's catalog (docs/reference/api.md).
// Repeated `printcolumn(type_ = ..)` keys are separate columns, not duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use super::common::{ConnectionRef, CspType, Environment};
use super::rules;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An Azure AD customer plan: what customers are provisioned against, and the Partner Center
/// connection provisioning goes through by default.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "channel.csp.dev",
    version = "v1alpha1",
    kind = "CustomerPlan",
    plural = "customerplans",
    singular = "customerplan",
    shortname = "cplan",
    category = "channel",
    status = "CustomerPlanStatus",
    doc = "An Azure AD customer plan of the provider's catalog and its default Partner Center connection.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(name = "Display Name", type_ = "string", json_path = ".spec.displayName"),
    printcolumn(name = "Region", type_ = "string", json_path = ".spec.region"),
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.cspType"),
    printcolumn(name = "Environment", type_ = "string", json_path = ".spec.environment"),
    printcolumn(name = "Connection", type_ = "string", json_path = ".spec.connectionRef.name"),
    printcolumn(
        name = "Connection Namespace",
        type_ = "string",
        json_path = ".spec.connectionRef.namespace",
        priority = "1"
    ),
    printcolumn(
        name = "Resellers",
        type_ = "integer",
        json_path = ".status.resellerCount",
        priority = "1"
    ),
    printcolumn(
        name = "Message",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].message",
        priority = "1"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = rules::plan_name_agrees())]
#[serde(rename_all = "camelCase")]
pub struct CustomerPlanSpec {
    /// Name following the naming convention `[<ShortName> ]<Region> <Direct|Indirect> <Production|Sandbox>`
    /// with single spaces, e.g. `EUR Direct Sandbox`, `NZ Indirect Production`, or, for a plan named for
    /// one reseller, `CNZ NZ Indirect Production`. The last three words must agree with region,
    /// cspType and environment.
    #[schemars(length(max = 64))]
    #[x_kube(validation = rules::plan_name_format())]
    pub display_name: String,

    /// Region code the plan provisions in (upper-case, 2-5 letters); must equal its connection's.
    #[schemars(length(max = 16))]
    #[x_kube(validation = rules::region_format())]
    pub region: String,

    /// `Direct` or `IndirectProvider`; must equal its connection's. `IndirectReseller` is refused:
    /// indirect resellers have no Partner Center API access.
    #[schemars(schema_with = "rules::csp_type_schema")]
    #[x_kube(validation = rules::csp_type_not_indirect_reseller(), validation = rules::csp_type_value())]
    pub csp_type: CspType,

    /// `Production` or `Sandbox`; must equal its connection's.
    pub environment: Environment,

    /// The default PartnerCenterConnection: in the provider namespace, or, only for a plan named
    /// for one reseller, in that reseller's namespace.
    pub connection_ref: ConnectionRef,

    /// Whether Customers may create new tenants through this plan (absent means false). Allowed for
    /// `Direct` and for `IndirectProvider` (an indirect provider creates the customer on behalf of one
    /// of its indirect resellers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_tenant_creation: Option<bool>,

    /// Informational settings carried into the effective plans for the provisioning system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<SyncPolicy>,
}

/// Informational synchronisation settings of a plan.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicy {
    /// Which side is the master directory for customer data: `AzureAD` or `Platform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_directory: Option<MasterDirectory>,
}

/// Master directory of customer data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum MasterDirectory {
    AzureAD,
    Platform,
}

/// The identity of the PartnerCenterConnection a provider decision (a plan's `connectionRef`, a
/// reseller's `connectionOverride`) was bound to, as the operator recorded it. Names can be reused
/// by whoever may write the connection's namespace; uids cannot.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionBinding {
    /// `metadata.uid` of the connection.
    #[schemars(length(max = 64))]
    pub uid: String,
    /// `spec.partnerTenantId` of the connection.
    #[schemars(length(max = 64))]
    pub partner_tenant_id: String,
}

/// Observed state of a plan, written only by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerPlanStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Ready` and `ConnectionReady`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// The connection the plan resolved to (its `connectionRef`, once found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionRef>,

    /// The identity `connection` had when the plan was bound to it (first resolved, re-pointed or
    /// confirmed). A connection of that name with another uid or partnerTenantId (deleted and
    /// recreated) is not used — reason `ConnectionReplaced` — until the provider lists its uid in
    /// the plan's annotation `channel.csp.dev/confirm-connection`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_binding: Option<ConnectionBinding>,

    /// How many resellers the plan is exposed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reseller_count: Option<i32>,
}
