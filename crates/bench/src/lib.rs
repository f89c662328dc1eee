//! What the benchmark binaries share: bulk server-side apply, watch caches of one kind in the
//! bench process, and the end condition of a measured phase.

use anyhow::{Context as _, Result};
use futures::{StreamExt, stream};
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;
use std::ops::ControlFlow;

/// A phase's end condition for `wait_until`: done, or how far it got.
pub fn done_when(done: bool, progress: String) -> ControlFlow<(), String> {
    if done {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(progress)
    }
}

/// Server-side applies `objects` (namespace, object, kind) as `field_manager`, `writers` at once.
pub async fn apply_all(
    client: &kube::Client,
    field_manager: &str,
    objects: Vec<(Option<String>, Value, ApiResource)>,
    writers: usize,
) -> Result<()> {
    let pp = PatchParams::apply(field_manager).force();
    let results: Vec<Result<()>> = stream::iter(objects)
        .map(|(ns, obj, ar)| {
            let client = client.clone();
            let pp = pp.clone();
            async move {
                let api: Api<DynamicObject> = match &ns {
                    Some(ns) => Api::namespaced_with(client, ns, &ar),
                    None => Api::all_with(client, &ar),
                };
                let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
                api.patch(&name, &pp, &Patch::Apply(&obj))
                    .await
                    .with_context(|| format!("apply {} {name}", ar.kind))?;
                Ok(())
            }
        })
        .buffer_unordered(writers.max(1))
        .collect()
        .await;
    results.into_iter().collect()
}

/// A watch cache of one kind in the bench process (what Ready and convergence are judged on; no
/// API calls while polling it).
pub fn watch_kind(client: &kube::Client, ar: ApiResource) -> Store<DynamicObject> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    let writer = reflector::store::Writer::new(ar);
    let reader = writer.as_reader();
    let events = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(|o: &mut DynamicObject| o.managed_fields_mut().clear())
        .reflect(writer)
        .applied_objects();
    tokio::spawn(async move {
        futures::pin_mut!(events);
        while events.next().await.is_some() {}
    });
    reader
}
