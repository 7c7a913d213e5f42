//! Drift: does the live object (from the cache) still hold every field the operator applies?
//! Pure. The answer decides whether a child is applied again: a child that holds every owned
//! field makes no request, and a child edited by anyone else (`kubectl set image`, an env var
//! removed, a label changed, a probe edited) is applied again, which under server-side apply with
//! `force` takes the fields back. Fields the operator does not send (`replicas` under an HPA,
//! annotations other tools add, API server defaults) are never compared, so they are left alone.
//!
//! The comparison is "desired ⊆ live", with the API server's own normalizations forgiven:
//! empty and zero values it drops (`omitempty`), quantities it rewrites in canonical form
//! (`1000m` → `1`, `1024Mi` → `1Gi`), and numbers it prints differently (`1` / `1.0`).

use serde_json::Value;

/// Keys of list items that identify them (Kubernetes list-map keys of the kinds we apply).
const ITEM_KEYS: &[&str] = &["name", "mountPath", "containerPort", "port", "key", "type"];
/// Keys whose string values are resource quantities.
const QUANTITY_PARENTS: &[&str] = &["requests", "limits", "capacity", "hard"];
const QUANTITY_KEYS: &[&str] = &["sizeLimit", "storage", "averageValue"];

/// Whether `live` holds every field of `desired`.
pub fn holds(desired: &Value, live: &Value) -> bool {
    within(desired, Some(live), "", "")
}

fn within(desired: &Value, live: Option<&Value>, key: &str, parent: &str) -> bool {
    let Some(live) = live.filter(|l| !l.is_null()) else {
        return is_empty(desired);
    };
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, v)| within(v, l.get(k), k, key)),
        (Value::Array(d), Value::Array(l)) => arrays(d, l, key),
        (Value::String(d), Value::String(l)) => {
            d == l
                || ((QUANTITY_PARENTS.contains(&parent)
                    || QUANTITY_KEYS.contains(&key)
                    || (key == "value" && parent == "target"))
                    && quantity(d).is_some()
                    && quantity(d) == quantity(l))
        }
        (Value::Number(d), Value::Number(l)) => d == l || d.as_f64() == l.as_f64(),
        (d, l) => d == l,
    }
}

fn arrays(desired: &[Value], live: &[Value], key: &str) -> bool {
    let item_key = desired.first().and_then(|first| {
        ITEM_KEYS
            .iter()
            .find(|k| desired.iter().all(|d| d.get(**k).is_some()) && first.get(**k).is_some())
    });
    match item_key {
        // Keyed items: each desired item is found by its key; items others added are theirs.
        Some(k) => desired.iter().all(|d| {
            live.iter()
                .find(|l| l.get(*k) == d.get(*k))
                .is_some_and(|l| within(d, Some(l), key, key))
        }),
        // Atomic lists (command, args, selectors' values): the same items in the same order.
        None => {
            desired.len() == live.len()
                && desired
                    .iter()
                    .zip(live)
                    .all(|(d, l)| within(d, Some(l), key, key))
        }
    }
}

/// What the API server drops when it serializes (`omitempty`).
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_empty),
    }
}

