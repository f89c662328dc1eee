//! The connection reconciler's memory between reconciles: per connection *object* (its `uid`), the
//! Partner Center client (its token cache must outlive one reconcile) and the last sync's outcome,
//! each valid only for the [`SyncKey`] it was made for; and the [`Scheduler`] that runs syncs off
//! the reconcile workers, fairly per namespace.
//!
//! Keyed by uid, not namespace/name: a connection deleted and recreated under the same name (even
//! with the same Secret) is another object and starts with nothing — no inherited verification, no
//! client built for someone else's settings.

use super::inventory::{Changes, Details, Inventory};
use super::sync::Outcome;
use crate::api::{AuthMode, Cloud, ConnectionRef, CspType, Environment, PartnerCenterConnection};
use crate::partner_center::PartnerCenterApi;
use kube::ResourceExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Everything a sync's result depends on besides time and the refresh token (which the operator
/// itself rotates, so it is tracked apart, see [`ExpectedRefreshToken`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncKey {
    pub uid: String,
    pub tenant: String,
    pub region: String,
    pub csp_type: CspType,
    pub environment: Environment,
    pub cloud: Cloud,
    pub auth_mode: AuthMode,
    /// `spec.endpoints` (partnerCenter, login) as written.
    pub endpoints: Option<(Option<String>, Option<String>)>,
    pub secret_name: String,
    /// Fingerprint of clientId and clientSecret; empty when the Secret gave none.
    pub app_credentials: String,
}

impl SyncKey {
    /// The key of `conn` with the app credentials' fingerprint `app_credentials` ("" when none).
    pub fn of(conn: &PartnerCenterConnection, app_credentials: &str) -> SyncKey {
        let spec = &conn.spec;
        SyncKey {
            uid: conn.uid().unwrap_or_default(),
            tenant: spec.partner_tenant_id.clone(),
            region: spec.region.clone(),
            csp_type: spec.csp_type,
            environment: spec.environment,
            cloud: spec.cloud,
            auth_mode: spec.auth.mode,
            endpoints: spec
                .endpoints
                .as_ref()
                .map(|e| (e.partner_center.clone(), e.login.clone())),
            secret_name: spec.auth.secret_ref.name.clone(),
            app_credentials: app_credentials.to_string(),
        }
    }
}

/// One sync's result as remembered.
#[derive(Clone, Debug)]
pub struct SyncRecord {
    pub at: Instant,
    pub key: SyncKey,
    /// The sync-requested annotation this sync answered.
    pub requested: Option<String>,
    pub outcome: Outcome,
    /// When this outcome was first observed (published as lastSyncTime: it moves when the result does).
    pub since: jiff::Timestamp,
    /// Failed syncs in a row (0 after a success).
    pub failures: u32,
}

/// Fingerprint of the refresh token the Secret should hold: moved by the Secret sink when the
/// operator persists a rotation, so only someone else's write (a re-consent) counts as new.
#[derive(Default, Debug)]
pub struct ExpectedRefreshToken(Mutex<Option<String>>);

impl ExpectedRefreshToken {
    pub fn get(&self) -> Option<String> {
        self.0.lock().expect("expected refresh token").clone()
    }
    pub fn set(&self, fingerprint: Option<String>) {
        *self.0.lock().expect("expected refresh token") = fingerprint;
    }
}

#[derive(Default)]
struct Entry {
    /// `namespace/name`, to forget the entry when the object is gone.
    name: String,
    client: Option<(SyncKey, Arc<dyn PartnerCenterApi>)>,
    expected_refresh_token: Arc<ExpectedRefreshToken>,
    last: Option<SyncRecord>,
    in_flight: bool,
    /// When the last sync that answered a sync-requested annotation started.
    last_requested_at: Option<Instant>,
    /// The customers the last successful sync listed.
    inventory: Option<Arc<Inventory>>,
    /// Per-tenant details and their call budget (see `inventory::Details`).
    details: Arc<Mutex<Details>>,
}

