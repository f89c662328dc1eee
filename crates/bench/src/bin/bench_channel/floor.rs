//! The floor: what the API server itself costs for the writes the operator made in a phase.

use anyhow::{Context as _, Result};
use futures::{StreamExt, stream};
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use pco_test_kit::Counts;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The floor: `counts[resource]` status patches spread round-robin over `targets` of that
/// resource, `concurrency` at once per resource, all resources in parallel. Each patch re-applies
/// the object's current status with a marker in the Ready message (a real write of the same size).
pub async fn floor(
    client: &kube::Client,
    targets: &BTreeMap<String, Vec<Arc<DynamicObject>>>,
    counts: &Counts,
    concurrency: usize,
) -> Result<(Duration, u64)> {
    let started = Instant::now();
    let mut per_kind = Vec::new();
    for (resource, objects) in targets {
        let n = counts.of(resource) as usize;
        if n == 0 || objects.is_empty() {
            continue;
        }
        let client = client.clone();
        let objects = objects.clone();
        per_kind.push(async move {
            let results: Vec<Result<()>> = stream::iter(0..n)
                .map(|i| {
                    let o = objects[i % objects.len()].clone();
                    let round = i / objects.len();
                    let client = client.clone();
                    async move {
                        let ar = ApiResource::from_gvk(&o.types.as_ref().context("object without type")?.try_into()?);
                        let api: Api<DynamicObject> = match o.namespace() {
                            Some(ns) => Api::namespaced_with(client, &ns, &ar),
                            None => Api::all_with(client, &ar),
                        };
                        let mut status = o.data["status"].clone();
                        if let Some(conds) = status["conditions"].as_array_mut() {
                            for c in conds.iter_mut().filter(|c| c["type"] == "Ready") {
                                let m = c["message"].as_str().unwrap_or_default().to_string();
                                c["message"] = json!(format!("{m} [floor {round}]"));
                            }
                        }
                        let patch = json!({"apiVersion": ar.api_version, "kind": ar.kind, "status": status});
                        api.patch_status(
                            &o.name_any(),
                            &PatchParams::apply("bench-floor").force(),
                            &Patch::Apply(&patch),
                        )
                        .await?;
                        Ok(())
                    }
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
            results.into_iter().collect::<Result<Vec<()>>>().map(|v| v.len() as u64)
        });
    }
    let written: u64 = futures::future::join_all(per_kind)
        .await
        .into_iter()
        .collect::<Result<Vec<u64>>>()?
        .into_iter()
        .sum();
    Ok((started.elapsed(), written))
}

pub fn group_by_resource(objects: Vec<Arc<DynamicObject>>) -> BTreeMap<String, Vec<Arc<DynamicObject>>> {
    let mut m: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for o in objects {
        let resource = match o.types.as_ref().map(|t| t.kind.as_str()) {
            Some("Reseller") => "resellers",
            Some("CustomerPlan") => "customerplans",
            Some("PartnerCenterConnection") => "partnercenterconnections",
            _ => continue,
        };
        m.entry(resource.to_string()).or_default().push(o);
    }
    m
}