/// A quantity in nano-units (exact for every suffix Kubernetes accepts).
fn quantity(s: &str) -> Option<i128> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let multiplier: i128 = match suffix {
        "n" => 1,
        "u" => 1_000,
        "m" => 1_000_000,
        "" => 1_000_000_000,
        "k" => 1_000_000_000_000,
        "M" => 1_000_000_000_000_000,
        "G" => 1_000_000_000_000_000_000,
        "T" => 1_000_000_000_000_000_000_000,
        "P" => 1_000_000_000_000_000_000_000_000,
        "E" => 1_000_000_000_000_000_000_000_000_000,
        "Ki" => 1_000_000_000 << 10,
        "Mi" => 1_000_000_000 << 20,
        "Gi" => 1_000_000_000 << 30,
        "Ti" => 1_000_000_000 << 40,
        "Pi" => 1_000_000_000 << 50,
        "Ei" => 1_000_000_000 << 60,
        _ => return None,
    };
    let (negative, number) = match number.strip_prefix('-') {
        Some(n) => (true, n),
        None => (false, number.strip_prefix('+').unwrap_or(number)),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let whole: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut value = whole.checked_mul(multiplier)?;
    let mut scale = multiplier;
    for digit in fraction.chars() {
        scale /= 10;
        value = value.checked_add(i128::from(digit.to_digit(10)?) * scale)?;
    }
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(image: &str, cpu: &str) -> Value {
        json!({
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"template": {"spec": {"containers": [{
                "name": "web", "image": image,
                "env": [{"name": "A", "value": "1"}],
                "resources": {"requests": {"cpu": cpu, "memory": "1024Mi"}},
            }]}}}
        })
    }

    #[test]
    fn defaults_and_other_managers_fields_are_not_drift() {
        let desired = deployment("nginx:1", "1000m");
        let mut live = deployment("nginx:1", "1");
        live["spec"]["replicas"] = json!(7); // the HPA's
        live["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "3"});
        live["metadata"]["labels"]["team"] = json!("a"); // someone else's label
        let c = &mut live["spec"]["template"]["spec"]["containers"][0];
        c["imagePullPolicy"] = json!("IfNotPresent");
        c["resources"]["requests"]["memory"] = json!("1Gi");
        c["env"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "B", "value": "2"}));
        assert!(holds(&desired, &live));
    }

    #[test]
    fn owned_fields_changed_by_hand_are_drift() {
        let desired = deployment("nginx:1", "250m");
        assert!(
            !holds(&desired, &deployment("nginx:2", "250m")),
            "kubectl set image"
        );
        assert!(
            !holds(&desired, &deployment("nginx:1", "500m")),
            "resources"
        );
        let mut live = deployment("nginx:1", "250m");
        live["metadata"]["labels"]["app"] = json!("other");
        assert!(!holds(&desired, &live), "an owned label");
        let mut live = deployment("nginx:1", "250m");
        live["spec"]["template"]["spec"]["containers"][0]["env"] = json!([]);
        assert!(!holds(&desired, &live), "an env var removed");
        let mut live = deployment("nginx:1", "250m");
        live["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = json!("2");
        assert!(!holds(&desired, &live), "an env value changed");
    }

    #[test]
    fn empty_values_the_server_drops_match_absent_fields() {
        let desired = json!({"spec": {"hostNetwork": false, "args": [], "x": "", "n": 0, "o": {}}});
        assert!(holds(&desired, &json!({"spec": {}})));
        assert!(!holds(
            &json!({"spec": {"hostNetwork": true}}),
            &json!({"spec": {}})
        ));
    }

    #[test]
    fn atomic_lists_compare_in_order() {
        let desired = json!({"command": ["sh", "-c", "run"]});
        assert!(holds(&desired, &json!({"command": ["sh", "-c", "run"]})));
        assert!(!holds(
            &desired,
            &json!({"command": ["sh", "-c", "run", "x"]})
        ));
        assert!(!holds(&desired, &json!({"command": ["-c", "sh", "run"]})));
    }

    #[test]
    fn quantities_compare_by_value_only_where_they_are_quantities() {
        assert_eq!(quantity("1"), quantity("1000m"));
        assert_eq!(quantity("1Gi"), quantity("1024Mi"));
        assert_eq!(quantity("0.5"), quantity("500m"));
        assert_eq!(quantity("1.5Gi"), quantity("1536Mi"));
        assert_eq!(quantity("abc"), None);
        assert_eq!(quantity("."), None);
        // An env var "1" is not "1.0": only quantity keys are compared by value.
        let env = |v: &str| json!({"env": [{"name": "A", "value": v}]});
        assert!(!holds(&env("1.0"), &env("1")));
        let target = |v: &str| json!({"target": {"type": "Value", "value": v}});
        assert!(holds(&target("1000m"), &target("1")));
    }
}
