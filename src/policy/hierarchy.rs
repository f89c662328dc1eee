//! Rule 8, the tree part: exactly one root, no cycles, parents exist, `shortName` and `namespace`
//! unique (the older object keeps them), and each reseller's path to the root.

use super::finding::{Finding, reasons};
use super::snapshot::{ResellerFacts, Settings, Snapshot};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Where one reseller stands in the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HierarchyNode {
    /// Own problems, then `AncestorInvalid` when an ancestor is invalid.
    pub errors: Vec<Finding>,
    /// Path to the root, nearest first (parent, grandparent, ..., root). Partial when the
    /// chain is broken (missing parent, cycle).
    pub ancestors: Vec<String>,
    /// This reseller is the one root.
    pub is_root: bool,
    /// The namespace this reseller holds (the provider namespace for the root), if any.
    pub namespace: Option<String>,
}

impl HierarchyNode {
    pub fn valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// The reseller tree as the rules see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hierarchy {
    pub nodes: BTreeMap<String, HierarchyNode>,
    pub root: Option<String>,
    /// shortName → the reseller that keeps it.
    pub short_names: BTreeMap<String, String>,
    /// namespace → the reseller that keeps it (the provider namespace → the root).
    pub namespaces: BTreeMap<String, String>,
    /// Problems of the tree as a whole (`NoRoot`).
    pub findings: Vec<Finding>,
}

/// Direct children by parent name, over everything in the snapshot (valid or not). Built once
/// for all the subtrees one question needs: building it is a pass over every reseller.
pub struct Children<'a>(BTreeMap<&'a str, Vec<&'a str>>);

impl<'a> Children<'a> {
    pub fn of(snapshot: &'a Snapshot) -> Self {
        let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for r in snapshot.resellers.values() {
            if let Some(p) = &r.parent {
                children.entry(p.as_str()).or_default().push(r.name.as_str());
            }
        }
        Children(children)
    }

    /// Every reseller below `name` (by `spec.parent` links), cycle-safe; `name` itself excluded.
    pub fn descendants(&self, name: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut queue = VecDeque::from([name]);
        while let Some(n) = queue.pop_front() {
            for c in self.0.get(n).into_iter().flatten() {
                if *c != name && out.insert(c.to_string()) {
                    queue.push_back(c);
                }
            }
        }
        out
    }
}

impl Hierarchy {
    pub fn build(snapshot: &Snapshot, settings: &Settings) -> Self {
        let mut by_age: Vec<&ResellerFacts> = snapshot.resellers.values().map(|r| &**r).collect();
        by_age.sort_by(|a, b| a.age_cmp(b));

        let root = by_age.iter().find(|r| r.parent.is_none()).map(|r| r.name.clone());

        let mut own: BTreeMap<&str, Vec<Finding>> = BTreeMap::new();
        let mut short_names = BTreeMap::new();
        let mut namespaces = BTreeMap::new();
        let mut node_ns: BTreeMap<&str, String> = BTreeMap::new();
        if let Some(root) = &root {
            namespaces.insert(settings.provider_namespace.clone(), root.clone());
            node_ns.insert(root.as_str(), settings.provider_namespace.clone());
        }

        for r in &by_age {
            let errs = own.entry(r.name.as_str()).or_default();
            let is_root = root.as_deref() == Some(r.name.as_str());

            // Structural problems first: they decide whether there is a path at all.
            match &r.parent {
                None if !is_root => errs.push(Finding::new(
                    reasons::MULTIPLE_ROOTS,
                    format!(
                        "Reseller '{}' has no spec.parent, but the older Reseller '{}' is already the root \
                         and there must be exactly one: set spec.parent of '{}' to its parent reseller",
                        r.name,
                        root.as_deref().unwrap_or_default(),
                        r.name
                    ),
                )),
                Some(p) if p != &r.name => match snapshot.resellers.get(p) {
                    None => errs.push(Finding::new(
                        reasons::PARENT_NOT_FOUND,
                        format!(
                            "spec.parent of Reseller '{}' names '{p}', which does not exist{}: create \
                             Reseller '{p}' or set spec.parent to an existing reseller",
                            r.name,
                            super::suggest::did_you_mean(p, snapshot.resellers.keys().map(String::as_str))
                        ),
                    )),
                    Some(parent) if parent.deleting => errs.push(Finding::new(
                        reasons::PARENT_DELETING,
                        format!(
                            "spec.parent of Reseller '{}' names '{p}', which is being deleted: move '{}' \
                             under another reseller (spec.parent) or delete it as well",
                            r.name, r.name
                        ),
                    )),
                    Some(_) => {}
                },
                _ => {} // self-parent: reported as a cycle below
            }

            if let Some(cycle) = cycle_through(snapshot, r) {
                errs.push(Finding::new(
                    reasons::HIERARCHY_CYCLE,
                    format!(
                        "Reseller '{}' is in a spec.parent cycle ({}): set spec.parent of one of them so \
                         that the chain ends at the root reseller",
                        r.name,
                        cycle.join(" → ")
                    ),
                ));
            }

            match short_names.get(&r.short_name) {
                Some(holder) => errs.push(Finding::new(
                    reasons::DUPLICATE_SHORT_NAME,
                    format!(
                        "spec.shortName '{}' of Reseller '{}' is already used by the older Reseller \
                         '{holder}': short names are unique and immutable, so recreate '{}' with another \
                         shortName",
                        r.short_name, r.name, r.name
                    ),
                )),
                None => {
                    short_names.insert(r.short_name.clone(), r.name.clone());
                }
            }

            match (&r.namespace, is_root) {
                (Some(ns), true) if ns != &settings.provider_namespace => errs.push(Finding::new(
                    reasons::ROOT_NAMESPACE_MISMATCH,
                    format!(
                        "spec.namespace of the root Reseller '{}' is '{ns}' but the provider namespace is \
                         '{}': the root's namespace is the provider namespace; set spec.namespace to '{}' \
                         or change the operator's provider namespace setting",
                        r.name, settings.provider_namespace, settings.provider_namespace
                    ),
                )),
                (Some(ns), false) if ns == &settings.provider_namespace => errs.push(Finding::new(
                    reasons::NAMESPACE_RESERVED,
                    format!(
                        "spec.namespace '{ns}' of Reseller '{}' is the provider namespace, which belongs \
                         to the root reseller: give '{}' a namespace of its own",
                        r.name, r.name
                    ),
                )),
                (Some(ns), false) => match namespaces.get(ns) {
                    Some(holder) => errs.push(Finding::new(
                        reasons::DUPLICATE_NAMESPACE,
                        format!(
                            "spec.namespace '{ns}' of Reseller '{}' is already the namespace of the older \
                             Reseller '{holder}': give '{}' a namespace of its own (spec.namespace is \
                             immutable once set, so recreate it)",
                            r.name, r.name
                        ),
                    )),
                    None => {
                        namespaces.insert(ns.clone(), r.name.clone());
                        node_ns.insert(r.name.as_str(), ns.clone());
                    }
                },
                _ => {}
            }
        }

        let mut nodes = BTreeMap::new();
        for r in snapshot.resellers.values() {
            let ancestors = ancestors_of(snapshot, r);
            let mut errors = own.get(r.name.as_str()).cloned().unwrap_or_default();
            if errors.is_empty()
                && let Some((a, e)) = ancestors
                    .iter()
                    .find_map(|a| own.get(a.as_str()).and_then(|e| e.first()).map(|e| (a, e)))
            {
                errors.push(Finding::new(
                    reasons::ANCESTOR_INVALID,
                    format!(
                        "ancestor Reseller '{a}' of '{}' is invalid ({}: {}); fix '{a}' first",
                        r.name, e.reason, e.message
                    ),
                ));
            }
            nodes.insert(
                r.name.clone(),
                HierarchyNode {
                    errors,
                    ancestors,
                    is_root: root.as_deref() == Some(r.name.as_str()),
                    namespace: node_ns.get(r.name.as_str()).cloned(),
                },
            );
        }

        let mut findings = Vec::new();
        if root.is_none() && !snapshot.resellers.is_empty() {
            findings.push(Finding::new(
                reasons::NO_ROOT,
                "no Reseller is the root (every one has spec.parent): create the service provider's \
                 Reseller without spec.parent, with spec.namespace set to the provider namespace",
            ));
        }

        Hierarchy {
            nodes,
            root,
            short_names,
            namespaces,
            findings,
        }
    }

