//! `Customer`: a customer tenant provisioned (created or adopted) through the reseller's effective
//! connection for a plan (docs/rules.md, rules 11–18). Only the API is here: admission checks everything that
//! needs only the object; the Customer reconciler (src/controller/customer/) does the rest.
// Repeated `printcolumn(type_ = ..)` keys are separate columns, not duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use super::common::ConnectionRef;
use super::reseller::ConnectionSource;
use super::rules;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A customer of a reseller (or of the provider): its Microsoft tenant, created or adopted through
/// the reseller's effective connection for `plan`, and through no other. Lives in the namespace of
/// the reseller that manages it (`Reseller.spec.namespace`; the root's is the provider namespace).
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "channel.csp.dev",
    version = "v1alpha1",
    kind = "Customer",
    plural = "customers",
    singular = "customer",
    shortname = "cust",
    category = "channel",
    namespaced,
    status = "CustomerStatus",
    doc = "A customer tenant provisioned through the reseller's effective Partner Center connection for a plan.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Reseller", type_ = "string", json_path = ".spec.reseller"),
    printcolumn(name = "Plan", type_ = "string", json_path = ".spec.plan"),
    printcolumn(name = "Connection", type_ = "string", json_path = ".status.connection.name"),
    printcolumn(name = "Tenant", type_ = "string", json_path = ".status.tenantId"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.provisioning.phase"),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Message",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].message",
        priority = "1"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct CustomerSpec {
    /// The Reseller the customer belongs to. Absent: the reseller that owns the namespace. May name
    /// any reseller in the owner's subtree (a reseller manages its sub-resellers' customers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    #[x_kube(validation = rules::dns_subdomain("reseller"))]
    pub reseller: Option<String>,

    /// The CustomerPlan to provision through. It must be granted to the reseller and usable in its
    /// `status.effectivePlans`; the connection there is the one used, and no other.
    #[schemars(length(max = 253))]
    #[x_kube(validation = rules::dns_subdomain("plan"))]
    pub plan: String,

    /// The tenant: exactly one of `new` (create one) or `existing` (adopt one). Which of the two is
    /// set is immutable.
    pub tenant: CustomerTenant,

    /// Optional Microsoft Customer Agreement attestation, recorded once through the pinned connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<CustomerAgreement>,

    /// `Orphan` (absent means Orphan): deleting the Customer leaves the tenant. `Delete`: the tenant
    /// is deleted too, honoured only through Sandbox connections (otherwise the Customer is not Ready,
    /// reason DeletionPolicyNotAllowed, and deletion orphans).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "rules::deletion_policy_schema")]
    #[x_kube(validation = rules::deletion_policy_value())]
    pub deletion_policy: Option<DeletionPolicy>,

    /// The Secret (same namespace) that receives the initial admin user name and password Partner
    /// Center returns once, when it creates the tenant. Absent: `<name>-admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    #[x_kube(validation = rules::dns_subdomain("adminCredentialsSecretName"))]
    pub admin_credentials_secret_name: Option<String>,
}

impl CustomerSpec {
    /// The deletion policy, `Orphan` when absent.
    pub fn deletion_policy(&self) -> DeletionPolicy {
        self.deletion_policy.unwrap_or_default()
    }
}

/// What happens to the tenant when the Customer is deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    /// Leave the tenant (the default).
    #[default]
    Orphan,
    /// Delete the tenant (Sandbox connections only).
    Delete,
}

/// Exactly one of `new` / `existing`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = rules::tenant_exactly_one(), validation = rules::tenant_choice_immutable())]
pub struct CustomerTenant {
    /// Create a new Microsoft tenant through the pinned connection (the plan must allow tenant creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<NewTenant>,

    /// Adopt an existing tenant: it is invited to a reseller relationship with the pinned connection
    /// and adopted once it appears among that connection's customers. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = rules::immutable("tenant.existing", "create another Customer to adopt a different tenant"))]
    pub existing: Option<ExistingTenant>,
}

/// A tenant to create.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NewTenant {
    /// The tenant's initial domain becomes `<domainPrefix>.onmicrosoft.com`: letters and digits only,
    /// at most 27 (a conservative bound: the Microsoft documentation consulted does not state the
    /// limit). Checked for availability before the create. Immutable.
    // The schema bound is a DNS label's, above the rule's 27: a schema violation would skip the rule
    // and its message, which says what the prefix may be.
    #[schemars(length(max = 63))]
    #[x_kube(
        validation = rules::domain_prefix(),
        validation = rules::immutable("tenant.new.domainPrefix", "the onmicrosoft.com domain of a tenant never changes; create another Customer for another domain")
    )]
    pub domain_prefix: String,

    /// The customer's company name.
    #[schemars(length(min = 1, max = 256))]
    pub company_name: String,

    /// The customer's contact e-mail address.
    #[schemars(length(max = 254))]
    #[x_kube(validation = rules::email("tenant.new.email"))]
    pub email: String,

    /// Culture for the tenant, language-COUNTRY such as `en-US`.
    #[schemars(length(max = 16))]
    #[x_kube(validation = rules::culture())]
    pub culture: String,

    /// Language for the tenant, a two-letter ISO 639-1 code such as `en`.
    #[schemars(length(max = 8))]
    #[x_kube(validation = rules::language())]
    pub language: String,

    /// The customer's billing address and contact.
    pub address: CustomerAddress,

    /// The organization registration number, where the country requires one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub organization_registration_number: Option<String>,
}

