//! What the rules report: a finding (stable reason + actionable message) and a verdict (the
//! three-valued outcome a controller turns into a `metav1.Condition`).

use std::fmt;

/// Stable reasons. CamelCase so they can be used verbatim as Kubernetes condition reasons and
/// Event reasons; changing one is a user-visible API change.
pub mod reasons {
    // Outcomes that are not problems.
    pub const VALID: &str = "Valid";
    pub const READY: &str = "Ready";
    pub const ALL_PLANS_USABLE: &str = "AllPlansUsable";
    pub const CONNECTION_READY: &str = "ConnectionReady";
    pub const VERIFIED: &str = "Verified";
    pub const PARTIALLY_VERIFIED: &str = "PartiallyVerified";
    pub const NO_ACTIVE_GRANTS: &str = "NoActiveGrants";

    // Rule 8: hierarchy.
    pub const NO_ROOT: &str = "NoRoot";
    pub const MULTIPLE_ROOTS: &str = "MultipleRoots";
    pub const HIERARCHY_CYCLE: &str = "HierarchyCycle";
    pub const PARENT_NOT_FOUND: &str = "ParentNotFound";
    pub const PARENT_DELETING: &str = "ParentDeleting";
    pub const ANCESTOR_INVALID: &str = "AncestorInvalid";
    pub const DUPLICATE_SHORT_NAME: &str = "DuplicateShortName";
    pub const DUPLICATE_NAMESPACE: &str = "DuplicateNamespace";
    pub const NAMESPACE_RESERVED: &str = "NamespaceReserved";
    pub const ROOT_NAMESPACE_MISMATCH: &str = "RootNamespaceMismatch";
    pub const HIERARCHY_INVALID: &str = "HierarchyInvalid";
    pub const PARENT_LACKS_PLAN: &str = "ParentLacksPlan";
    pub const DUPLICATE_PLAN_GRANT: &str = "DuplicatePlanGrant";

    // Rule 1: naming.
    pub const INVALID_PLAN_NAME: &str = "InvalidPlanName";
    pub const PLAN_NAME_MISMATCH: &str = "PlanNameMismatch";
    pub const PLAN_NOT_FOR_RESELLER: &str = "PlanNotForReseller";
    pub const NAMED_RESELLER_NOT_FOUND: &str = "NamedResellerNotFound";

    // Plan identity.
    pub const PLAN_NOT_FOUND: &str = "PlanNotFound";

    // Rule 2, 5, 6: connections.
    pub const CONNECTION_NOT_FOUND: &str = "ConnectionNotFound";
    pub const PLAN_CONNECTION_MISMATCH: &str = "PlanConnectionMismatch";
    pub const CONNECTION_NAMESPACE_NOT_OWNED: &str = "ConnectionNamespaceNotOwned";
    pub const CONNECTION_REF_NAMESPACE_NOT_ALLOWED: &str = "ConnectionRefNamespaceNotAllowed";
    pub const OVERRIDE_NAMESPACE_NOT_ALLOWED: &str = "OverrideNamespaceNotAllowed";
    pub const CONNECTION_PENDING: &str = "ConnectionPending";
    pub const DELETING: &str = "Deleting";
    /// The connection a decision names is not the one it was bound to (see `binding`).
    pub const CONNECTION_REPLACED: &str = "ConnectionReplaced";

    // Rule 7: sandbox isolation.
    pub const SANDBOX_ONLY_RESELLER: &str = "SandboxOnlyReseller";
    pub const SANDBOX_PLAN_FOR_STANDARD_RESELLER: &str = "SandboxPlanForStandardReseller";

    // Rule 9 and §4: regions.
    pub const UNKNOWN_REGION: &str = "UnknownRegion";
    pub const PLAN_REGION_NOT_ALLOWED: &str = "PlanRegionNotAllowed";

    // Rule 3: connection verification.
    pub const TENANT_MISMATCH: &str = "TenantMismatch";
    pub const REGION_MISMATCH: &str = "RegionMismatch";
    pub const TYPE_MISMATCH: &str = "TypeMismatch";
    pub const SANDBOX_QUOTA_EXCEEDED: &str = "SandboxQuotaExceeded";

    // Rule 10.
    pub const REFRESH_TOKEN_REVERTED: &str = "RefreshTokenReverted";

    // Rules 11–15 and 18: Customers (src/policy/customer.rs).
    pub const NAMESPACE_NOT_OWNED: &str = "NamespaceNotOwned";
    pub const NOT_IN_SUBTREE: &str = "NotInSubtree";
    pub const PLAN_NOT_GRANTED: &str = "PlanNotGranted";
    pub const COUNTRY_OUTSIDE_REGION: &str = "CountryOutsideRegion";
    pub const TENANT_CREATION_NOT_ALLOWED: &str = "TenantCreationNotAllowed";
    pub const INDIRECT_RESELLER_NOT_LINKED: &str = "IndirectResellerNotLinked";
    pub const DUPLICATE_TENANT: &str = "DuplicateTenant";
    /// A warning: the Customer keeps its pinned connection.
    pub const EFFECTIVE_CONNECTION_CHANGED: &str = "EffectiveConnectionChanged";
    pub const DELETION_POLICY_NOT_ALLOWED: &str = "DeletionPolicyNotAllowed";
    // Rules 15 and 16: moves and adoption.
    pub const INDIRECT_RESELLER_CHANGED: &str = "IndirectResellerChanged";
    pub const SANDBOX_CANNOT_INVITE: &str = "SandboxCannotInvite";
    // Customer outcomes the reconciler reports (rules 14, 16).
    pub const DOMAIN_TAKEN: &str = "DomainTaken";
    pub const ADDRESS_INVALID: &str = "AddressInvalid";
    pub const ADMIN_CREDENTIALS_NOT_CAPTURED: &str = "AdminCredentialsNotCaptured";
    pub const TENANT_CLAIMED: &str = "TenantClaimed";
    pub const PROVISIONED: &str = "Provisioned";
    pub const PROVISIONING: &str = "Provisioning";
    pub const AWAITING_ACCEPTANCE: &str = "AwaitingAcceptance";

