//! `PartnerCenterConnection`: one Microsoft Partner Center account (docs/reference/api.md).
// Repeated `printcolumn(type_ = ..)` keys are separate columns, not duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use super::common::{AuthMode, Cloud, CspType, Environment};
use super::rules;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One Microsoft Partner Center account. It lives in the namespace of the Secret that holds its
/// credentials; a connection can never read another namespace's credentials. Its identity
/// (partnerTenantId, region, cspType, environment, cloud) is immutable: to move to another
/// Partner Center account, create a new connection and re-point the plans.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "channel.csp.dev",
    version = "v1alpha1",
    kind = "PartnerCenterConnection",
    plural = "partnercenterconnections",
    singular = "partnercenterconnection",
    shortname = "pcc",
    category = "channel",
    namespaced,
    status = "PartnerCenterConnectionStatus",
    doc = "One Microsoft Partner Center account (CSP tenant) the operator authenticates to.",
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
    printcolumn(name = "Region", type_ = "string", json_path = ".spec.region"),
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.cspType"),
    printcolumn(name = "Environment", type_ = "string", json_path = ".spec.environment"),
    printcolumn(
        name = "Partner",
        type_ = "string",
        json_path = ".status.partner.companyName",
        priority = "1"
    ),
    printcolumn(
        name = "Customers",
        type_ = "integer",
        json_path = ".status.customerCount",
        priority = "1"
    ),
    printcolumn(name = "Last Sync", type_ = "date", json_path = ".status.lastSyncTime"),
    printcolumn(name = "Used By", type_ = "integer", json_path = ".status.usedBy.references"),
    printcolumn(
        name = "Message",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].message",
        priority = "1"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct PartnerCenterConnectionSpec {
    /// Optional human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub display_name: Option<String>,

    /// The partner's Microsoft Entra tenant id (a GUID). The access token must be issued for this
    /// tenant and the organization profile must report it. Immutable.
    #[schemars(length(max = 64))]
    #[x_kube(
        validation = rules::tenant_guid(),
        validation = rules::immutable("partnerTenantId", "create a new PartnerCenterConnection for the other Partner Center account and re-point the plans")
    )]
    pub partner_tenant_id: String,

    /// Region code of the account: an upper-case code of 2-5 letters (a two-letter ISO country such
    /// as NZ, or a composite region such as EUR). The partner's country must lie in it. Immutable.
    #[schemars(length(max = 16))]
    #[x_kube(
        validation = rules::region_format(),
        validation = rules::immutable("region", "create a new PartnerCenterConnection for the other region and re-point the plans")
    )]
    pub region: String,

    /// `Direct` (direct-bill partner) or `IndirectProvider` (indirect provider; written
    /// `Indirect` in plan names). `IndirectReseller` is refused: indirect resellers have no
    /// Partner Center API access. Immutable.
    #[schemars(schema_with = "rules::csp_type_schema")]
    #[x_kube(
        validation = rules::csp_type_not_indirect_reseller(),
        validation = rules::csp_type_value(),
        validation = rules::immutable("cspType", "create a new PartnerCenterConnection for the other account type and re-point the plans")
    )]
    pub csp_type: CspType,

    /// `Production` or `Sandbox` (an integration sandbox account). Immutable.
    #[x_kube(validation = rules::immutable("environment", "create a new PartnerCenterConnection for the other environment and re-point the plans"))]
    pub environment: Environment,

    /// Microsoft cloud: `Global` (default), `USGov` or `China`. Selects the login authority and
    /// the Partner Center API host. Immutable.
    #[serde(default)]
    #[x_kube(validation = rules::immutable("cloud", "create a new PartnerCenterConnection for the other cloud and re-point the plans"))]
    pub cloud: Cloud,

    /// How the operator authenticates, and the Secret holding the credentials.
    pub auth: ConnectionAuth,

    /// Optional URL overrides for the Partner Center API and the login authority (the emulator,
    /// a proxy). Absent: the cloud's real hosts. Honoured only when the host is in the operator's
    /// endpoint allow-list; otherwise the connection is not Ready (reason EndpointNotAllowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<ConnectionEndpoints>,

    /// How often the operator re-checks the account against Partner Center, as a duration such
    /// as `15m` or `1h` (units s, m, h; between 1m and 24h). Default: the operator's setting
    /// (`defaultSyncInterval`, 15m unless configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    #[x_kube(validation = rules::sync_interval())]
    pub sync_interval: Option<String>,
}

