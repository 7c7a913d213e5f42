//! Production traffic of a LINEAR or CANARY step on plain Kubernetes. With
//! `spec.kubernetes.httpRoute`, the weights of the route's backends (the production Service,
//! blue; the test Service, green) and Service Connect's test header rules as header matches to
//! green (Gateway API `HTTPRoute`). Without a route, by the share of ready tasks: the
//! production Service selects the pods labelled [`PRODUCTION_TRAFFIC`], and the operator labels
//! green's and blue's ready pods in the step's proportion (blue and green both keep their full
//! count, so a rollback moves only labels).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use super::super::{Context, Error};
use crate::translate::strategy::{PRODUCTION_TRAFFIC, SLOT, Slot};

/// The pods to carry [`PRODUCTION_TRAFFIC`] for `green_weight` percent of `desired` tasks to
/// green: the first ready pods by name of each slot. Pure.
pub fn chosen(
    pods: &[Arc<Pod>],
    blue: Slot,
    green: Slot,
    green_weight: f64,
    desired: i32,
) -> Vec<String> {
    let want_green =
        ((f64::from(desired) * green_weight / 100.0).round() as i32).clamp(0, desired.max(0));
    // At least one task each side for a weight strictly between 0 and 100.
    let want_green = if green_weight > 0.0 && desired > 1 {
        want_green.clamp(1, desired - 1)
    } else {
        want_green
    };
    let want_blue = desired - want_green;
    let mut out = Vec::new();
    for (slot, want) in [(green, want_green), (blue, want_blue)] {
        let mut ready: Vec<&Arc<Pod>> = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| p.labels().get(SLOT).map(String::as_str) == Some(slot.as_str()))
            .filter(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .collect();
        ready.sort_by_key(|p| p.name_any());
        out.extend(
            ready
                .into_iter()
                .take(want.max(0) as usize)
                .map(|p| p.name_any()),
        );
    }
    out
}

/// Label exactly `chosen` of `pods` with [`PRODUCTION_TRAFFIC`]; `chosen` empty removes every
/// label. Writes only the pods whose label must change. Returns how many were written.
pub async fn label_pods(
    ctx: &Context,
    ns: &str,
    pods: &[Arc<Pod>],
    chosen: &[String],
) -> Result<usize, Error> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let mut written = 0;
    for p in pods {
        let name = p.name_any();
        let has = p.labels().get(PRODUCTION_TRAFFIC).map(String::as_str) == Some("true");
        let wants = chosen.contains(&name);
        if has == wants || p.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let value = if wants { json!("true") } else { Value::Null };
        let patch = json!({"metadata": {"labels": {PRODUCTION_TRAFFIC: value}}});
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => written += 1,
            // A pod deleted meanwhile: nothing to label.
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
        ctx.metrics.write("patch", "pods");
    }
    Ok(written)
}

fn http_routes() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"),
        "httproutes",
    )
}

/// A Service Connect test traffic rule: requests with header `name: value` go to green.
#[derive(Clone, Debug, PartialEq)]
pub struct HeaderRule {
    pub name: String,
    pub value: String,
}