/// Billing address and contact of a new tenant.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CustomerAddress {
    /// First address line (1-200 characters).
    #[schemars(length(min = 1, max = 200))]
    pub address_line1: String,

    /// Second address line (at most 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 200))]
    pub address_line2: Option<String>,

    /// City (1-100 characters).
    #[schemars(length(min = 1, max = 100))]
    pub city: String,

    /// State or province, where the country has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub state: Option<String>,

    /// Postal code (1-32 characters).
    #[schemars(length(min = 1, max = 32))]
    pub postal_code: String,

    /// Upper-case ISO 3166 two-letter country code such as NZ; it must lie in the plan's region.
    /// Immutable.
    // Above 2 for the same reason as domainPrefix: "NZL" gets the rule's message, not "Too long".
    #[schemars(length(max = 8))]
    #[x_kube(
        validation = rules::country_iso2("tenant.new.address.country"),
        validation = rules::immutable("tenant.new.address.country", "a tenant's country cannot be changed; create another Customer for a tenant in another country")
    )]
    pub country: String,

    /// Contact's first name (1-50 characters).
    #[schemars(length(min = 1, max = 50))]
    pub first_name: String,

    /// Contact's last name (1-50 characters).
    #[schemars(length(min = 1, max = 50))]
    pub last_name: String,

    /// Contact's phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub phone_number: Option<String>,
}

/// An existing tenant to adopt: exactly one of `tenantId` / `domain`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = rules::existing_exactly_one())]
pub struct ExistingTenant {
    /// The tenant's Entra tenant id (a GUID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = rules::guid("tenant.existing.tenantId", "the customer's Entra tenant id"))]
    pub tenant_id: Option<String>,

    /// A domain of the tenant, such as `contoso.onmicrosoft.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    #[x_kube(validation = rules::domain_name("tenant.existing.domain"))]
    pub domain: Option<String>,
}

/// Microsoft Customer Agreement attestation.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CustomerAgreement {
    /// The customer's person who accepted the agreement.
    pub primary_contact: AgreementContact,

    /// The date the customer accepted the agreement, `YYYY-MM-DD`. Admission checks the shape; that it
    /// is not in the future is the controller's check (admission rules have no clock).
    #[schemars(length(max = 10))]
    #[x_kube(validation = rules::calendar_date("agreement.dateAgreed"))]
    pub date_agreed: String,
}

/// The person who accepted the Microsoft Customer Agreement.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AgreementContact {
    /// First name (1-50 characters).
    #[schemars(length(min = 1, max = 50))]
    pub first_name: String,

    /// Last name (1-50 characters).
    #[schemars(length(min = 1, max = 50))]
    pub last_name: String,

    /// E-mail address.
    #[schemars(length(max = 254))]
    #[x_kube(validation = rules::email("agreement.primaryContact.email"))]
    pub email: String,

    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub phone_number: Option<String>,
}

/// Observed state of a customer, written only by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// `Ready`, `Provisioned` (the tenant exists under the connection), `AgreementRecorded` (when
    /// spec.agreement is set) and `Observed` (the last connection sync saw the tenant, associated as declared).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// The PartnerCenterConnection the customer is provisioned through: pinned at the first Partner
    /// Center call and never changed by the operator afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionRef>,

    /// Where the pinned connection came from: `Plan`, `Override` or `Inherited`. Pinned with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ConnectionSource>,

    /// The customer's Entra tenant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,

    /// The customer's commerce id in Partner Center.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commerce_id: Option<String>,

    /// The tenant's domain (`<prefix>.onmicrosoft.com` for a created tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,

    /// The relationship to the partner as Partner Center reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship_to_partner: Option<String>,

    /// The indirect reseller the customer is associated with in Partner Center (its tenant id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associated_partner_id: Option<String>,

    /// Progress of the creation or adoption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning: Option<Provisioning>,

    /// The reseller-relationship invitation URL of the pinned connection, while an existing tenant
    /// has not accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_url: Option<String>,

    /// The recorded Microsoft Customer Agreement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<AgreementStatus>,

    /// The tenant's company name as Partner Center reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,

    /// The tenant's country (ISO-2) as Partner Center reports it (billing address of an adopted
    /// tenant; the requested country of a created one). It must lie in the plan's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,

    /// The reseller and plan in effect for the provisioned tenant: recorded when it is created or
    /// adopted, and changed only by a move the operator applied (see `moves`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,

    /// The moves applied to this Customer on its pinned connection, oldest first; the last 10 are kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    pub moves: Vec<Move>,
}

/// A reseller and plan a Customer is placed under.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    /// The resolved reseller (spec.reseller, or the namespace's owner).
    pub reseller: String,
    /// The CustomerPlan.
    pub plan: String,
}

/// One applied move of a provisioned Customer between resellers or plans of its pinned connection.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Move {
    /// The placement before the move.
    pub from: Placement,
    /// The placement after the move.
    pub to: Placement,
    /// When the operator applied it.
    pub at: Time,
}

/// How many moves `status.moves` keeps.
pub const MOVES_KEPT: usize = 10;

/// Progress of provisioning.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Provisioning {
    /// `Pending`, `Creating`, `Created`, `AwaitingAcceptance` or `Adopted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ProvisioningPhase>,
    /// The `MS-RequestId` of the create call: recorded before the call and reused on every retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// When provisioning started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
}

/// Phase of provisioning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ProvisioningPhase {
    /// Nothing called yet.
    Pending,
    /// The create call is in flight (or its outcome is being looked up).
    Creating,
    /// The tenant was created under the pinned connection.
    Created,
    /// An existing tenant has not yet accepted the reseller relationship (see `invitationUrl`).
    AwaitingAcceptance,
    /// An existing tenant is a customer of the pinned connection.
    Adopted,
}

/// A recorded Microsoft Customer Agreement.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgreementStatus {
    /// When the operator recorded the agreement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<Time>,
    /// The agreement template id Partner Center reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
}
