//! Which objects must be re-evaluated when one changes, so controllers requeue exactly the
//! dependents (connection → plans → resellers → sub-resellers; plan → resellers; reseller → its
//! subtree and what its identity decides).
//!
//! The answer is computed from the snapshot's references. When a change moves references (an
//! object deleted, a grant or connectionRef edited), call it with the snapshot holding the old
//! object and with the one holding the new object and requeue the union.

use super::hierarchy::Children;
use super::naming::parse_plan_name;
use super::snapshot::Snapshot;
use crate::api::ConnectionRef;
use std::collections::BTreeSet;

/// The object that changed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ObjectKey {
    Reseller(String),
    Plan(String),
    Connection(ConnectionRef),
}

/// Objects to re-evaluate; never contains the changed object itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dependents {
    pub resellers: BTreeSet<String>,
    pub plans: BTreeSet<String>,
    pub connections: BTreeSet<ConnectionRef>,
}

impl Dependents {
    pub fn is_empty(&self) -> bool {
        self.resellers.is_empty() && self.plans.is_empty() && self.connections.is_empty()
    }

    pub fn extend(&mut self, other: Dependents) {
        self.resellers.extend(other.resellers);
        self.plans.extend(other.plans);
        self.connections.extend(other.connections);
    }
}

pub fn dependents(snapshot: &Snapshot, changed: &ObjectKey) -> Dependents {
    let mut d = Dependents::default();
    // One index for every subtree below: one per subtree made a connection with N overriding
    // resellers cost N passes over the channel.
    let children = std::cell::LazyCell::new(|| Children::of(snapshot));
    match changed {
        ObjectKey::Connection(c) => {
            // Plans through it, and every reseller granted those plans (sub-resellers that pass
            // a plan down are granted it themselves).
            for p in snapshot.plans.values().filter(|p| &p.connection_ref == c) {
                d.plans.insert(p.name.clone());
            }
            add_grantees(snapshot, &mut d);
            // Resellers overriding with it, and their subtrees (inherited overrides).
            for r in snapshot.resellers.values() {
                if r.grants.iter().any(|g| g.connection_override.as_ref() == Some(c)) {
                    d.resellers.insert(r.name.clone());
                    d.resellers.extend(children.descendants(&r.name));
                }
            }
        }
        ObjectKey::Plan(name) => {
            for r in snapshot.resellers.values() {
                if let Some(g) = r.grant(name) {
                    d.resellers.insert(r.name.clone());
                    // Their usage counts change with the plan's existence.
                    if let Some(o) = &g.connection_override {
                        d.connections.insert(o.clone());
                    }
                }
            }
            if let Some(p) = snapshot.plans.get(name) {
                d.connections.insert(p.connection_ref.clone());
            }
        }
        ObjectKey::Reseller(name) => {
            d.resellers.extend(children.descendants(name));
            if let Some(r) = snapshot.resellers.get(name) {
                // Plans it is exposed to (counts), connections it overrides (usage).
                for g in &r.grants {
                    d.plans.insert(g.plan.clone());
                    if let Some(o) = &g.connection_override {
                        d.connections.insert(o.clone());
                    }
                }
                // Its namespace decides who owns the connections there.
                if let Some(ns) = &r.namespace {
                    d.connections
                        .extend(snapshot.connections.keys().filter(|c| &c.namespace == ns).cloned());
                }
                // Uniqueness and the single root are decided between resellers: the others
                // sharing the short name, the namespace or rootness may flip.
                for other in snapshot.resellers.values() {
                    if other.name == r.name {
                        continue;
                    }
                    let shares = other.short_name == r.short_name
                        || (r.namespace.is_some() && other.namespace == r.namespace)
                        || (r.parent.is_none() && other.parent.is_none());
                    if shares {
                        d.resellers.insert(other.name.clone());
                        d.resellers.extend(children.descendants(&other.name));
                    }
                }
                // Plans named for it (their connectionRef rule) and whoever is granted them
                // (the path/subtree rule).
                let mut named = BTreeSet::new();
                for p in snapshot.plans.values() {
                    if parse_plan_name(&p.display_name)
                        .ok()
                        .and_then(|n| n.short_name)
                        .is_some_and(|s| s == r.short_name)
                    {
                        named.insert(p.name.clone());
                    }
                }
                for r2 in snapshot.resellers.values() {
                    if r2.grants.iter().any(|g| named.contains(&g.plan)) {
                        d.resellers.insert(r2.name.clone());
                    }
                }
                d.plans.extend(named);
            }
            d.resellers.remove(name);
        }
    }
    d
}

/// Every reseller granted one of `d.plans`.
fn add_grantees(snapshot: &Snapshot, d: &mut Dependents) {
    for r in snapshot.resellers.values() {
        if r.grants.iter().any(|g| d.plans.contains(&g.plan)) {
            d.resellers.insert(r.name.clone());
        }
    }
}
