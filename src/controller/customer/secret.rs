//! Stage 6, the admin credentials Secret: written before status says Created, because Partner
//! Center shows the initial admin password once, in the create's answer. Owned by the Customer
//! (deleted with it by the garbage collector) and labelled as the operator's.

use crate::api::Customer;
use crate::partner_center::models::Customer as PcCustomer;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};
use secrecy::ExposeSecret;
use std::collections::BTreeMap;

pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "partner-center-operator");

/// `spec.adminCredentialsSecretName`, default `<name>-admin`.
pub fn name_of(customer: &Customer) -> String {
    customer
        .spec
        .admin_credentials_secret_name
        .clone()
        .unwrap_or_else(|| format!("{}-admin", customer.name_any()))
}

/// Whether the credentials Secret exists and is this Customer's (owned by its uid).
#[derive(Debug, PartialEq, Eq)]
pub enum Held {
    Ours,
    /// A Secret of that name someone else made: never overwritten.
    Foreign,
    Absent,
}

pub async fn held(client: &kube::Client, customer: &Customer) -> kube::Result<Held> {
    let ns = customer.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
    Ok(match api.get_opt(&name_of(customer)).await? {
        None => Held::Absent,
        Some(s) => held_by(&s, customer),
    })
}

fn held_by(s: &Secret, customer: &Customer) -> Held {
    let uid = customer.uid();
    if s.owner_references().iter().any(|o| Some(&o.uid) == uid.as_ref()) {
        Held::Ours
    } else {
        Held::Foreign
    }
}

/// The Secret for the created tenant: `userName`, `password`, `domain`, `tenantId`.
pub fn build(customer: &Customer, created: &PcCustomer) -> Secret {
    let mut data = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        data.insert(k.to_string(), ByteString(v.as_bytes().to_vec()));
    };
    let creds = created.user_credentials.as_ref();
    put(
        "userName",
        creds.and_then(|c| c.user_name.as_deref()).unwrap_or_default(),
    );
    put(
        "password",
        creds
            .and_then(|c| c.password.as_ref())
            .map(|p| p.expose_secret())
            .unwrap_or_default(),
    );
    put("domain", created.domain().unwrap_or_default());
    put("tenantId", &created.id);
    Secret {
        metadata: ObjectMeta {
            name: Some(name_of(customer)),
            namespace: customer.namespace(),
            labels: Some([(MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string())].into()),
            owner_references: Some(vec![OwnerReference {
                api_version: Customer::api_version(&()).into(),
                kind: Customer::kind(&()).into(),
                name: customer.name_any(),
                uid: customer.uid().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: None,
            }]),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(data),
        ..Default::default()
    }
}

/// Creates the Secret. An existing one of ours (written before a crash) is kept as it is: it holds
/// the credentials of this very tenant. `Ok(false)`: a foreign Secret holds the name.
pub async fn write(client: &kube::Client, customer: &Customer, created: &PcCustomer) -> kube::Result<bool> {
    let ns = customer.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
    match api.create(&PostParams::default(), &build(customer, created)).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(held(client, customer).await? == Held::Ours),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_holds_the_four_keys_is_owned_and_labelled() {
        let customer: Customer = serde_json::from_value(serde_json::json!({
            "apiVersion": "channel.csp.dev/v1alpha1", "kind": "Customer",
            "metadata": {"name": "wingtip", "namespace": "csp-system", "uid": "c-1"},
            "spec": {"plan": "p", "tenant": {"existing": {"domain": "x.onmicrosoft.com"}}},
        }))
        .expect("customer");
        let created: PcCustomer = serde_json::from_value(serde_json::json!({
            "id": "t-1", "companyProfile": {"domain": "wingtip.onmicrosoft.com"},
            "userCredentials": {"userName": "admin@wingtip.onmicrosoft.com", "password": "pa55"},
        }))
        .expect("pc customer");
        let s = build(&customer, &created);
        assert_eq!(s.metadata.name.as_deref(), Some("wingtip-admin"));
        let data = s.data.as_ref().expect("data");
        let text = |k: &str| String::from_utf8(data[k].0.clone()).expect("utf8");
        assert_eq!(
            (text("userName"), text("password"), text("domain"), text("tenantId")),
            (
                "admin@wingtip.onmicrosoft.com".to_string(),
                "pa55".to_string(),
                "wingtip.onmicrosoft.com".to_string(),
                "t-1".to_string()
            )
        );
        assert_eq!(held_by(&s, &customer), Held::Ours);
        assert_eq!(s.labels().get(MANAGED_BY.0).map(String::as_str), Some(MANAGED_BY.1));
        let mut other = s.clone();
        other.metadata.owner_references = None;
        assert_eq!(held_by(&other, &customer), Held::Foreign);
    }
}
