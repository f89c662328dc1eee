//! Translation from the custom resources (as cached in the stores) to the plain facts the pure rules
//! in `policy` work on. Nothing here decides anything.

use crate::api::{ConnectionRef, Customer, CustomerPlan, DeletionPolicy, PartnerCenterConnection, Reseller};
use crate::policy::{
    CONFIRM_ANNOTATION, ConnectionBinding, ConnectionFacts, ConnectionHealth, CustomerFacts, GrantFacts, Pinned,
    PlanFacts, ResellerFacts, TenantRequest, parse_confirmed,
};
use kube::{Resource, ResourceExt};

pub fn reseller_facts(r: &Reseller) -> ResellerFacts {
    let spec = &r.spec;
    let azure_ad = spec.services.as_ref().and_then(|s| s.azure_ad.as_ref());
    ResellerFacts {
        name: r.name_any(),
        short_name: spec.short_name.clone(),
        parent: spec.parent.clone(),
        customer_type: spec.customer_type(),
        namespace: spec.namespace.clone(),
        region: spec.region.clone(),
        sandbox_only: spec.sandbox_only.unwrap_or(false),
        azure_ad_enabled: azure_ad.is_some_and(|a| a.enabled),
        grants: azure_ad
            .map(|a| {
                a.customer_plans
                    .iter()
                    .map(|g| GrantFacts {
                        plan: g.plan.clone(),
                        connection_override: g.connection_override.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        created: r.creation_timestamp().map(|t| t.0),
        deleting: r.meta().deletion_timestamp.is_some(),
        bindings: r
            .status
            .iter()
            .flat_map(|s| s.recorded_bindings())
            .map(|(plan, connection, binding)| (plan.to_string(), recorded(connection, binding)))
            .collect(),
        confirmed_connections: confirmed(r),
        indirect_reseller_tenant_id: spec
            .indirect_reseller
            .as_ref()
            .map(|i| i.tenant_id.trim().to_ascii_lowercase()),
    }
}

/// A binding as the operator recorded it in a status: the connection it named and its identity.
fn recorded(connection: &ConnectionRef, binding: &crate::api::ConnectionBinding) -> ConnectionBinding {
    ConnectionBinding {
        connection: connection.clone(),
        uid: binding.uid.clone(),
        partner_tenant_id: binding.partner_tenant_id.clone(),
    }
}

fn confirmed<K: Resource>(obj: &K) -> std::collections::BTreeSet<String> {
    parse_confirmed(
        obj.meta()
            .annotations
            .as_ref()
            .and_then(|a| a.get(CONFIRM_ANNOTATION))
            .map(String::as_str),
    )
}

pub fn plan_facts(p: &CustomerPlan) -> PlanFacts {
    let spec = &p.spec;
    PlanFacts {
        name: p.name_any(),
        display_name: spec.display_name.clone(),
        region: spec.region.clone(),
        csp_type: spec.csp_type,
        environment: spec.environment,
        connection_ref: spec.connection_ref.clone(),
        allow_tenant_creation: spec.allow_tenant_creation.unwrap_or(false),
        master_directory: spec.sync_policy.as_ref().and_then(|s| s.master_directory),
        deleting: p.meta().deletion_timestamp.is_some(),
        binding: p
            .status
            .as_ref()
            .and_then(|s| Some(recorded(s.connection.as_ref()?, s.connection_binding.as_ref()?))),
        confirmed_connections: confirmed(p),
    }
}

pub fn connection_facts(c: &PartnerCenterConnection) -> ConnectionFacts {
    let status = c.status.as_ref();
    ConnectionFacts {
        namespace: c.namespace().unwrap_or_default(),
        name: c.name_any(),
        uid: c.uid().unwrap_or_default(),
        partner_tenant_id: c.spec.partner_tenant_id.clone(),
        region: c.spec.region.clone(),
        csp_type: c.spec.csp_type,
        environment: c.spec.environment,
        health: connection_health(c),
        deleting: c.meta().deletion_timestamp.is_some(),
        // Negative counts (a hand-edited status) are no customers, not a huge unsigned number.
        customer_count: status
            .and_then(|s| s.customer_count)
            .map(|n| u64::try_from(n).unwrap_or(0)),
        last_sync: status.and_then(|s| s.last_sync_time.as_ref()).map(|t| t.0.as_second()),
        linked_indirect_resellers: status
            .iter()
            .flat_map(|s| &s.linked_indirect_resellers)
            .map(|t| t.trim().to_ascii_lowercase())
            .collect(),
    }
}

/// A Customer as the rules see it (src/policy/customer.rs).
pub fn customer_facts(c: &Customer) -> CustomerFacts {
    let spec = &c.spec;
    let status = c.status.as_ref();
    let tenant = match (&spec.tenant.new, &spec.tenant.existing) {
        // Admission allows exactly one; `new` first should both ever be stored.
        (Some(new), _) => TenantRequest::New {
            domain: format!("{}.onmicrosoft.com", new.domain_prefix.to_ascii_lowercase()),
            country: new.address.country.to_ascii_uppercase(),
        },
        (None, Some(existing)) => TenantRequest::Existing {
            tenant_id: existing.tenant_id.as_ref().map(|t| t.trim().to_ascii_lowercase()),
            domain: existing.domain.as_ref().map(|d| d.trim().to_ascii_lowercase()),
        },
        (None, None) => TenantRequest::Existing {
            tenant_id: None,
            domain: None,
        },
    };
    let provisioning = status.and_then(|s| s.provisioning.as_ref());
    CustomerFacts {
        namespace: c.namespace().unwrap_or_default(),
        name: c.name_any(),
        uid: c.uid().unwrap_or_default(),
        // Not yet persisted counts as newest.
        created: c.creation_timestamp().map_or(i64::MAX, |t| t.0.as_second()),
        reseller: spec.reseller.clone(),
        plan: spec.plan.clone(),
        tenant,
        delete_on_deletion: spec.deletion_policy() == DeletionPolicy::Delete,
        // The operator writes connection and source together; a connection without a source (a
        // hand-edited status) still pins, since moving the tenant is never the operator's to do.
        pinned: status.and_then(|s| {
            Some(Pinned {
                connection: s.connection.clone()?,
                source: s.source.unwrap_or(crate::api::ConnectionSource::Plan),
            })
        }),
        phase: provisioning.and_then(|p| p.phase),
        started_at: provisioning
            .and_then(|p| p.started_at.as_ref())
            .map(|t| t.0.as_second()),
        tenant_id: status
            .and_then(|s| s.tenant_id.as_ref())
            .map(|t| t.trim().to_ascii_lowercase()),
        deleting: c.meta().deletion_timestamp.is_some(),
        placement: status
            .and_then(|s| s.placement.as_ref())
            .map(|p| crate::policy::Placement {
                reseller: p.reseller.clone(),
                plan: p.plan.clone(),
            }),
        associated_partner_id: status
            .and_then(|s| s.associated_partner_id.as_ref())
            .map(|t| t.trim().to_ascii_lowercase()),
        country: status
            .and_then(|s| s.country.as_ref())
            .map(|t| t.trim().to_ascii_uppercase()),
        // The inventories live in the connection reconciler's memory (customer/resolve.rs fills it).
        listed_under: Vec::new(),
    }
}

/// A connection's health as its reconciler last published it. A Ready condition written for an
/// older generation says nothing about the current spec: Unknown.
pub fn connection_health(c: &PartnerCenterConnection) -> ConnectionHealth {
    let conditions = c.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    match crate::api::conditions::ready_for_generation(conditions, c.metadata.generation) {
        Some(cond) if cond.status == "True" => ConnectionHealth::Ready,
        Some(cond) if cond.status == "False" => ConnectionHealth::NotReady {
            reason: cond.reason.clone(),
            message: cond.message.clone(),
        },
        _ => ConnectionHealth::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ConnectionSource, ProvisioningPhase};
    use serde_json::json;

    fn customer(tenant: serde_json::Value, status: serde_json::Value) -> Customer {
        serde_json::from_value(json!({
            "apiVersion": "channel.csp.dev/v1alpha1",
            "kind": "Customer",
            "metadata": {"name": "c1", "namespace": "ns-a", "uid": "u1",
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"plan": "eur", "tenant": tenant, "deletionPolicy": "Delete"},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn customer_facts_normalise_what_the_rules_compare() {
        let new = json!({"new": {"domainPrefix": "Contoso", "companyName": "C", "email": "a@b.de",
            "culture": "de-DE", "language": "de", "address": {"addressLine1": "x", "city": "y",
            "postalCode": "1", "country": "de", "firstName": "f", "lastName": "l"}}});
        let existing = json!({"existing": {"tenantId": "ABCDEF01-0000-0000-0000-000000000000"}});
        let pinned = json!({"connection": {"namespace": "pc-system", "name": "eur"}, "source": "Override",
            "tenantId": "ABC", "provisioning": {"phase": "Creating", "startedAt": "2026-01-01T00:01:00Z"}});
        // (spec.tenant, status, tenant, pinned, phase, startedAt, status.tenantId)
        let rows = [
            (
                new.clone(),
                json!({}),
                TenantRequest::New {
                    domain: "contoso.onmicrosoft.com".into(),
                    country: "DE".into(),
                },
                None,
                None,
                None,
                None,
            ),
            (
                existing,
                pinned.clone(),
                TenantRequest::Existing {
                    tenant_id: Some("abcdef01-0000-0000-0000-000000000000".into()),
                    domain: None,
                },
                Some(Pinned {
                    connection: ConnectionRef {
                        namespace: "pc-system".into(),
                        name: "eur".into(),
                    },
                    source: ConnectionSource::Override,
                }),
                Some(ProvisioningPhase::Creating),
                Some(1_767_225_660),
                Some("abc".to_string()),
            ),
        ];
        for (tenant, status, want_tenant, want_pinned, phase, started, tenant_id) in rows {
            let f = customer_facts(&customer(tenant, status));
            assert_eq!(f.tenant, want_tenant);
            assert_eq!(f.pinned, want_pinned);
            assert_eq!((f.phase, f.started_at, f.tenant_id), (phase, started, tenant_id));
            assert_eq!(
                (f.created, f.uid.as_str(), f.namespace.as_str()),
                (1_767_225_600, "u1", "ns-a")
            );
            assert!(f.delete_on_deletion && f.reseller.is_none() && !f.deleting);
        }
    }

    #[test]
    fn connection_facts_carry_the_last_sync_clamped() {
        let conn = |status: serde_json::Value| -> PartnerCenterConnection {
            serde_json::from_value(json!({
                "apiVersion": "channel.csp.dev/v1alpha1",
                "kind": "PartnerCenterConnection",
                "metadata": {"name": "eur", "namespace": "pc-system"},
                "spec": {"partnerTenantId": "00000000-0000-0000-0000-000000000001", "region": "EUR",
                         "cspType": "IndirectProvider", "environment": "Sandbox",
                         "auth": {"secretRef": {"name": "s"}}},
                "status": status,
            }))
            .unwrap()
        };
        // (status, customer_count, last_sync, linked)
        let rows = [
            (json!({}), None, None, vec![]),
            (
                json!({"customerCount": 12, "lastSyncTime": "2026-01-01T00:00:00Z",
                       "linkedIndirectResellers": [" ABC ", "def"]}),
                Some(12),
                Some(1_767_225_600),
                vec!["abc", "def"],
            ),
            (json!({"customerCount": -5}), Some(0), None, vec![]),
        ];
        for (status, count, sync, linked) in rows {
            let f = connection_facts(&conn(status));
            assert_eq!((f.customer_count, f.last_sync), (count, sync));
            assert_eq!(
                f.linked_indirect_resellers
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
                linked
            );
        }
    }

    #[test]
    fn reseller_facts_carry_the_indirect_reseller_lowercased() {
        let r: Reseller = serde_json::from_value(json!({
            "apiVersion": "channel.csp.dev/v1alpha1",
            "kind": "Reseller",
            "metadata": {"name": "a"},
            "spec": {"displayName": "A", "shortName": "A1", "parent": "root", "namespace": "ns-a",
                     "indirectReseller": {"tenantId": "ABCDEF01-0000-0000-0000-000000000000"}},
        }))
        .unwrap();
        assert_eq!(
            reseller_facts(&r).indirect_reseller_tenant_id.as_deref(),
            Some("abcdef01-0000-0000-0000-000000000000")
        );
    }
}