impl PartnerCenterConnectionSpec {
    /// `spec.syncInterval` as a duration, or `default` when unset. Admission guarantees the
    /// format; an unparsable value (an object stored before the rule existed) also gets `default`.
    pub fn sync_interval_or(&self, default: std::time::Duration) -> std::time::Duration {
        self.sync_interval
            .as_deref()
            .and_then(|s| humantime::parse_duration(s).ok())
            .unwrap_or(default)
    }
}

/// Authentication of a connection.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionAuth {
    /// `AppPlusUser` (default): refresh-token flow, needed for the organization profile and the
    /// indirect-reseller relationship calls. `AppOnly`: client credentials only (less can be
    /// verified; the connection reports PartiallyVerified).
    #[serde(default)]
    pub mode: AuthMode,

    /// The Secret, in the connection's own namespace, with keys `clientId`, `clientSecret` and
    /// (for AppPlusUser) `refreshToken`. A rotated refresh token is written back to it.
    pub secret_ref: SecretRef,
}

/// A Secret in the same namespace (no namespace field on purpose).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    /// Name of the Secret in the connection's namespace.
    #[schemars(length(max = 253))]
    #[x_kube(validation = rules::dns_subdomain("secretRef.name"))]
    pub name: String,
}

/// URL overrides of a connection.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionEndpoints {
    /// Base URL of the Partner Center REST API, e.g. `https://api.partnercenter.microsoft.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    #[x_kube(validation = rules::http_url("endpoints.partnerCenter", "https://api.partnercenter.microsoft.com"))]
    pub partner_center: Option<String>,

    /// Base URL of the login authority, e.g. `https://login.microsoftonline.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    #[x_kube(validation = rules::http_url("endpoints.login", "https://login.microsoftonline.com"))]
    pub login: Option<String>,
}

/// Observed state of a connection, written only by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartnerCenterConnectionStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Ready`, `Authenticated` and `Verified`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// Who the connection belongs to, from its namespace: `Provider`, `Reseller/<name>`, or
    /// `None` when the namespace is neither the provider's nor a reseller's (not usable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,

    /// The partner as Partner Center reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<PartnerInfo>,

    /// Number of customers of the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_count: Option<i64>,

    /// Number of indirect resellers (IndirectProvider only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indirect_reseller_count: Option<i64>,

    /// Tenant ids (lowercased) of the indirect resellers that some Reseller declares in
    /// `spec.indirectReseller` and that the last sync listed as Active: bounded by the declared
    /// resellers, not the account's whole list. A Customer is associated with an indirect reseller
    /// only when it is listed here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub linked_indirect_resellers: Vec<String>,

    /// When the account was last checked against Partner Center.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,

    /// Estimated expiry of the refresh token (90 days after it was last issued).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_at: Option<Time>,

    /// What references this connection (it cannot be deleted while anything does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by: Option<UsedBy>,

    /// The account's customers compared with the Customers pinned to this connection, as of the
    /// last sync (`audit` shows the details).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Inventory>,
}

/// Counts of the last sync's comparison of the account's customers with the declared Customers.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    /// Customers the account lists.
    pub customers: i64,
    /// Customers pinned to this connection with a tenant id that the account lists.
    pub declared: i64,
    /// Customers the account lists that no Customer declares (`import` writes manifests for them).
    pub undeclared: i64,
    /// Provisioned Customers pinned to this connection whose tenant the account no longer lists (TenantGone).
    pub missing: i64,
    /// Declared customers whose country (as Partner Center reports it) lies outside the connection's region.
    pub outside_region: i64,
    /// Declared customers associated with another indirect reseller than the declared reseller's.
    pub wrong_reseller: i64,
    /// Declared customers whose details (country, indirect reseller) are not fetched yet: they are
    /// fetched within the operator's budget of calls per connection and hour.
    #[serde(default)]
    pub details_pending: i64,
}

/// The partner's organization as Partner Center reports it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartnerInfo {
    /// Company name of the partner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// Entra tenant id of the partner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Partner id (MPN / Partner location id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    /// ISO-3166 country code of the partner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Default domain of the partner tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_domain: Option<String>,
}

/// Counts of objects that reference a connection.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsedBy {
    /// CustomerPlans whose `connectionRef` names this connection.
    pub plans: i32,
    /// Resellers with an effective plan that resolves to this connection.
    pub resellers: i32,
    /// Objects whose spec references this connection (plans' `connectionRef` and resellers'
    /// `connectionOverride`), all of them, including those `examples` does not name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<i32>,
    /// A few of the referencing objects (`CustomerPlan/<name>`, `Reseller/<name>`), for deletion
    /// messages: on a reseller's connection only that reseller's subtree and plans (which every
    /// reseller can see), never other resellers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
}
