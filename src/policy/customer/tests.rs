//! Rules 11–15 and 18 as tables: one row per outcome a Customer's status shows.

use super::*;
use crate::api::{ConnectionSource, CustomerType, MasterDirectory, ProvisioningPhase};
use crate::policy::{
    ConnectionFacts, ConnectionHealth, Evaluator, GrantFacts, PlanFacts, ResellerFacts, Settings, Snapshot,
    parse_plan_name,
};
use std::collections::BTreeSet;

const P: &str = "pc-system";
const T0: i64 = 1_700_000_000;
/// The sandbox connection's last sync.
const SYNC: i64 = T0 + 1_000;

const EUR: &str = "eur-direct-prod";
const NOCREATE: &str = "eur-direct-prod-adopt";
const SBX: &str = "eur-direct-sbx";
const IND: &str = "eur-indirect-prod";

// The connection builders of the other rules' tables: a Ready connection spelled like a plan name.
use crate::policy::tests::{conn, cref};

fn plan(name: &str, display: &str, conn_name: &str, allow_creation: bool) -> PlanFacts {
    let n = parse_plan_name(display).unwrap();
    PlanFacts {
        name: name.into(),
        display_name: display.into(),
        region: n.region,
        csp_type: n.csp_type,
        environment: n.environment,
        connection_ref: cref(P, conn_name),
        allow_tenant_creation: allow_creation,
        master_directory: Some(MasterDirectory::AzureAD),
        deleting: false,
        binding: None,
        confirmed_connections: BTreeSet::new(),
    }
}

fn reseller(name: &str, parent: Option<&str>, age: i64) -> ResellerFacts {
    ResellerFacts {
        name: name.into(),
        short_name: name.to_ascii_uppercase(),
        parent: parent.map(Into::into),
        customer_type: CustomerType::Standard,
        namespace: Some(if parent.is_none() {
            P.into()
        } else {
            format!("ns-{name}")
        }),
        region: None,
        sandbox_only: false,
        azure_ad_enabled: true,
        grants: [EUR, NOCREATE, SBX, IND]
            .iter()
            .map(|p| GrantFacts {
                plan: (*p).into(),
                connection_override: None,
            })
            .collect(),
        created: Some(jiff::Timestamp::from_second(T0 + age).unwrap()),
        deleting: false,
        bindings: Default::default(),
        confirmed_connections: BTreeSet::new(),
        indirect_reseller_tenant_id: None,
    }
}

/// provider ─┬─ a ─── a1          a is indirect reseller tid-a (linked on eur-ind)
///           └─ b ─── b1          b overrides EUR with its own ns-b/own
struct World {
    resellers: Vec<ResellerFacts>,
    plans: Vec<PlanFacts>,
    connections: Vec<ConnectionFacts>,
}

impl World {
    fn new() -> Self {
        let mut a = reseller("a", Some("provider"), 1);
        a.indirect_reseller_tenant_id = Some("tid-a".into());
        let mut b = reseller("b", Some("provider"), 3);
        b.grants[0].connection_override = Some(cref("ns-b", "own"));
        let sandbox = ConnectionFacts {
            customer_count: Some(10),
            last_sync: Some(SYNC),
            ..conn(P, "eur-sbx", "EUR Direct Sandbox")
        };
        let indirect = ConnectionFacts {
            linked_indirect_resellers: BTreeSet::from(["tid-a".to_string()]),
            last_sync: Some(SYNC),
            ..conn(P, "eur-ind", "EUR Indirect Production")
        };
        World {
            resellers: vec![
                reseller("provider", None, 0),
                a,
                reseller("a1", Some("a"), 2),
                b,
                reseller("b1", Some("b"), 4),
            ],
            plans: vec![
                plan(EUR, "EUR Direct Production", "eur-direct", true),
                plan(NOCREATE, "EUR Direct Production", "eur-direct", false),
                plan(SBX, "EUR Direct Sandbox", "eur-sbx", true),
                plan(IND, "EUR Indirect Production", "eur-ind", true),
            ],
            connections: vec![
                conn(P, "eur-direct", "EUR Direct Production"),
                conn("ns-b", "own", "EUR Direct Production"),
                sandbox,
                indirect,
            ],
        }
    }

    fn reseller(&mut self, name: &str) -> &mut ResellerFacts {
        self.resellers.iter_mut().find(|r| r.name == name).unwrap()
    }

    fn connection(&mut self, name: &str) -> &mut ConnectionFacts {
        self.connections.iter_mut().find(|c| c.name == name).unwrap()
    }

    fn evaluator(self) -> Evaluator {
        Evaluator::new(
            Snapshot::new(self.resellers, self.plans, self.connections),
            &Settings::new(P),
        )
    }
}

/// A Customer asking for a new German tenant `<name>.onmicrosoft.com` through plan EUR, nothing
/// called yet.
fn cust(ns: &str, name: &str, age: i64) -> CustomerFacts {
    CustomerFacts {
        namespace: ns.into(),
        name: name.into(),
        uid: format!("uid-{ns}-{name}"),
        created: T0 + age,
        reseller: None,
        plan: EUR.into(),
        tenant: TenantRequest::New {
            domain: format!("{name}.onmicrosoft.com"),
            country: "DE".into(),
        },
        delete_on_deletion: false,
        pinned: None,
        phase: None,
        started_at: None,
        tenant_id: None,
        deleting: false,
        placement: None,
        associated_partner_id: None,
        country: None,
        listed_under: Vec::new(),
    }
}

trait With: Sized {
    fn with(self, f: impl FnOnce(&mut Self)) -> Self;
}