/// The route's rules with the production / test backends weighted `100 − green` / `green`,
/// and the header rules to the test Service present while `test_traffic`. Pure: `None` when
/// nothing changes.
pub fn routed(
    rules: &Value,
    production: &str,
    test: &str,
    green_weight: f64,
    headers: &[HeaderRule],
    test_traffic: bool,
) -> Option<Value> {
    let mut rules: Vec<Value> = rules.as_array().cloned().unwrap_or_default();
    let names = |r: &Value| -> Vec<String> {
        r["backendRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b["name"].as_str().map(str::to_string))
            .collect()
    };
    let is_header_rule = |r: &Value| {
        let n = names(r);
        n == [test.to_string()]
            && r["matches"]
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m.get("headers").is_some()))
    };
    let before = rules.clone();
    rules.retain(|r| !is_header_rule(r));
    // Gateway API weights are integers: tenths of a percent keep ECS's 0.1 % steps.
    let green = (green_weight * 10.0).round() as i64;
    for r in rules.iter_mut() {
        let n = names(r);
        if !n.iter().any(|x| x == production || x == test) {
            continue;
        }
        let template = r["backendRefs"]
            .as_array()
            .and_then(|b| {
                b.iter()
                    .find(|b| b["name"] == production || b["name"] == test)
            })
            .cloned()
            .unwrap_or_else(|| json!({}));
        let with = |name: &str, weight: i64| {
            let mut b = template.clone();
            b["name"] = json!(name);
            b["weight"] = json!(weight);
            b
        };
        let mut refs: Vec<Value> = r["backendRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["name"] != production && b["name"] != test)
            .cloned()
            .collect();
        refs.push(with(production, 1000 - green));
        refs.push(with(test, green));
        r["backendRefs"] = json!(refs);
    }
    if test_traffic {
        let template = rules.iter().find_map(|r| {
            r["backendRefs"]
                .as_array()
                .and_then(|b| b.iter().find(|b| b["name"] == test))
                .cloned()
        });
        for h in headers {
            let mut backend = template.clone().unwrap_or_else(|| json!({"name": test}));
            backend.as_object_mut().map(|o| o.remove("weight"));
            rules.insert(
                0,
                json!({
                    "matches": [{"headers": [{"type": "Exact", "name": h.name, "value": h.value}]}],
                    "backendRefs": [backend],
                }),
            );
        }
    }
    (rules != before).then(|| json!(rules))
}

/// Set the weights and header rules on HTTPRoute `route`. A missing route or Gateway API is an
/// error message for the status (the deployment waits), not a failed reconcile.
#[allow(clippy::too_many_arguments)]
pub async fn route(
    ctx: &Context,
    ns: &str,
    route: &str,
    production: &str,
    test: &str,
    green_weight: f64,
    headers: &[HeaderRule],
    test_traffic: bool,
) -> Result<Result<(), String>, Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), ns, &http_routes());
    let live = match api.get_opt(route).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return Ok(Err(format!(
                "spec.kubernetes.httpRoute: HTTPRoute {route} not found in namespace {ns}"
            )));
        }
        Err(kube::Error::Api(e)) if e.code == 404 => {
            return Ok(Err("spec.kubernetes.httpRoute: the Gateway API (gateway.networking.k8s.io/v1 HTTPRoute) is not installed".into()));
        }
        Err(e) => return Err(e.into()),
    };
    let rules = &live.data["spec"]["rules"];
    let Some(new_rules) = routed(rules, production, test, green_weight, headers, test_traffic)
    else {
        return Ok(Ok(()));
    };
    // The rules are one atomic list: replace it, guarded by the version read.
    let patch = json!({
        "metadata": {"resourceVersion": live.resource_version()},
        "spec": {"rules": new_rules},
    });
    api.patch(route, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    ctx.metrics
        .write("patch", "httproutes.gateway.networking.k8s.io");
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_weights_follow_the_step_in_tenths_of_a_percent() {
        let rules = json!([{"backendRefs": [{"name": "web", "port": 80}]}, {"backendRefs": [{"name": "other", "port": 80}]}]);
        let out = routed(&rules, "web", "web-test", 25.0, &[], false).unwrap();
        assert_eq!(
            out[0]["backendRefs"],
            json!([{"name": "web", "port": 80, "weight": 750}, {"name": "web-test", "port": 80, "weight": 250}])
        );
        assert_eq!(out[1], rules[1]);
        // Applying the same step again changes nothing (no write).
        assert_eq!(routed(&out, "web", "web-test", 25.0, &[], false), None);
    }

    #[test]
    fn test_header_rules_go_to_green_while_test_traffic_flows() {
        let rules = json!([{"backendRefs": [{"name": "web", "port": 80}]}]);
        let h = [HeaderRule {
            name: "x-canary".into(),
            value: "1".into(),
        }];
        let on = routed(&rules, "web", "web-test", 0.0, &h, true).unwrap();
        assert_eq!(
            on[0]["matches"][0]["headers"][0],
            json!({"type": "Exact", "name": "x-canary", "value": "1"})
        );
        assert_eq!(
            on[0]["backendRefs"],
            json!([{"name": "web-test", "port": 80}])
        );
        let off = routed(&on, "web", "web-test", 0.0, &h, false).unwrap();
        assert_eq!(off.as_array().unwrap().len(), 1);
    }
}
