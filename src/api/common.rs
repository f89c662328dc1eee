//! Vocabulary shared by the three kinds and by the pure rules in `policy`:
//! the identity words of a Partner Center account and a namespaced reference.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of CSP account. Indirect resellers have no Partner Center API access, so they are
/// not a value here (admission refuses `IndirectReseller` with a message saying why).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum CspType {
    /// Direct-bill partner.
    Direct,
    /// Indirect provider (distributor); written `Indirect` in plan names.
    IndirectProvider,
}

impl CspType {
    /// The word a plan's display name uses for this type (rule 1).
    pub fn name_word(self) -> &'static str {
        match self {
            CspType::Direct => "Direct",
            CspType::IndirectProvider => "Indirect",
        }
    }
}

/// Production account or integration sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum Environment {
    Production,
    Sandbox,
}

impl Environment {
    pub fn name_word(self) -> &'static str {
        match self {
            Environment::Production => "Production",
            Environment::Sandbox => "Sandbox",
        }
    }
}

/// Microsoft cloud: selects the login authority and the API host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Cloud {
    #[default]
    Global,
    USGov,
    China,
}

/// How the operator authenticates to Partner Center.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AuthMode {
    /// Refresh-token flow (Secure Application Model); needed for profile and relationship calls.
    #[default]
    AppPlusUser,
    /// Client credentials only.
    AppOnly,
}

/// What kind of customer a reseller is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum CustomerType {
    #[default]
    Standard,
    Test,
    Demo,
}

/// `{namespace, name}` of a PartnerCenterConnection.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, kube::KubeSchema)]
pub struct ConnectionRef {
    /// Namespace of the PartnerCenterConnection.
    #[schemars(length(max = 63))]
    #[x_kube(validation = super::rules::dns_label("namespace"))]
    pub namespace: String,
    /// Name of the PartnerCenterConnection.
    #[schemars(length(max = 253))]
    #[x_kube(validation = super::rules::dns_subdomain("name"))]
    pub name: String,
}

impl fmt::Display for ConnectionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}
