//! The custom resource kinds of `channel.csp.dev/v1alpha1` and their shared vocabulary.

pub mod common;
pub mod conditions;
pub mod connection;
pub mod customer;
pub mod plan;
pub mod reseller;
mod rules;

pub use common::*;
pub use connection::*;
pub use customer::*;
pub use plan::*;
pub use reseller::*;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD of the operator, in a stable order.
pub fn all_crds() -> Vec<CustomResourceDefinition> {
    vec![
        PartnerCenterConnection::crd(),
        CustomerPlan::crd(),
        Reseller::crd(),
        Customer::crd(),
    ]
}

/// File name under `crds/` for a CRD: `<plural>.<group>.yaml`.
pub fn crd_file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or("unnamed"))
}

/// One CRD as YAML, as checked in under `crds/`.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> String {
    serde_saphyr::to_string(crd).expect("a CRD always serializes to YAML")
}

/// All CRDs as one multi-document YAML stream (what `partner-center-operator crdgen` prints).
pub fn crds_yaml() -> String {
    all_crds().iter().map(|crd| format!("---\n{}", crd_yaml(crd))).collect()
}
