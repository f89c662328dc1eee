//! Who a PartnerCenterConnection belongs to (docs/concepts.md, "Owners"): the provider namespace → the
//! service provider; a Reseller's `spec.namespace` → that reseller; anywhere else → not usable.

use super::finding::{Finding, reasons};
use super::hierarchy::Hierarchy;
use super::snapshot::Settings;
use crate::api::ConnectionRef;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionOwner {
    Provider,
    Reseller(String),
    /// No one owns the namespace: nothing may use the connection.
    Unusable(Finding),
}

impl ConnectionOwner {
    pub fn is_usable(&self) -> bool {
        !matches!(self, ConnectionOwner::Unusable(_))
    }
}

pub fn owner_of(connection: &ConnectionRef, hierarchy: &Hierarchy, settings: &Settings) -> ConnectionOwner {
    if connection.namespace == settings.provider_namespace {
        return ConnectionOwner::Provider;
    }
    match hierarchy.reseller_for_namespace(&connection.namespace) {
        Some(reseller) => ConnectionOwner::Reseller(reseller.to_string()),
        None => ConnectionOwner::Unusable(Finding::new(
            reasons::CONNECTION_NAMESPACE_NOT_OWNED,
            format!(
                "PartnerCenterConnection {connection} is in namespace '{}', which is neither the \
                 provider namespace ('{}') nor any Reseller's spec.namespace: move the connection \
                 (and its Secret) to the namespace of the reseller it belongs to, or to the provider \
                 namespace",
                connection.namespace, settings.provider_namespace
            ),
        )),
    }
}