    /// Every reason this module defines (used by tests to keep them well-formed).
    pub const ALL: &[&str] = &[
        VALID,
        READY,
        ALL_PLANS_USABLE,
        CONNECTION_READY,
        VERIFIED,
        PARTIALLY_VERIFIED,
        NO_ACTIVE_GRANTS,
        NO_ROOT,
        MULTIPLE_ROOTS,
        HIERARCHY_CYCLE,
        PARENT_NOT_FOUND,
        PARENT_DELETING,
        ANCESTOR_INVALID,
        DUPLICATE_SHORT_NAME,
        DUPLICATE_NAMESPACE,
        NAMESPACE_RESERVED,
        ROOT_NAMESPACE_MISMATCH,
        HIERARCHY_INVALID,
        PARENT_LACKS_PLAN,
        DUPLICATE_PLAN_GRANT,
        INVALID_PLAN_NAME,
        PLAN_NAME_MISMATCH,
        PLAN_NOT_FOR_RESELLER,
        NAMED_RESELLER_NOT_FOUND,
        PLAN_NOT_FOUND,
        CONNECTION_NOT_FOUND,
        PLAN_CONNECTION_MISMATCH,
        CONNECTION_NAMESPACE_NOT_OWNED,
        CONNECTION_REF_NAMESPACE_NOT_ALLOWED,
        OVERRIDE_NAMESPACE_NOT_ALLOWED,
        CONNECTION_PENDING,
        DELETING,
        CONNECTION_REPLACED,
        SANDBOX_ONLY_RESELLER,
        SANDBOX_PLAN_FOR_STANDARD_RESELLER,
        UNKNOWN_REGION,
        PLAN_REGION_NOT_ALLOWED,
        TENANT_MISMATCH,
        REGION_MISMATCH,
        TYPE_MISMATCH,
        SANDBOX_QUOTA_EXCEEDED,
        REFRESH_TOKEN_REVERTED,
        NAMESPACE_NOT_OWNED,
        NOT_IN_SUBTREE,
        PLAN_NOT_GRANTED,
        COUNTRY_OUTSIDE_REGION,
        TENANT_CREATION_NOT_ALLOWED,
        INDIRECT_RESELLER_NOT_LINKED,
        DUPLICATE_TENANT,
        EFFECTIVE_CONNECTION_CHANGED,
        DELETION_POLICY_NOT_ALLOWED,
        INDIRECT_RESELLER_CHANGED,
        SANDBOX_CANNOT_INVITE,
        DOMAIN_TAKEN,
        ADDRESS_INVALID,
        ADMIN_CREDENTIALS_NOT_CAPTURED,
        TENANT_CLAIMED,
        PROVISIONED,
        PROVISIONING,
        AWAITING_ACCEPTANCE,
    ];
}

/// One rule outcome about one object: a stable reason and a message a person can act on
/// (it names the object, the field and the fix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub reason: String,
    pub message: String,
}

impl Finding {
    pub fn new(reason: &str, message: impl Into<String>) -> Self {
        Finding {
            reason: reason.to_string(),
            message: message.into(),
        }
    }

    /// A connection that has not been checked yet is "in progress", not a failure: callers
    /// report it as condition status Unknown rather than False.
    pub fn is_pending(&self) -> bool {
        self.reason == reasons::CONNECTION_PENDING
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.message)
    }
}

/// A verdict's status: the same three values as a `metav1.Condition`.
pub use crate::api::conditions::Status;

/// The outcome of one condition: status, reason, message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub status: Status,
    pub reason: String,
    pub message: String,
}

impl Verdict {
    pub fn ok(reason: &str, message: impl Into<String>) -> Self {
        Verdict {
            status: Status::True,
            reason: reason.to_string(),
            message: message.into(),
        }
    }

    pub fn is_true(&self) -> bool {
        self.status == Status::True
    }

    /// True with `ok_reason` when there are no problems; otherwise the first definite problem
    /// (False), or — when every problem is only pending — the first pending one (Unknown).
    pub fn from_problems<'a>(
        problems: impl IntoIterator<Item = &'a Finding>,
        ok_reason: &str,
        ok_message: impl Into<String>,
    ) -> Self {
        let mut first_pending: Option<&Finding> = None;
        for p in problems {
            if p.is_pending() {
                first_pending.get_or_insert(p);
            } else {
                return Verdict {
                    status: Status::False,
                    reason: p.reason.clone(),
                    message: p.message.clone(),
                };
            }
        }
        match first_pending {
            Some(p) => Verdict {
                status: Status::Unknown,
                reason: p.reason.clone(),
                message: p.message.clone(),
            },
            None => Verdict::ok(ok_reason, ok_message),
        }
    }
}