impl With for CustomerFacts {
    fn with(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}

fn pinned(c: &mut CustomerFacts, ns: &str, name: &str, source: ConnectionSource, phase: ProvisioningPhase) {
    c.pinned = Some(Pinned {
        connection: cref(ns, name),
        source,
    });
    c.phase = Some(phase);
}

fn existing_id(c: &mut CustomerFacts, id: &str) {
    c.tenant = TenantRequest::Existing {
        tenant_id: Some(id.into()),
        domain: None,
    };
}

/// A customer creating a tenant through the sandbox connection: `phase`, started `started` seconds
/// after the sandbox's last sync (negative: before it).
fn sandbox_creation(name: &str, phase: ProvisioningPhase, started: i64) -> CustomerFacts {
    cust("ns-a", name, 50).with(|c| {
        c.plan = SBX.into();
        pinned(c, P, "eur-sbx", ConnectionSource::Plan, phase);
        c.started_at = Some(SYNC + started);
    })
}

/// 62 customers created through the sandbox after its last sync, and 3 that must not count.
fn sandbox_others(after_sync: usize) -> Vec<CustomerFacts> {
    let mut v: Vec<CustomerFacts> = (0..after_sync)
        .map(|i| {
            let phase = if i % 2 == 0 {
                ProvisioningPhase::Created
            } else {
                ProvisioningPhase::Creating
            };
            // i == 0 started exactly at the sync's second: counted.
            sandbox_creation(&format!("s{i}"), phase, i64::try_from(i).unwrap())
        })
        .collect();
    // Before the sync (in its count already), never started, and pinned elsewhere.
    v.push(sandbox_creation("before", ProvisioningPhase::Created, -1));
    v.push(sandbox_creation("pending", ProvisioningPhase::Pending, 5));
    v.push(cust("ns-a", "elsewhere", 50).with(|c| {
        pinned(c, P, "eur-direct", ConnectionSource::Plan, ProvisioningPhase::Creating);
        c.started_at = Some(SYNC + 5);
    }));
    v
}

enum Expect {
    Refused(&'static str, &'static str),
    Proceed {
        connection: (&'static str, &'static str),
        source: ConnectionSource,
        reseller: &'static str,
        associated_partner_id: Option<&'static str>,
        warnings: &'static [(&'static str, &'static str)],
    },
}

struct Row {
    case: &'static str,
    fix: fn(&mut World),
    customer: CustomerFacts,
    others: Vec<CustomerFacts>,
    expect: Expect,
}

fn none(_: &mut World) {}

const fn plan_route(reseller: &'static str) -> Expect {
    Expect::Proceed {
        connection: (P, "eur-direct"),
        source: ConnectionSource::Plan,
        reseller,
        associated_partner_id: None,
        warnings: &[],
    }
}

#[test]
fn customer_decisions() {
    use ConnectionSource::{Inherited, Override, Plan};
    use Expect::{Proceed, Refused};
    use ProvisioningPhase::{Created, Creating, Pending};
    let rows = vec![
        // ---- routes
        Row {
            case: "root customer through the plan's connection",
            fix: none,
            customer: cust(P, "root1", 10),
            others: vec![],
            expect: plan_route("provider"),
        },
        Row {
            case: "spec.reseller names a sub-reseller of the namespace owner",
            fix: none,
            customer: cust("ns-a", "c1", 10).with(|c| c.reseller = Some("a1".into())),
            others: vec![],
            expect: plan_route("a1"),
        },
        Row {
            case: "the reseller's own override",
            fix: none,
            customer: cust("ns-b", "c1", 10),
            others: vec![],
            expect: Proceed {
                connection: ("ns-b", "own"),
                source: Override,
                reseller: "b",
                associated_partner_id: None,
                warnings: &[],
            },
        },
        Row {
            case: "an inherited override",
            fix: none,
            customer: cust("ns-b1", "c1", 10),
            others: vec![],
            expect: Proceed {
                connection: ("ns-b", "own"),
                source: Inherited,
                reseller: "b1",
                associated_partner_id: None,
                warnings: &[],
            },
        },
        Row {
            case: "indirect: the nearest ancestor with spec.indirectReseller",
            fix: none,
            customer: cust("ns-a1", "c1", 10).with(|c| c.plan = IND.into()),
            others: vec![],
            expect: Proceed {
                connection: (P, "eur-ind"),
                source: Plan,
                reseller: "a1",
                associated_partner_id: Some("tid-a"),
                warnings: &[],
            },
        },
        Row {
            case: "indirect: the reseller's own identity is nearer than its parent's",
            fix: |w| {
                w.reseller("a1").indirect_reseller_tenant_id = Some("tid-a1".into());
                w.connection("eur-ind")
                    .linked_indirect_resellers
                    .insert("tid-a1".into());
            },
            customer: cust("ns-a1", "c1", 10).with(|c| c.plan = IND.into()),
            others: vec![],
            expect: Proceed {
                connection: (P, "eur-ind"),
                source: Plan,
                reseller: "a1",
                associated_partner_id: Some("tid-a1"),
                warnings: &[],
            },
        },
        Row {
            case: "indirect: an existing tenant is associated too",
            fix: none,
            customer: cust("ns-a1", "c1", 10).with(|c| {
                c.plan = IND.into();
                existing_id(c, "t-9");
            }),
            others: vec![],
            expect: Proceed {
                connection: (P, "eur-ind"),
                source: Plan,
                reseller: "a1",
                associated_partner_id: Some("tid-a"),
                warnings: &[],
            },
        },
        Row {
            case: "indirect: a creation in flight is not refused when the link disappears",
            fix: |w| w.connection("eur-ind").linked_indirect_resellers.clear(),
            customer: cust("ns-a1", "c1", 10).with(|c| {
                c.plan = IND.into();
                pinned(c, P, "eur-ind", Plan, Creating);
            }),
            others: vec![],
            expect: Proceed {
                connection: (P, "eur-ind"),
                source: Plan,
                reseller: "a1",
                associated_partner_id: Some("tid-a"),
                warnings: &[],
            },
        },
        Row {
            case: "indirect: the root's customers are the provider's own",
            fix: none,
            customer: cust(P, "root1", 10).with(|c| c.plan = IND.into()),
            others: vec![],
            expect: Proceed {
                connection: (P, "eur-ind"),
                source: Plan,
                reseller: "provider",
                associated_partner_id: None,
                warnings: &[],
            },
        },
        Row {
            case: "indirect: through a reseller's own IndirectProvider connection there is no association",
            fix: |w| {
                w.reseller("a").grants[3].connection_override = Some(cref("ns-a", "own-ind"));
                w.connections.push(conn("ns-a", "own-ind", "EUR Indirect Production"));
            },
            customer: cust("ns-a1", "c1", 10).with(|c| c.plan = IND.into()),
            others: vec![],
            expect: Proceed {
                connection: ("ns-a", "own-ind"),
                source: Inherited,
                reseller: "a1",
                associated_partner_id: None,
                warnings: &[],
            },
        },
        Row {
            case: "pinned: keeps its connection after an override was added, and warns",
            fix: none,
            customer: cust("ns-b", "c1", 10).with(|c| pinned(c, P, "eur-direct", Plan, Created)),
            others: vec![],
            expect: Proceed {
                connection: (P, "eur-direct"),
                source: Plan,
                reseller: "b",
                associated_partner_id: None,
                warnings: &[(
                    "EffectiveConnectionChanged",
                    "Customer 'ns-b/c1' stays on its pinned PartnerCenterConnection pc-system/eur-direct \
                     (status.connection), but the effective connection of Reseller 'b' for plan \
                     'eur-direct-prod' is now ns-b/own: moving a tenant between Partner Center accounts is a \
                     Microsoft transition, not an operator action; the operator keeps using \
                     pc-system/eur-direct for this Customer",
                )],
            },
        },
        Row {
            case: "pinned: moved to another plan on the same connection (creation no longer checked)",
            fix: none,
            customer: cust("ns-a", "c1", 10).with(|c| {
                c.plan = NOCREATE.into();
                pinned(c, P, "eur-direct", Plan, Created);
            }),
            others: vec![],
            expect: plan_route("a"),
        },
        Row {
            case: "pinned: moved to a sub-reseller on the same connection",
            fix: none,
            customer: cust("ns-a", "c1", 10).with(|c| {
                c.reseller = Some("a1".into());
                pinned(c, P, "eur-direct", Plan, Created);
            }),
            others: vec![],
            expect: plan_route("a1"),
        },
        Row {
            case: "duplicates: the older keeps the domain",
            fix: none,
            customer: cust("ns-a", "older", 10).with(|c| {
                c.tenant = TenantRequest::New {
                    domain: "contoso.onmicrosoft.com".into(),
                    country: "DE".into(),
                }
            }),
            others: vec![cust("ns-a", "newer", 11).with(|c| {
                c.tenant = TenantRequest::Existing {
                    tenant_id: None,
                    domain: Some("contoso.onmicrosoft.com".into()),
                }
            })],
            expect: plan_route("a"),
        },
        Row {
            case: "duplicates: an older Customer in a namespace no reseller owns holds nothing",
            fix: none,
            customer: cust("ns-a", "c1", 10),
            others: vec![cust("nowhere", "c1", 1)],
            expect: plan_route("a"),
        },
        Row {
            case: "quota: 10 at the last sync + 64 created or in flight since + this one = 75",
            fix: none,
            customer: cust("ns-a", "c1", 60).with(|c| c.plan = SBX.into()),
            others: sandbox_others(64),
            expect: Proceed {
                connection: (P, "eur-sbx"),
                source: Plan,
                reseller: "a",
                associated_partner_id: None,
                warnings: &[],
            },
        },
        Row {
            case: "quota: a creation already under way is not refused by the count",
            fix: none,
            customer: sandbox_creation("c1", Creating, 3),
            others: sandbox_others(70),
            expect: Proceed {
                connection: (P, "eur-sbx"),
                source: Plan,
                reseller: "a",
                associated_partner_id: None,
                warnings: &[],
            },
        },
        Row {
            case: "deletionPolicy Delete through a Sandbox connection",
            fix: none,
            customer: cust("ns-a", "c1", 10).with(|c| {
                c.plan = SBX.into();
                c.delete_on_deletion = true;
            }),
            others: vec![],
            expect: Proceed {
                connection: (P, "eur-sbx"),
                source: Plan,
                reseller: "a",
                associated_partner_id: None,
                warnings: &[],
            },
        },
        // ---- rule 11
        Row {
            case: "NamespaceNotOwned",
            fix: none,
            customer: cust("nowhere", "c1", 10),
            others: vec![],
            expect: Refused(
                "NamespaceNotOwned",
                "Customer 'nowhere/c1' is in namespace 'nowhere', which is neither the provider namespace \
                    nor any Reseller's spec.namespace: create Customers in the namespace of the reseller \
                    that manages them",
            ),
        },
        Row {
            case: "NotInSubtree: a sibling's reseller",
            fix: none,
            customer: cust("ns-a", "c1", 10).with(|c| c.reseller = Some("b1".into())),
            others: vec![],
            expect: Refused(
                "NotInSubtree",
                "spec.reseller of Customer 'ns-a/c1' names 'b1', which is neither 'a' (the Reseller that \
                    owns namespace 'ns-a') nor in its subtree: name 'a' or one of its sub-resellers, or \
                    leave spec.reseller out",
            ),
        },
        Row {
            case: "NotInSubtree: the parent",
            fix: none,
            customer: cust("ns-a1", "c1", 10).with(|c| c.reseller = Some("a".into())),
            others: vec![],
            expect: Refused(
                "NotInSubtree",
                "spec.reseller of Customer 'ns-a1/c1' names 'a', which is neither 'a1' (the Reseller that \
                    owns namespace 'ns-a1') nor in its subtree: name 'a1' or one of its sub-resellers, or \
                    leave spec.reseller out",
            ),
        },
        Row {
            case: "PlanNotGranted",
            fix: |w| w.reseller("a").grants.retain(|g| g.plan != EUR),
            customer: cust("ns-a", "c1", 10),
            others: vec![],
            expect: Refused(
                "PlanNotGranted",
                "spec.plan of Customer 'ns-a/c1' is 'eur-direct-prod', which is not granted to Reseller \
                    'a' (it is granted eur-direct-prod-adopt, eur-direct-sbx, eur-indirect-prod): choose a \
                    granted plan, or have the provider grant 'eur-direct-prod' in \
                    spec.services.azureAD.customerPlans of 'a'",
            ),
        },
        Row {
            case: "PlanNotGranted: the Azure AD service is disabled",
            fix: |w| w.reseller("a").azure_ad_enabled = false,
            customer: cust("ns-a", "c1", 10),
            others: vec![],
            expect: Refused(
                "PlanNotGranted",
                "spec.plan of Customer 'ns-a/c1' is 'eur-direct-prod', which is not granted to Reseller \
                    'a' (its spec.services.azureAD.enabled is false, so no plan is active): choose a granted \
                    plan, or have the provider grant 'eur-direct-prod' in \
                    spec.services.azureAD.customerPlans of 'a'",
            ),
        },
        Row {
            case: "the effective plan's own reason: its connection is not ready",
            fix: |w| {
                w.connection("eur-direct").health = ConnectionHealth::NotReady {
                    reason: "ConsentRevoked".into(),
                    message: "the refresh token was revoked".into(),
                }
            },
            customer: cust("ns-a", "c1", 10),
            others: vec![],
            expect: Refused(
                "ConsentRevoked",
                "PartnerCenterConnection pc-system/eur-direct (named by spec.connectionRef of \
                    CustomerPlan 'eur-direct-prod') is not ready: the refresh token was revoked",
            ),
        },
        Row {
            case: "the effective plan's own reason: a pinned customer on that connection",
            fix: |w| w.connection("eur-direct").health = ConnectionHealth::Unknown,
            customer: cust("ns-a", "c1", 10).with(|c| pinned(c, P, "eur-direct", Plan, Created)),
            others: vec![],
            expect: Refused(
                "ConnectionPending",
                "PartnerCenterConnection pc-system/eur-direct (named by spec.connectionRef of \
                    CustomerPlan 'eur-direct-prod') has not been verified against Partner Center yet",
            ),
        },
        // ---- rule 15
        Row {
            case: "pinned connection gone",
            fix: none,
            customer: cust("ns-a", "c1", 10).with(|c| pinned(c, P, "gone", Plan, Created)),
            others: vec![],
            expect: Refused(
                "ConnectionNotFound",
                "the pinned PartnerCenterConnection pc-system/gone of Customer 'ns-a/c1' \
                    (status.connection) does not exist: the tenant stays under that Partner Center account \
                    and nothing is called until the connection exists again",
            ),
        },
        Row {
            case: "pinned connection not ready (the effective one is)",
            fix: |w| {
                w.connection("own").health = ConnectionHealth::NotReady {
                    reason: "ConsentExpired".into(),
                    message: "the refresh token has expired".into(),
                }
            },
            customer: cust("ns-b", "c1", 10).with(|c| {
                c.plan = SBX.into();
                pinned(c, "ns-b", "own", Override, Created);
            }),
            others: vec![],
            expect: Refused(
                "ConsentExpired",
                "the pinned PartnerCenterConnection ns-b/own of Customer 'ns-b/c1' is not ready: the \
                    refresh token has expired",
            ),
        },
        Row {
            case: "pinned connection being deleted",
            fix: |w| w.connection("own").deleting = true,
            customer: cust("ns-b", "c1", 10).with(|c| {
                c.plan = SBX.into();
                pinned(c, "ns-b", "own", Override, Created);
            }),
            others: vec![],
            expect: Refused(
                "Deleting",
                "the pinned PartnerCenterConnection ns-b/own of Customer 'ns-b/c1' (status.connection) is \
                     being deleted: nothing is called through it; keep the connection, or delete this Customer \
                     first",
            ),
        },
        Row {
            case: "pinned elsewhere, but the grant itself is invalid",
            fix: |w| w.reseller("b").region = Some("NZ".into()),
            customer: cust("ns-b", "c1", 10).with(|c| pinned(c, P, "eur-direct", Plan, Created)),
            others: vec![],
            expect: Refused(
                "PlanRegionNotAllowed",
                "Reseller 'b' has spec.region 'NZ' and may only be granted plans of region 'NZ', but \
                    CustomerPlan 'eur-direct-prod' is region 'EUR': remove the entry or grant a 'NZ' plan",
            ),
        },
        // ---- rule 12
        Row {
            case: "CountryOutsideRegion",
            fix: none,
            customer: cust("ns-a", "c1", 10).with(|c| {
                c.tenant = TenantRequest::New {
                    domain: "c1.onmicrosoft.com".into(),
                    country: "US".into(),
                };
                c.delete_on_deletion = true; // rule 18 fails too, later in the order
            }),
            others: vec![],
            expect: Refused(
                "CountryOutsideRegion",
                "spec.tenant.new.address.country of Customer 'ns-a/c1' is 'US', which is not in region \
                    'EUR' of CustomerPlan 'eur-direct-prod': choose a plan (spec.plan) whose region holds \
                    'US' (the country is immutable; for another country create another Customer)",
            ),
        },
        Row {
            case: "TenantCreationNotAllowed",
            fix: none,
            customer: cust("ns-a", "c1", 10).with(|c| c.plan = NOCREATE.into()),
            others: vec![],
            expect: Refused(
                "TenantCreationNotAllowed",
                "Customer 'ns-a/c1' asks for a new tenant (spec.tenant.new), but CustomerPlan \
                    'eur-direct-prod-adopt' does not allow tenant creation (spec.allowTenantCreation is not \
                    true): choose a plan that allows it, have the provider set spec.allowTenantCreation: \
                    true on 'eur-direct-prod-adopt', or adopt an existing tenant with another Customer \
                    (spec.tenant.existing)",
            ),
        },
        Row {
            case: "TenantCreationNotAllowed: pinned at the availability check, not yet created",
            fix: none,
            customer: cust("ns-a", "c1", 10).with(|c| {
                c.plan = NOCREATE.into();
                pinned(c, P, "eur-direct", Plan, Pending);
            }),
            others: vec![],
            expect: Refused(
                "TenantCreationNotAllowed",
                "Customer 'ns-a/c1' asks for a new tenant (spec.tenant.new), but CustomerPlan \
                    'eur-direct-prod-adopt' does not allow tenant creation (spec.allowTenantCreation is not \
                    true): choose a plan that allows it, have the provider set spec.allowTenantCreation: \
                    true on 'eur-direct-prod-adopt', or adopt an existing tenant with another Customer \
                    (spec.tenant.existing)",
            ),
        },
        Row {
            case: "SandboxQuotaExceeded: 10 + 65 + this one = 76",
            fix: none,
            customer: cust("ns-a", "c1", 60).with(|c| c.plan = SBX.into()),
            others: sandbox_others(65),
            expect: Refused(
                "SandboxQuotaExceeded",
                "Sandbox PartnerCenterConnection pc-system/eur-sbx held 10 customers at its last sync \
                    (2023-11-14T22:30:00Z) and 65 more have been created or are being created through it \
                    since; creating Customer 'ns-a/c1' would make 76, above the sandbox quota of 75: delete \
                    sandbox customers (Customers with spec.deletionPolicy: Delete) or use another sandbox \
                    connection",
            ),
        },
        // ---- rule 13
        Row {
            case: "IndirectResellerNotLinked: not Active as of the last sync",
            fix: |w| w.connection("eur-ind").linked_indirect_resellers.clear(),
            customer: cust("ns-a1", "c1", 10).with(|c| c.plan = IND.into()),
            others: vec![],
            expect: Refused(
                "IndirectResellerNotLinked",
                "Customer 'ns-a1/c1' would be created on behalf of Reseller 'a' (the nearest with \
                    spec.indirectReseller on the path from 'a1'), but its indirect reseller tenant id tid-a \
                    is not among the linked indirect resellers of PartnerCenterConnection pc-system/eur-ind \
                    as of its last sync (2023-11-14T22:30:00Z): the connection lists an indirect reseller \
                    only once its reseller relationship with the provider is Active in Partner Center; have \
                    'a' accept the relationship, then wait for the next connection sync",
            ),
        },
        Row {
            case: "IndirectResellerNotLinked: no reseller on the path declares one",
            fix: none,
            customer: cust("ns-b1", "c1", 10).with(|c| c.plan = IND.into()),
            others: vec![],
            expect: Refused(
                "IndirectResellerNotLinked",
                "Customer 'ns-b1/c1' would be provisioned through the provider's IndirectProvider \
                    connection pc-system/eur-ind for Reseller 'b1', but no reseller on the path from 'b1' to \
                    the root declares spec.indirectReseller, so there is no indirect reseller to associate \
                    it with: have the provider set spec.indirectReseller on 'b1' or an ancestor, or use a \
                    Direct plan",
            ),
        },
        // ---- rule 14
        Row {
            case: "DuplicateTenant: the newer, same subtree (named)",
            fix: none,
            customer: cust("ns-a1", "newer", 11).with(|c| {
                c.tenant = TenantRequest::Existing {
                    tenant_id: None,
                    domain: Some("contoso.onmicrosoft.com".into()),
                }
            }),
            others: vec![cust("ns-a1", "older", 10).with(|c| {
                c.tenant = TenantRequest::New {
                    domain: "contoso.onmicrosoft.com".into(),
                    country: "DE".into(),
                }
            })],
            expect: Refused(
                "DuplicateTenant",
                "Customer 'ns-a1/newer' names domain 'contoso.onmicrosoft.com', which Customer \
                    'ns-a1/older' also names and keeps, being older (ties: namespace, then name): one tenant \
                    has one Customer; delete Customer 'ns-a1/newer' or name another tenant",
            ),
        },
        Row {
            case: "TenantClaimed: tie on age, the namespace decides; the parent's Customer is not named",
            fix: none,
            customer: cust("ns-a1", "c1", 10).with(|c| existing_id(c, "t-1")),
            others: vec![cust("ns-a", "c1", 10).with(|c| existing_id(c, "t-1"))],
            expect: Refused(
                "TenantClaimed",
                "Customer 'ns-a1/c1' asks to adopt tenant t-1, which a Customer of another reseller already \
                    claims and keeps, being older (ties: namespace, then name): one tenant has one Customer, and \
                    a reseller adopts only tenants no other reseller has; delete Customer 'ns-a1/c1' or name \
                    another tenant",
            ),
        },
        Row {
            case: "DuplicateTenant: tie on age and namespace, the name decides",
            fix: none,
            customer: cust("ns-a", "y", 10).with(|c| existing_id(c, "t-1")),
            others: vec![cust("ns-a", "x", 10).with(|c| c.tenant_id = Some("t-1".into()))],
            expect: Refused(
                "DuplicateTenant",
                "Customer 'ns-a/y' names tenant t-1, which Customer 'ns-a/x' also names and keeps, being \
                    older (ties: namespace, then name): one tenant has one Customer; delete Customer \
                    'ns-a/y' or name another tenant",
            ),
        },
        Row {
            case: "TenantClaimed: another reseller's Customer claims the existing tenant (not named)",
            fix: none,
            customer: cust("ns-b", "c1", 11).with(|c| existing_id(c, "t-1")),
            others: vec![cust("ns-a", "theirs", 10).with(|c| existing_id(c, "t-1"))],
            expect: Refused(
                "TenantClaimed",
                "Customer 'ns-b/c1' asks to adopt tenant t-1, which a Customer of another reseller already \
                    claims and keeps, being older (ties: namespace, then name): one tenant has one Customer, and \
                    a reseller adopts only tenants no other reseller has; delete Customer 'ns-b/c1' or name \
                    another tenant",
            ),
        },
        Row {
            case: "DuplicateTenant: another reseller's new tenant with the same domain stays a duplicate",
            fix: none,
            customer: cust("ns-b", "c1", 11).with(|c| {
                c.tenant = TenantRequest::New {
                    domain: "contoso.onmicrosoft.com".into(),
                    country: "DE".into(),
                }
            }),
            others: vec![cust("ns-a", "theirs", 10).with(|c| {
                c.tenant = TenantRequest::New {
                    domain: "contoso.onmicrosoft.com".into(),
                    country: "DE".into(),
                }
            })],
            expect: Refused(
                "DuplicateTenant",
                "Customer 'ns-b/c1' names domain 'contoso.onmicrosoft.com', which another Customer also names \
                    and keeps, being older (ties: namespace, then name): one tenant has one Customer; delete \
                    Customer 'ns-b/c1' or name another tenant",
            ),
        },
        Row {
            case: "DuplicateTenant: the one that already holds the tenant keeps it, even if newer",
            fix: none,
            customer: cust("ns-a", "older", 10).with(|c| existing_id(c, "t-1")),
            others: vec![cust("ns-a", "newer", 11).with(|c| {
                existing_id(c, "t-1");
                pinned(c, P, "eur-direct", Plan, ProvisioningPhase::Adopted);
                c.tenant_id = Some("t-1".into());
            })],
            expect: Refused(
                "DuplicateTenant",
                "Customer 'ns-a/older' names tenant t-1, which Customer 'ns-a/newer' also names and \
                    already holds: one tenant has one Customer; delete Customer 'ns-a/older' or name another \
                    tenant",
            ),
        },
        // ---- rule 18
        Row {
            case: "DeletionPolicyNotAllowed",
            fix: none,
            customer: cust("ns-a", "c1", 10).with(|c| c.delete_on_deletion = true),
            others: vec![],
            expect: Refused(
                "DeletionPolicyNotAllowed",
                "spec.deletionPolicy of Customer 'ns-a/c1' is Delete, but its connection \
                    pc-system/eur-direct is a Production account: the operator deletes only sandbox tenants; \
                    set spec.deletionPolicy to Orphan (or remove it). Until then nothing is provisioned, and \
                    deleting the Customer leaves the tenant in place",
            ),
        },
    ];

    let mut failures = Vec::new();
    for row in rows {
        let mut world = World::new();
        (row.fix)(&mut world);
        let evaluator = world.evaluator();
        let mut others = row.others.clone();
        others.push(row.customer.clone()); // decide skips the Customer itself
        let got = decide(&row.customer, &others, &evaluator, &Settings::new(P));
        let ok = match (&row.expect, &got) {
            (Expect::Refused(reason, message), CustomerDecision::Refused(f)) => {
                f.reason == *reason && f.message == *message
            }
            (
                Expect::Proceed {
                    connection,
                    source,
                    reseller,
                    associated_partner_id,
                    warnings,
                },
                CustomerDecision::Proceed(r),
            ) => {
                r.connection == cref(connection.0, connection.1)
                    && r.source == *source
                    && r.reseller == *reseller
                    && r.associated_partner_id.as_deref() == *associated_partner_id
                    && r.warnings
                        .iter()
                        .map(|w| (w.reason.as_str(), w.message.as_str()))
                        .eq(warnings.iter().copied())
            }
            _ => false,
        };
        if !ok {
            failures.push(format!("{}:\n  got {got:#?}", row.case));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_route_names_the_account_and_only_sandbox_tenants_are_deleted() {
    // (plan, spec.deletionPolicy Delete, sandbox, partner tenant, may_delete_tenant)
    let rows = [
        (SBX, true, true, "tenant-pc-system-eur-sbx", true),
        (SBX, false, true, "tenant-pc-system-eur-sbx", false),
        (EUR, false, false, "tenant-pc-system-eur-direct", false),
    ];
    let evaluator = World::new().evaluator();
    for (plan, delete, sandbox, tenant, may_delete) in rows {
        let c = cust("ns-a", "c1", 10).with(|c| {
            c.plan = plan.into();
            c.delete_on_deletion = delete;
        });
        let CustomerDecision::Proceed(route) = decide(&c, &[], &evaluator, &Settings::new(P)) else {
            panic!("{plan} delete={delete}: refused");
        };
        assert_eq!(
            (
                route.sandbox,
                route.partner_tenant_id.as_str(),
                may_delete_tenant(&route, &c)
            ),
            (sandbox, tenant, may_delete),
            "{plan} delete={delete}"
        );
    }
}

/// Rules 12 (adopted country), 15 (moves) and 16 (adoption) as the user sees them.
enum Outcome {
    Refused(&'static str, &'static str),
    Proceeds {
        connection: (&'static str, &'static str),
        placement: (&'static str, &'static str),
        moved_from: Option<(&'static str, &'static str)>,
    },
}

struct AdoptRow {
    case: &'static str,
    fix: fn(&mut World),
    customer: CustomerFacts,
    others: Vec<CustomerFacts>,
    expect: Outcome,
}

fn placed(c: &mut CustomerFacts, reseller: &str, plan: &str) {
    c.placement = Some(Placement {
        reseller: reseller.into(),
        plan: plan.into(),
    });
}

/// A Customer of `ns` adopting tenant t-9 through `plan`, nothing called yet.
fn adopting(ns: &str, plan: &str) -> CustomerFacts {
    cust(ns, "adopt", 10).with(|c| {
        c.plan = plan.into();
        existing_id(c, "t-9");
    })
}

/// A provisioned Customer of `ns` pinned to `conn` and placed under (`reseller`, `plan`).
fn provisioned(ns: &str, conn_name: &str, reseller: &str, plan: &str) -> CustomerFacts {
    cust(ns, "moving", 10).with(|c| {
        c.plan = plan.into();
        pinned(c, P, conn_name, ConnectionSource::Plan, ProvisioningPhase::Created);
        c.tenant_id = Some("t-5".into());
        placed(c, reseller, plan);
    })
}

#[test]
fn adoption_and_moves() {
    use Outcome::{Proceeds, Refused};
    let rows = vec![
        // ---- rule 16: adoption
        AdoptRow {
            case: "adoption through a production connection proceeds (to the look-up and the invitation)",
            fix: none,
            customer: adopting("ns-a", EUR),
            others: vec![],
            expect: Proceeds {
                connection: (P, "eur-direct"),
                placement: ("a", EUR),
                moved_from: None,
            },
        },
        AdoptRow {
            case: "SandboxCannotInvite: refused before any call",
            fix: none,
            customer: adopting("ns-a", SBX),
            others: vec![],
            expect: Refused(
                "SandboxCannotInvite",
                "Customer 'ns-a/adopt' asks to adopt tenant t-9 (spec.tenant.existing) through the Sandbox \
                PartnerCenterConnection pc-system/eur-sbx, but sandbox partners cannot invite customers to a \
                reseller relationship: choose a plan (spec.plan) whose connection is a Production account, or \
                create a sandbox tenant with another Customer (spec.tenant.new)",
            ),
        },
        AdoptRow {
            case: "SandboxCannotInvite: a pinned, waiting Customer is refused too",
            fix: none,
            customer: adopting("ns-a", SBX).with(|c| {
                pinned(
                    c,
                    P,
                    "eur-sbx",
                    ConnectionSource::Plan,
                    ProvisioningPhase::AwaitingAcceptance,
                )
            }),
            others: vec![],
            expect: Refused(
                "SandboxCannotInvite",
                "Customer 'ns-a/adopt' asks to adopt tenant t-9 (spec.tenant.existing) through the Sandbox \
                PartnerCenterConnection pc-system/eur-sbx, but sandbox partners cannot invite customers to a \
                reseller relationship: choose a plan (spec.plan) whose connection is a Production account, or \
                create a sandbox tenant with another Customer (spec.tenant.new)",
            ),
        },
        AdoptRow {
            case: "sandbox: a tenant the sandbox's last sync already lists needs no invitation",
            fix: none,
            customer: adopting("ns-a", SBX).with(|c| c.listed_under = vec![cref(P, "eur-sbx")]),
            others: vec![],
            expect: Proceeds {
                connection: (P, "eur-sbx"),
                placement: ("a", SBX),
                moved_from: None,
            },
        },
        AdoptRow {
            case: "TenantClaimed: another of the operator's connections lists the tenant",
            fix: none,
            customer: adopting("ns-a", EUR).with(|c| c.listed_under = vec![cref(P, "eur-ind")]),
            others: vec![],
            expect: Refused(
                "TenantClaimed",
                "Customer 'ns-a/adopt' asks to adopt tenant t-9, but the last sync of PartnerCenterConnection \
                pc-system/eur-ind lists it among that account's customers: a tenant is provisioned through one \
                of the operator's Partner Center accounts; adopt it with a plan whose effective connection is \
                pc-system/eur-ind, or delete this Customer",
            ),
        },
        AdoptRow {
            case: "the pinned connection's own listing is the acceptance, not a claim",
            fix: none,
            customer: adopting("ns-a", EUR).with(|c| c.listed_under = vec![cref(P, "eur-direct")]),
            others: vec![],
            expect: Proceeds {
                connection: (P, "eur-direct"),
                placement: ("a", EUR),
                moved_from: None,
            },
        },
        AdoptRow {
            case: "an adopted tenant listed elsewhere later stays adopted (the claim is checked before)",
            fix: none,
            customer: provisioned("ns-a", "eur-direct", "a", EUR).with(|c| {
                existing_id(c, "t-5");
                c.phase = Some(ProvisioningPhase::Adopted);
                c.listed_under = vec![cref(P, "eur-ind")];
            }),
            others: vec![],
            expect: Proceeds {
                connection: (P, "eur-direct"),
                placement: ("a", EUR),
                moved_from: None,
            },
        },
        AdoptRow {
            case: "DuplicateTenant: within the subtree an existing tenant stays a named duplicate",
            fix: none,
            customer: adopting("ns-a", EUR).with(|c| c.created = T0 + 20),
            others: vec![adopting("ns-a1", EUR)],
            expect: Refused(
                "DuplicateTenant",
                "Customer 'ns-a/adopt' names tenant t-9, which Customer 'ns-a1/adopt' also names and keeps, being \
                 older (ties: namespace, then name): one tenant has one Customer; delete Customer 'ns-a/adopt' \
                or name another tenant",
            ),
        },
        AdoptRow {
            case: "NotInSubtree: a reseller's Customer adopts only for its own subtree",
            fix: none,
            customer: adopting("ns-a", EUR).with(|c| c.reseller = Some("b".into())),
            others: vec![],
            expect: Refused(
                "NotInSubtree",
                "spec.reseller of Customer 'ns-a/adopt' names 'b', which is neither 'a' (the Reseller that owns \
                namespace 'ns-a') nor in its subtree: name 'a' or one of its sub-resellers, or leave \
                spec.reseller out",
            ),
        },
        // ---- rule 12: the adopted tenant's country
        AdoptRow {
            case: "CountryOutsideRegion: Partner Center reports a US tenant for a EUR plan",
            fix: none,
            customer: provisioned("ns-a", "eur-direct", "a", EUR).with(|c| {
                existing_id(c, "t-5");
                c.phase = Some(ProvisioningPhase::Adopted);
                c.country = Some("US".into());
            }),
            others: vec![],
            expect: Refused(
                "CountryOutsideRegion",
                "Customer 'ns-a/moving' adopted a tenant whose country in Partner Center is 'US', which is not in \
                 region 'EUR' of CustomerPlan 'eur-direct-prod': move the Customer to a plan (spec.plan) whose \
                region holds 'US' on the same connection, or delete this Customer; the tenant stays a customer \
                of the connection either way",
            ),
        },
        AdoptRow {
            case: "an adopted German tenant for a EUR plan is Ready",
            fix: none,
            customer: provisioned("ns-a", "eur-direct", "a", EUR).with(|c| {
                existing_id(c, "t-5");
                c.phase = Some(ProvisioningPhase::Adopted);
                c.country = Some("DE".into());
            }),
            others: vec![],
            expect: Proceeds {
                connection: (P, "eur-direct"),
                placement: ("a", EUR),
                moved_from: None,
            },
        },
        // ---- rule 15: moves
        AdoptRow {
            case: "no move: the placement is the spec's",
            fix: none,
            customer: provisioned("ns-a", "eur-direct", "a", EUR),
            others: vec![],
            expect: Proceeds {
                connection: (P, "eur-direct"),
                placement: ("a", EUR),
                moved_from: None,
            },
        },
        AdoptRow {
            case: "move to another plan on the pinned connection: applied",
            fix: none,
            customer: provisioned("ns-a", "eur-direct", "a", EUR).with(|c| c.plan = NOCREATE.into()),
            others: vec![],
            expect: Proceeds {
                connection: (P, "eur-direct"),
                placement: ("a", NOCREATE),
                moved_from: Some(("a", EUR)),
            },
        },
        AdoptRow {
            case: "move to a sub-reseller on the pinned connection: applied",
            fix: none,
            customer: provisioned("ns-a", "eur-direct", "a", EUR).with(|c| c.reseller = Some("a1".into())),
            others: vec![],
            expect: Proceeds {
                connection: (P, "eur-direct"),
                placement: ("a1", EUR),
                moved_from: Some(("a", EUR)),
            },
        },
        AdoptRow {
            case: "EffectiveConnectionChanged: a move to a plan on another connection is refused",
            fix: none,
            customer: provisioned("ns-a", "eur-direct", "a", EUR).with(|c| c.plan = SBX.into()),
            others: vec![],
            expect: Refused(
                "EffectiveConnectionChanged",
                "Customer 'ns-a/moving' cannot move from reseller 'a', plan 'eur-direct-prod' to reseller 'a', \
                plan 'eur-direct-sbx': the effective connection of Reseller 'a' for plan 'eur-direct-sbx' is now \
                 pc-system/eur-sbx, not the pinned PartnerCenterConnection pc-system/eur-direct \
                (status.connection); moving a tenant between Partner Center accounts is a Microsoft transition, \
                not an operator action. The tenant stays under pc-system/eur-direct and status.placement stays \
                reseller 'a', plan 'eur-direct-prod': set spec.reseller and spec.plan back, or choose a plan and \
                 reseller whose effective connection is pc-system/eur-direct",
            ),
        },
        AdoptRow {
            case: "EffectiveConnectionChanged: a move to a reseller with an override is refused",
            fix: |w| w.reseller("b").parent = Some("a".into()),
            customer: provisioned("ns-a", "eur-direct", "a", EUR).with(|c| c.reseller = Some("b".into())),
            others: vec![],
            expect: Refused(
                "EffectiveConnectionChanged",
                "Customer 'ns-a/moving' cannot move from reseller 'a', plan 'eur-direct-prod' to reseller 'b', \
                plan 'eur-direct-prod': the effective connection of Reseller 'b' for plan 'eur-direct-prod' is \
                now ns-b/own, not the pinned PartnerCenterConnection pc-system/eur-direct (status.connection); \
                moving a tenant between Partner Center accounts is a Microsoft transition, not an operator \
                action. The tenant stays under pc-system/eur-direct and status.placement stays reseller 'a', \
                plan 'eur-direct-prod': set spec.reseller and spec.plan back, or choose a plan and reseller \
                whose effective connection is pc-system/eur-direct",
            ),
        },
        AdoptRow {
            case: "indirect: a move to a sub-reseller with the same nearest indirect reseller: applied",
            fix: none,
            customer: provisioned("ns-a", "eur-ind", "a", IND).with(|c| {
                c.associated_partner_id = Some("tid-a".into());
                c.reseller = Some("a1".into());
            }),
            others: vec![],
            expect: Proceeds {
                connection: (P, "eur-ind"),
                placement: ("a1", IND),
                moved_from: Some(("a", IND)),
            },
        },
        AdoptRow {
            case: "IndirectResellerChanged: a move to a reseller with another indirect reseller is refused",
            fix: |w| {
                w.reseller("a1").indirect_reseller_tenant_id = Some("tid-a1".into());
                w.connection("eur-ind")
                    .linked_indirect_resellers
                    .insert("tid-a1".into());
            },
            customer: provisioned("ns-a", "eur-ind", "a", IND).with(|c| {
                c.associated_partner_id = Some("tid-a".into());
                c.reseller = Some("a1".into());
            }),
            others: vec![],
            expect: Refused(
                "IndirectResellerChanged",
                "Customer 'ns-a/moving' cannot move from reseller 'a', plan 'eur-indirect-prod' to reseller 'a1', \
                 plan 'eur-indirect-prod': the tenant is associated in Partner Center with indirect reseller \
                tid-a (status.associatedPartnerId), but under Reseller 'a1' it would be associated with indirect \
                 reseller tid-a1, and Partner Center has no call to re-associate a customer: move it only to \
                resellers whose nearest spec.indirectReseller is the same, or set spec.reseller and spec.plan \
                back (status.placement stays reseller 'a', plan 'eur-indirect-prod')",
            ),
        },
        AdoptRow {
            case: "IndirectResellerChanged: the provider's own customer moved to an indirect reseller",
            fix: none,
            customer: provisioned(P, "eur-ind", "provider", IND).with(|c| c.reseller = Some("a".into())),
            others: vec![],
            expect: Refused(
                "IndirectResellerChanged",
                "Customer 'pc-system/moving' cannot move from reseller 'provider', plan 'eur-indirect-prod' to \
                reseller 'a', plan 'eur-indirect-prod': the tenant is associated in Partner Center with no \
                indirect reseller, as the provider's own customer, (status.associatedPartnerId), but under \
                Reseller 'a' it would be associated with indirect reseller tid-a, and Partner Center has no call \
                 to re-associate a customer: move it only to resellers whose nearest spec.indirectReseller is \
                the same, or set spec.reseller and spec.plan back (status.placement stays reseller 'provider', \
                plan 'eur-indirect-prod')",
            ),
        },
    ];

    let mut failures = Vec::new();
    for row in rows {
        let mut world = World::new();
        (row.fix)(&mut world);
        let evaluator = world.evaluator();
        let got = decide(&row.customer, &row.others, &evaluator, &Settings::new(P));
        let ok = match (&row.expect, &got) {
            (Outcome::Refused(reason, message), CustomerDecision::Refused(f)) => {
                f.reason == *reason && f.message == *message
            }
            (
                Outcome::Proceeds {
                    connection,
                    placement,
                    moved_from,
                },
                CustomerDecision::Proceed(r),
            ) => {
                r.connection == cref(connection.0, connection.1)
                    && (r.placement.reseller.as_str(), r.placement.plan.as_str()) == *placement
                    && r.moved_from.as_ref().map(|p| (p.reseller.as_str(), p.plan.as_str())) == *moved_from
            }
            _ => false,
        };
        if !ok {
            failures.push(format!("{}:\n  got {got:#?}", row.case));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