    pub fn node(&self, name: &str) -> Option<&HierarchyNode> {
        self.nodes.get(name)
    }

    pub fn is_valid(&self, name: &str) -> bool {
        self.node(name).is_some_and(HierarchyNode::valid)
    }

    /// Whether `ancestor` is on the path from `name` to the root.
    pub fn is_ancestor(&self, ancestor: &str, name: &str) -> bool {
        self.node(name)
            .is_some_and(|n| n.ancestors.iter().any(|a| a == ancestor))
    }

    /// The reseller that keeps `short_name`.
    pub fn reseller_for_short_name(&self, short_name: &str) -> Option<&str> {
        self.short_names.get(short_name).map(String::as_str)
    }

    /// The reseller that keeps `namespace` (the root for the provider namespace).
    pub fn reseller_for_namespace(&self, namespace: &str) -> Option<&str> {
        self.namespaces.get(namespace).map(String::as_str)
    }

    /// Namespaces a connection used by `name` may live in: its own and its ancestors'
    /// (the root's is the provider namespace).
    pub fn namespaces_on_path(&self, name: &str) -> Vec<String> {
        let Some(node) = self.node(name) else {
            return Vec::new();
        };
        std::iter::once(name)
            .chain(node.ancestors.iter().map(String::as_str))
            .filter_map(|n| self.node(n).and_then(|n| n.namespace.clone()))
            .collect()
    }
}

/// Parent chain of `r`, nearest first, stopping at a missing parent or before repeating.
fn ancestors_of(snapshot: &Snapshot, r: &ResellerFacts) -> Vec<String> {
    let mut seen = BTreeSet::from([r.name.as_str()]);
    let mut out = Vec::new();
    let mut cur = r;
    while let Some(p) = &cur.parent {
        if !seen.insert(p.as_str()) {
            break;
        }
        let Some(next) = snapshot.resellers.get(p) else {
            break;
        };
        out.push(p.clone());
        cur = next;
    }
    out
}

/// The cycle `r` is part of, as names starting and ending with `r`; None when `r`'s chain does
/// not come back to `r`.
fn cycle_through(snapshot: &Snapshot, r: &ResellerFacts) -> Option<Vec<String>> {
    let mut path = vec![r.name.clone()];
    let mut seen = BTreeSet::from([r.name.as_str()]);
    let mut cur = r;
    while let Some(p) = &cur.parent {
        if p == &r.name {
            path.push(p.clone());
            return Some(path);
        }
        if !seen.insert(p.as_str()) {
            return None; // a cycle further up that r is not part of
        }
        cur = snapshot.resellers.get(p)?;
        path.push(p.clone());
    }
    None
}