impl Entry {
    fn connection(&self) -> ConnectionRef {
        let (namespace, name) = self.name.split_once('/').unwrap_or(("", &self.name));
        ConnectionRef {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

/// What the decide stage needs to know about one connection's past.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub last: Option<SyncRecord>,
    pub in_flight: bool,
    pub last_requested_at: Option<Instant>,
    /// The Secret's refresh token is not the one the operator last stored or started with.
    pub refresh_token_changed: bool,
}

/// Per-object memory of the reconciler.
#[derive(Default)]
pub struct Memory {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Memory {
    fn with<T>(&self, uid: &str, name: &str, f: impl FnOnce(&mut Entry) -> T) -> T {
        let mut entries = self.entries.lock().expect("connection memory");
        if !entries.contains_key(uid) {
            // The same name under another uid: that object was deleted (perhaps only seen by the watch).
            entries.retain(|_, e| e.name != name);
        }
        let entry = entries.entry(uid.to_string()).or_default();
        entry.name = name.to_string();
        f(entry)
    }

    /// What is remembered of `uid` (`namespace/name` `name`); `refresh_token` is the fingerprint of
    /// the Secret's refresh token, if it has one.
    pub fn seen(&self, uid: &str, name: &str, refresh_token: Option<&String>) -> Seen {
        self.with(uid, name, |e| Seen {
            last: e.last.clone(),
            in_flight: e.in_flight,
            last_requested_at: e.last_requested_at,
            refresh_token_changed: e.last.is_some() && e.expected_refresh_token.get().as_ref() != refresh_token,
        })
    }

    /// The cached client for `key`, or a new one from `build` (given the shared expected-token
    /// fingerprint, which `build` hands to the Secret sink). A new refresh token in the Secret
    /// (`refresh_token` differs from the expected one) also builds a new client.
    pub fn client<E>(
        &self,
        uid: &str,
        name: &str,
        key: &SyncKey,
        refresh_token: Option<&String>,
        build: impl FnOnce(Arc<ExpectedRefreshToken>) -> Result<Arc<dyn PartnerCenterApi>, E>,
    ) -> Result<Arc<dyn PartnerCenterApi>, E> {
        self.with(uid, name, |e| {
            let same_token = e.expected_refresh_token.get().as_ref() == refresh_token;
            if let Some((built_for, client)) = &e.client
                && built_for == key
                && same_token
            {
                return Ok(client.clone());
            }
            e.expected_refresh_token.set(refresh_token.cloned());
            let client = build(e.expected_refresh_token.clone())?;
            e.client = Some((key.clone(), client.clone()));
            Ok(client)
        })
    }

    /// Marks a sync of `uid` as started (`answers_request`: because of a new sync-requested value).
    /// False when one is already in flight.
    pub fn start(&self, uid: &str, name: &str, answers_request: bool, now: Instant) -> bool {
        self.with(uid, name, |e| {
            if e.in_flight {
                return false;
            }
            e.in_flight = true;
            if answers_request {
                e.last_requested_at = Some(now);
            }
            true
        })
    }

    /// Remembers `outcome` for `key` (ending any sync in flight) and returns the record.
    pub fn record(
        &self,
        uid: &str,
        name: &str,
        key: SyncKey,
        outcome: Outcome,
        requested: Option<String>,
        now: (Instant, jiff::Timestamp),
    ) -> SyncRecord {
        self.with(uid, name, |e| {
            e.in_flight = false;
            if matches!(outcome, Outcome::NotAuthenticated(_)) {
                // Unusable credentials: forget the client (and its token cache); the next attempt rebuilds it.
                e.client = None;
            }
            let previous = e.last.take().filter(|p| p.key == key);
            let record = SyncRecord {
                at: now.0,
                since: match &previous {
                    Some(p) if p.outcome == outcome => p.since,
                    _ => now.1,
                },
                failures: if outcome.is_success() {
                    0
                } else {
                    previous.map(|p| p.failures.saturating_add(1)).unwrap_or(1)
                },
                key,
                requested,
                outcome,
            };
            e.last = Some(record.clone());
            record
        })
    }

    /// The customers the last successful sync of connection `conn_uid` listed; None before one.
    pub fn inventory(&self, conn_uid: &str) -> Option<Arc<Inventory>> {
        let entries = self.entries.lock().expect("connection memory");
        entries.get(conn_uid)?.inventory.clone()
    }

    /// Every connection's inventory: (uid, connection, inventory).
    pub fn inventories(&self) -> Vec<(String, ConnectionRef, Arc<Inventory>)> {
        let entries = self.entries.lock().expect("connection memory");
        entries
            .iter()
            .filter_map(|(uid, e)| Some((uid.clone(), e.connection(), e.inventory.clone()?)))
            .collect()
    }

    /// Replaces the inventory of `uid` and returns what changed since the previous one (None when
    /// there was none: everything is new, the caller requeues all pinned Customers anyway).
    pub fn set_inventory(&self, uid: &str, name: &str, inventory: Arc<Inventory>) -> Option<Changes> {
        self.with(uid, name, |e| {
            let changes = e.inventory.as_ref().map(|before| inventory.changes_since(before));
            e.details.lock().expect("details").retain_listed(&inventory);
            e.inventory = Some(inventory);
            changes
        })
    }

    /// The detail cache and budget of `uid`.
    pub fn details(&self, uid: &str, name: &str) -> Arc<Mutex<Details>> {
        self.with(uid, name, |e| e.details.clone())
    }

    /// The detail cache of `uid` if the connection is known (for readers that must not create entries).
    pub fn details_of(&self, uid: &str) -> Option<Arc<Mutex<Details>>> {
        let entries = self.entries.lock().expect("connection memory");
        entries.get(uid).map(|e| e.details.clone())
    }

    /// Forgets `uid` (the object is deleted, or blocked before any sync).
    pub fn forget(&self, uid: &str) {
        self.entries.lock().expect("connection memory").remove(uid);
    }

    /// Forgets every entry whose object `exists` no longer reports (by `namespace/name` and uid):
    /// deletions the reconciler never saw.
    pub fn retain_existing(&self, exists: impl Fn(&str, &str) -> bool) -> usize {
        let mut entries = self.entries.lock().expect("connection memory");
        let before = entries.len();
        entries.retain(|uid, e| exists(&e.name, uid));
        before - entries.len()
    }

    pub fn len(&self) -> usize {
        self.entries.lock().expect("connection memory").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Runs syncs off the reconcile workers: at most one sync in flight per namespace (a tenant's slow
/// or silent Partner Center host delays only that tenant's connections) and at most `global` in all.
/// Tokio's semaphores are fair (first come, first served), so no namespace starves another.
pub struct Scheduler {
    global: Arc<Semaphore>,
    namespaces: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Both permits of one sync; released on drop.
pub struct Slot {
    _namespace: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

impl Scheduler {
    pub fn new(global: usize) -> Self {
        Scheduler {
            global: Arc::new(Semaphore::new(global.max(1))),
            namespaces: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for the namespace's turn, then for a global one: a sync waiting on its namespace holds
    /// no global permit.
    pub async fn slot(&self, namespace: &str) -> Slot {
        let ns = self
            .namespaces
            .lock()
            .expect("scheduler")
            .entry(namespace.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(1)))
            .clone();
        let namespace = ns.acquire_owned().await.expect("namespace semaphores are never closed");
        let global = self
            .global
            .clone()
            .acquire_owned()
            .await
            .expect("the global semaphore is never closed");
        Slot {
            _namespace: namespace,
            _global: global,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakePartnerCenter;
    use super::super::sync::Failure;
    use super::*;
    use std::time::Duration;

    fn conn(uid: &str, tenant: &str) -> PartnerCenterConnection {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "channel.csp.dev/v1alpha1",
            "kind": "PartnerCenterConnection",
            "metadata": {"name": "nz", "namespace": "csp-system", "uid": uid, "generation": 1},
            "spec": {
                "partnerTenantId": tenant, "region": "NZ", "cspType": "IndirectProvider",
                "environment": "Production", "auth": {"secretRef": {"name": "creds"}},
            },
        }))
        .expect("connection")
    }

    const T1: &str = "22222222-2222-4222-8222-222222222222";
    const T2: &str = "33333333-3333-4333-8333-333333333333";

    fn failed() -> Outcome {
        Outcome::CallFailed {
            failure: Failure::new("ServerError", "down"),
            retry_after: None,
        }
    }

    fn now() -> (Instant, jiff::Timestamp) {
        (Instant::now(), jiff::Timestamp::now())
    }

    #[test]
    fn the_key_moves_with_every_field_a_sync_depends_on() {
        let base = SyncKey::of(&conn("u1", T1), "app");
        let mut endpoints = conn("u1", T1);
        endpoints.spec.endpoints = Some(crate::api::ConnectionEndpoints {
            partner_center: Some("http://127.0.0.1:1".into()),
            login: None,
        });
        let mut secret = conn("u1", T1);
        secret.spec.auth.secret_ref.name = "other".into();
        let mut cloud = conn("u1", T1);
        cloud.spec.cloud = Cloud::China;
        let mut mode = conn("u1", T1);
        mode.spec.auth.mode = AuthMode::AppOnly;
        // (what changed, key) — each must differ from the base.
        let cases = [
            ("uid (recreated object)", SyncKey::of(&conn("u2", T1), "app")),
            ("tenant", SyncKey::of(&conn("u1", T2), "app")),
            ("endpoints", SyncKey::of(&endpoints, "app")),
            ("secret name", SyncKey::of(&secret, "app")),
            ("cloud", SyncKey::of(&cloud, "app")),
            ("auth mode", SyncKey::of(&mode, "app")),
            ("app credentials", SyncKey::of(&conn("u1", T1), "other app")),
        ];
        for (what, key) in cases {
            assert_ne!(key, base, "{what}");
        }
        let mut interval = conn("u1", T1);
        interval.spec.sync_interval = Some("1h".into());
        interval.metadata.generation = Some(2);
        assert_eq!(
            SyncKey::of(&interval, "app"),
            base,
            "the interval is not an input of the result"
        );
    }

    #[test]
    fn a_recreated_object_inherits_nothing_and_the_old_entry_is_forgotten() {
        let m = Memory::default();
        let old = SyncKey::of(&conn("u1", T1), "app");
        m.record("u1", "csp-system/nz", old, failed(), None, now());
        assert!(m.seen("u1", "csp-system/nz", None).last.is_some());
        let fresh = m.seen("u2", "csp-system/nz", None);
        assert!(fresh.last.is_none() && !fresh.in_flight, "{fresh:?}");
        assert_eq!(m.len(), 1, "the same name under a new uid replaces the old entry");

        // Deleted behind the reconciler's back: forgotten by the sweep.
        assert_eq!(m.retain_existing(|name, uid| name == "csp-system/nz" && uid == "u2"), 0);
        assert_eq!(m.retain_existing(|_, _| false), 1);
        assert!(m.is_empty());
    }

    #[test]
    fn clients_are_reused_only_for_the_same_key_and_refresh_token() {
        let m = Memory::default();
        let key = SyncKey::of(&conn("u1", T1), "app");
        let built = std::cell::Cell::new(0);
        let build = |_: Arc<ExpectedRefreshToken>| {
            built.set(built.get() + 1);
            Ok::<_, ()>(Arc::new(FakePartnerCenter::nz()) as Arc<dyn PartnerCenterApi>)
        };
        let rt1 = Some("fp-1".to_string());
        let rt2 = Some("fp-2".to_string());
        let n = "csp-system/nz";
        m.client("u1", n, &key, rt1.as_ref(), build).unwrap();
        m.client("u1", n, &key, rt1.as_ref(), build).unwrap();
        assert_eq!(built.get(), 1, "same key and token: cached");
        m.client("u1", n, &SyncKey::of(&conn("u1", T2), "app"), rt1.as_ref(), build)
            .unwrap();
        assert_eq!(built.get(), 2, "another tenant: rebuilt");
        m.client("u1", n, &SyncKey::of(&conn("u1", T2), "app"), rt2.as_ref(), build)
            .unwrap();
        assert_eq!(built.get(), 3, "a re-consent: rebuilt");
        // The sink reports the operator's own rotation: not a change.
        let mut expected = None;
        m.client("u1", n, &key, rt1.as_ref(), |e| {
            expected = Some(e.clone());
            build(e)
        })
        .unwrap();
        expected.unwrap().set(Some("fp-rotated".into()));
        let rotated = Some("fp-rotated".to_string());
        m.client("u1", n, &key, rotated.as_ref(), build).unwrap();
        assert_eq!(built.get(), 4, "own rotation keeps the client");
        assert!(!m.seen("u1", n, rotated.as_ref()).refresh_token_changed);
    }

    #[test]
    fn records_track_since_and_failures_per_key() {
        let m = Memory::default();
        let n = "csp-system/nz";
        let key = SyncKey::of(&conn("u1", T1), "app");
        assert!(m.start("u1", n, true, Instant::now()));
        assert!(
            !m.start("u1", n, false, Instant::now()),
            "one sync in flight per connection"
        );
        let first = m.record("u1", n, key.clone(), failed(), None, now());
        assert!(!m.seen("u1", n, None).in_flight, "recording ends the sync in flight");
        let second = m.record("u1", n, key.clone(), failed(), None, now());
        assert_eq!((first.failures, second.failures), (1, 2));
        assert_eq!(second.since, first.since, "same outcome: since kept");
        let other = m.record("u1", n, SyncKey::of(&conn("u1", T2), "app"), failed(), None, now());
        assert_eq!(other.failures, 1, "another key starts over");
    }

    #[tokio::test]
    async fn one_sync_per_namespace_and_a_global_cap() {
        let s = Arc::new(Scheduler::new(2));
        let a1 = s.slot("tenant-a").await;
        let soon = Duration::from_millis(100);
        // The same namespace waits...
        assert!(tokio::time::timeout(soon, s.slot("tenant-a")).await.is_err());
        // ...another does not.
        let b1 = tokio::time::timeout(soon, s.slot("provider"))
            .await
            .expect("provider slot");
        // The global cap (2) holds a third namespace back until one finishes.
        assert!(tokio::time::timeout(soon, s.slot("tenant-c")).await.is_err());
        drop(a1);
        let c1 = tokio::time::timeout(soon, s.slot("tenant-c"))
            .await
            .expect("freed slot");
        drop((b1, c1));
        // Waiting tenant-a syncs do not hold global permits: the provider still gets through.
        let a = s.slot("tenant-a").await;
        let waiting: Vec<_> = (0..10)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move { s.slot("tenant-a").await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(tokio::time::timeout(soon, s.slot("provider")).await.is_ok());
        drop(a);
        for w in waiting {
            w.abort();
        }
    }
}
