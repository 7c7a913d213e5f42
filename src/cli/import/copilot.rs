//! AWS Copilot workload manifests (issue 9 item 13): `copilot/<service>/manifest.yml` of a
//! `Load Balanced Web Service`, `Backend Service` or `Worker Service` becomes a Fargate
//! TaskDefinition (the main container, named after the service, and its `sidecars`) and a
//! Service. `environments.<env>` overrides are merged over the manifest first when
//! `--environment ENV` picks one, as `copilot deploy --env ENV` does (maps merge, every other
//! value replaces). Every manifest field is in the report: mapped (with where it went),
//! filled in from Copilot's defaults, warned or stripped (no Kubernetes form) — never dropped
//! silently. The rules are the Copilot manifest reference's
//! (https://aws.github.io/copilot-cli/docs/manifest/lb-web-service/, backend-service/,
//! worker-service/, and the shared sections: image, task size, platform, count, variables,
//! secrets, storage, network, sidecars, http and http.healthcheck, exec, environments).
//! Values only AWS knows — a CloudFormation export (`from_cfn`), a Secrets Manager secret's ARN,
//! an image Copilot builds — become placeholders that `--set` gives.

use serde_json::{Map, Value, json};

use super::report::{Fate, join};
use super::{Converted, Kind, Raw};

/// The manifest reference, cited in the report.
const DOCS: &str = "https://aws.github.io/copilot-cli/docs/manifest/";

type Notes = Vec<(String, Fate, String)>;

/// A manifest map being read: members are taken as they are mapped; `rest` reports the others.
struct Section {
    m: Map<String, Value>,
    path: String,
}

impl Section {
    fn new(v: Value, path: &str) -> Section {
        let m = match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Section {
            m,
            path: path.to_string(),
        }
    }

    fn p(&self, k: &str) -> String {
        join(&self.path, k)
    }

    /// The member, if set (an explicit null is not set).
    fn take(&mut self, k: &str) -> Option<Value> {
        self.m.shift_remove(k).filter(|v| !v.is_null())
    }

    /// Take a member that has no Kubernetes form here: a note of `fate` at its path.
    fn note(&mut self, k: &str, fate: Fate, why: &str, notes: &mut Notes) {
        if self.take(k).is_some() {
            notes.push((self.p(k), fate, why.to_string()));
        }
    }

    /// Every member not taken: stripped, with its path.
    fn rest(self, notes: &mut Notes) {
        for (k, _) in self.m {
            notes.push((join(&self.path, &k), Fate::Stripped, format!("not imported: not a field this import maps at this path (Copilot manifest reference, {DOCS})")));
        }
    }
}

/// Maps merge, every other value replaces: how an `environments.<env>` override applies.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(bv) if bv.is_object() && v.is_object() => merge(bv, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// A Go duration (`15s`, `2m`, `1m30s`, `500ms`) or a number of seconds, as whole seconds.
fn seconds(v: &Value) -> Option<i64> {
    if let Some(n) = v.as_f64() {
        return Some(n.ceil() as i64);
    }
    let s = v.as_str()?.trim();
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..end].parse().ok()?;
        rest = &rest[end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_end..];
    }
    Some(total.ceil() as i64)
}

/// A port: `8080`, `"8080"` or `"8080/tcp"`.
fn port(v: &Value) -> Option<(i64, String)> {
    if let Some(n) = v.as_i64() {
        return Some((n, "tcp".into()));
    }
    let s = v.as_str()?;
    let (n, proto) = s.split_once('/').unwrap_or((s, "tcp"));
    Some((n.trim().parse().ok()?, proto.trim().to_ascii_lowercase()))
}

/// A command as a string (split like a shell, with quotes) or a list of strings.
fn words(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(a) => Some(a.clone()),
        Value::String(s) => {
            let mut out = Vec::new();
            let mut cur = String::new();
            let mut quote: Option<char> = None;
            let mut any = false;
            for ch in s.chars() {
                match (quote, ch) {
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), c) => cur.push(c),
                    (None, '"' | '\'') => {
                        quote = Some(ch);
                        any = true;
                    }
                    (None, c) if c.is_whitespace() => {
                        if any || !cur.is_empty() {
                            out.push(Value::String(std::mem::take(&mut cur)));
                            any = false;
                        }
                    }
                    (None, c) => cur.push(c),
                }
            }
            if any || !cur.is_empty() {
                out.push(Value::String(cur));
            }
            Some(out)
        }
        _ => None,
    }
}

/// A placeholder for a CloudFormation stack export: ecspresso's `cfn_export`, so that
/// `--set 'cfn_export:NAME=VALUE'` gives it.
fn cfn_export(name: &Value) -> Value {
    json!(format!(
        "{{{{ cfn_export `{}` }}}}",
        name.as_str().unwrap_or_default()
    ))
}

fn image_var(container: &str) -> String {
    let up: String = container
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("COPILOT_IMAGE_{up}")
}

/// A member that must be a map: refused (with what it should be) when it is not.
fn map_of(v: Value, path: &str, notes: &mut Notes) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => {
            notes.push((
                path.into(),
                Fate::Refused,
                format!(
                    "expected a map of NAME: value, not {} (Copilot manifest reference, {DOCS})",
                    super::schema::kind_of(&other)
                ),
            ));
            Map::new()
        }
    }
}

/// Which container fields a section holds: the environment's (variables, secrets, command,
/// entrypoint, env_file — top level for the main container) and the image's (labels,
/// credentials, depends_on, healthcheck — under `image` for the main container); a sidecar holds
/// both (Copilot manifest reference, "image", "variables", "secrets", "sidecars").
#[derive(Clone, Copy, PartialEq)]
enum Fields {
    Env,
    Image,
    Both,
    /// A sidecar's `image` map: only location or build.
    Neither,
}

fn container_fields(s: &mut Section, c: &mut Map<String, Value>, notes: &mut Notes, which: Fields) {
    if matches!(which, Fields::Env | Fields::Both) {
        env_fields(s, c, notes);
    }
    if matches!(which, Fields::Image | Fields::Both) {
        image_fields(s, c, notes);
    }
}

fn env_fields(s: &mut Section, c: &mut Map<String, Value>, notes: &mut Notes) {
    if let Some(vars) = s.take("variables") {
        let path = s.p("variables");
        let mut env = Vec::new();
        for (k, v) in map_of(vars, &path, notes) {
            let v = &v;
            let value = match v {
                Value::Object(m) if m.contains_key("from_cfn") => {
                    notes.push((join(&path, &format!("{k}.from_cfn")), Fate::Converted, "a CloudFormation export: the placeholder {{ cfn_export `NAME` }}, given with --set 'cfn_export:NAME=VALUE'".into()));
                    cfn_export(&m["from_cfn"])
                }
                Value::String(_) => v.clone(),
                Value::Null => json!(""),
                other => json!(other.to_string()),
            };
            env.push(json!({"name": k, "value": value}));
        }
        notes.push((
            path,
            Fate::Converted,
            format!("{} variable(s) → environment", env.len()),
        ));
        c.insert("environment".into(), Value::Array(env));
    }
    if let Some(secrets) = s.take("secrets") {
        let path = s.p("secrets");
        let mut out = Vec::new();
        for (k, v) in map_of(secrets, &path, notes) {
            let (k, v) = (&k, &v);
            let from = match v {
                // An SSM parameter name or ARN, as ECS takes it.
                Value::String(name) => json!(name),
                Value::Object(m) => match (m.get("secretsmanager"), m.get("from_cfn")) {
                    (Some(Value::String(sm)), _) if sm.starts_with("arn:") => json!(sm),
                    (Some(Value::String(sm)), _) => {
                        notes.push((join(&path, &format!("{k}.secretsmanager")), Fate::Converted, "a Secrets Manager secret by name: its ARN, whose Region and account Copilot takes from the environment: give them with --set AWS_REGION=… --set AWS_ACCOUNT_ID=…".into()));
                        json!(format!(
                            "arn:aws:secretsmanager:${{AWS_REGION}}:${{AWS_ACCOUNT_ID}}:secret:{sm}"
                        ))
                    }
                    (_, Some(name)) => cfn_export(name),
                    _ => {
                        notes.push((join(&path, k), Fate::Refused, "expected an SSM parameter name or ARN, {secretsmanager: NAME} or {from_cfn: EXPORT}".into()));
                        continue;
                    }
                },
                _ => {
                    notes.push((
                        join(&path, k),
                        Fate::Refused,
                        "expected an SSM parameter name or ARN, or a map".into(),
                    ));
                    continue;
                }
            };
            out.push(json!({"name": k, "valueFrom": from}));
        }
        notes.push((
            path,
            Fate::Converted,
            format!("{} secret(s) → secrets (valueFrom)", out.len()),
        ));
        c.insert("secrets".into(), Value::Array(out));
    }
    for (k, member) in [("command", "command"), ("entrypoint", "entryPoint")] {
        if let Some(v) = s.take(k) {
            match words(&v) {
                Some(w) => {
                    notes.push((s.p(k), Fate::Converted, format!("→ {member}")));
                    c.insert(member.into(), Value::Array(w));
                }
                None => notes.push((
                    s.p(k),
                    Fate::Refused,
                    "expected a string or a list of strings".into(),
                )),
            }
        }
    }
    s.note("env_file", Fate::Warned, "Copilot uploads the file to S3 for environmentFiles: not imported; give its variables under variables", notes);
}

fn image_fields(s: &mut Section, c: &mut Map<String, Value>, notes: &mut Notes) {
    if let Some(v) = s.take("labels") {
        let v = Value::Object(map_of(v, &s.p("labels"), notes));
        notes.push((s.p("labels"), Fate::Converted, "→ dockerLabels".into()));
        c.insert("dockerLabels".into(), v);
    }
    for k in ["credentials", "credentialsParameter"] {
        if let Some(v) = s.take(k) {
            notes.push((
                s.p(k),
                Fate::Converted,
                "→ repositoryCredentials.credentialsParameter".into(),
            ));
            c.insert(
                "repositoryCredentials".into(),
                json!({"credentialsParameter": v}),
            );
        }
    }
    if let Some(v) = s.take("depends_on") {
        let deps: Vec<Value> = map_of(v, &s.p("depends_on"), notes)
            .iter()
            .map(|(name, cond)| {
                json!({"containerName": name,
                    "condition": cond.as_str().unwrap_or_default().to_ascii_uppercase()})
            })
            .collect();
        notes.push((s.p("depends_on"), Fate::Converted, "→ dependsOn".into()));
        c.insert("dependsOn".into(), Value::Array(deps));
    }
    if let Some(v) = s.take("healthcheck") {
        let mut h = Section::new(v, &s.p("healthcheck"));
        let mut check = Map::new();
        match h.take("command").as_ref().and_then(words) {
            Some(cmd) => {
                check.insert("command".into(), Value::Array(cmd));
            }
            None => notes.push((
                h.p("command"),
                Fate::Refused,
                "is required: [\"CMD\", …] or [\"CMD-SHELL\", \"…\"]".into(),
            )),
        }
        // Copilot's defaults (manifest reference, image.healthcheck): interval 10s, retries 2,
        // timeout 5s, start_period 0s — not ECS's 30 s / 3 / 5 s.
        for (k, member, default) in [
            ("interval", "interval", 10),
            ("retries", "retries", 2),
            ("timeout", "timeout", 5),
            ("start_period", "startPeriod", 0),
        ] {
            let v = match h.take(k) {
                Some(v) => match if k == "retries" {
                    v.as_i64()
                } else {
                    seconds(&v)
                } {
                    Some(n) => n,
                    None => {
                        notes.push((
                            h.p(k),
                            Fate::Refused,
                            "expected a duration such as 10s or 1m".into(),
                        ));
                        continue;
                    }
                },
                None => {
                    notes.push((
                        h.p(k),
                        Fate::FilledIn,
                        format!("{default}: Copilot's default ({DOCS})"),
                    ));
                    default
                }
            };
            check.insert(member.into(), json!(v));
        }
        h.rest(notes);
        notes.push((s.p("healthcheck"), Fate::Converted, "→ healthCheck".into()));
        c.insert("healthCheck".into(), Value::Object(check));
    }
}

/// A container's image section (`image.location` / `image.build`), its port, and the rest of
/// it. Returns the port.
fn image(
    v: Option<Value>,
    fields: Fields,
    path: &str,
    container: &str,
    c: &mut Map<String, Value>,
    notes: &mut Notes,
    doc_notes: &mut Notes,
) -> Option<(i64, String)> {
    let mut img = match v {
        Some(Value::String(loc)) => {
            c.insert("image".into(), json!(loc));
            notes.push((path.into(), Fate::Converted, "→ image".into()));
            return None;
        }
        Some(v @ Value::Object(_)) => Section::new(v, path),
        _ => {
            doc_notes.push((path.into(), Fate::Refused, "is required: image.location (an image to run) or image.build (then give the pushed image with --set)".into()));
            return None;
        }
    };
    match (img.take("location"), img.take("build")) {
        (Some(_), Some(_)) => doc_notes.push((
            img.p("build"),
            Fate::Refused,
            "build and location are mutually exclusive (Copilot manifest reference, image)".into(),
        )),
        (Some(loc), None) => {
            notes.push((img.p("location"), Fate::Converted, "→ image".into()));
            c.insert("image".into(), loc);
        }
        (None, Some(_)) => {
            let var = image_var(container);
            doc_notes.push((img.p("build"), Fate::Warned, format!("Copilot builds and pushes this image at deploy time; import cannot: give the pushed image with --set {var}=REPOSITORY:TAG (or write image.location)")));
            c.insert("image".into(), json!(format!("${{{var}}}")));
        }
        (None, None) => doc_notes.push((
            img.p("location"),
            Fate::Refused,
            "image needs location (or build, then --set the pushed image)".into(),
        )),
    }
    let p = img.take("port").and_then(|v| port(&v));
    if p.is_some() {
        notes.push((img.p("port"), Fate::Converted, "→ portMappings".into()));
    }
    container_fields(&mut img, c, notes, fields);
    img.rest(notes);
    p
}

/// A port mapping, named `tcp-8080` (a Kubernetes port name: at most 15 characters).
fn port_mapping((n, proto): &(i64, String)) -> Value {
    json!({"containerPort": n, "protocol": proto, "name": port_name(*n, proto)})
}

fn port_name(n: i64, proto: &str) -> String {
    format!("{proto}-{n}")
}

/// Convert one Copilot manifest; `environment` picks its `environments.<env>` override.
pub fn convert(doc: &Value, environment: Option<&str>) -> Result<Converted, String> {
    let ty = doc
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    match ty.as_str() {
        "Load Balanced Web Service" | "Backend Service" | "Worker Service" => {}
        "Environment" => return Err("type: an environment manifest (copilot/environments/<env>/manifest.yml): nothing to run; import the services' manifests (copilot/<service>/manifest.yml)".into()),
        other => return Err(format!("type: '{other}' is not imported: import reads Copilot's Load Balanced Web Service, Backend Service and Worker Service manifests (a Request-Driven Web Service runs on App Runner, a Scheduled Job and a Static Site are not ECS services)")),
    }
    let mut out = Converted::default();
    let mut notes = Notes::new();
    let mut merged = doc.clone();
    let envs = merged
        .as_object_mut()
        .and_then(|m| m.shift_remove("environments"));
    let env_names: Vec<String> = envs
        .as_ref()
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    match (envs, environment) {
        (Some(Value::Object(envs)), Some(e)) => {
            match envs.get(e) {
                Some(over) => {
                    merge(&mut merged, over.clone());
                    notes.push((format!("environments.{e}"), Fate::Converted, format!("merged over the manifest, as Copilot deploys to {e} (maps merge, other values replace; paths below are the merged manifest's)")));
                }
                // No override for the environment: Copilot deploys the manifest as written.
                None => notes.push((
                    "environments".into(),
                    Fate::Warned,
                    format!(
                        "no override for '{e}' (--environment; the manifest has {}): the manifest as written, as Copilot deploys it there",
                        env_names.join(", ")
                    ),
                )),
            }
            for other in env_names.iter().filter(|n| *n != e) {
                notes.push((
                    format!("environments.{other}"),
                    Fate::Stripped,
                    format!("the override of another environment (--environment is {e})"),
                ));
            }
        }
        (Some(Value::Object(envs)), None) if !envs.is_empty() => out.notes.push((
            "environments".into(),
            Fate::Warned,
            format!(
                "overrides for {} not applied: pick one with --environment ENV",
                env_names.join(", ")
            ),
        )),
        (Some(v), _) if !v.is_object() => out.notes.push((
            "environments".into(),
            Fate::Refused,
            "expected a map of environment name: overrides".into(),
        )),
        _ => {}
    }
    let mut root = Section::new(merged, "");
    root.take("type");
    let name = match root.take("name") {
        Some(Value::String(n)) if !n.is_empty() => n,
        _ => {
            return Err(
                "name: required: the service's name (Copilot manifest reference, name)".into(),
            );
        }
    };
    notes.push((
        "name".into(),
        Fate::Converted,
        "→ the task definition's family, the main container's name and the service's serviceName"
            .into(),
    ));
    notes.push((
        "type".into(),
        Fate::Converted,
        format!("{ty}: a Fargate task definition (networkMode awsvpc) and a Service"),
    ));
    let mut doc_notes = Notes::new();
    let mut td = Map::new();
    let mut svc = Map::new();
    td.insert("family".into(), json!(name));
    td.insert("requiresCompatibilities".into(), json!(["FARGATE"]));
    td.insert("networkMode".into(), json!("awsvpc"));
    svc.insert("serviceName".into(), json!(name));
    svc.insert("taskDefinition".into(), json!(name));
    // The main container.
    let mut main = Map::new();
    main.insert("name".into(), json!(name));
    main.insert("essential".into(), json!(true));
    let main_port = image(
        root.take("image"),
        Fields::Image,
        "image",
        &name,
        &mut main,
        &mut notes,
        &mut doc_notes,
    );
    container_fields(&mut root, &mut main, &mut notes, Fields::Env);
    let mut mounts = Vec::new();
    // Task size (manifest reference, "cpu" / "memory"; Copilot's defaults 256 / 512).
    for (k, default) in [("cpu", 256), ("memory", 512)] {
        match root.take(k) {
            Some(v) if v.as_i64().is_some() || v.is_string() => {
                notes.push((k.into(), Fate::Converted, format!("→ the task's {k}")));
                td.insert(
                    k.into(),
                    json!(v.as_i64().map_or_else(
                        || v.as_str().unwrap_or_default().to_string(),
                        |n| n.to_string()
                    )),
                );
            }
            Some(_) => doc_notes.push((k.into(), Fate::Refused, "expected a number".into())),
            None => {
                notes.push((
                    k.into(),
                    Fate::FilledIn,
                    format!("{default}: Copilot's default"),
                ));
                td.insert(k.into(), json!(default.to_string()));
            }
        }
    }
    if let Some(p) = root.take("platform") {
        let (os, arch) = match &p {
            Value::String(s) => {
                let (os, arch) = s.split_once('/').unwrap_or((s, ""));
                let os = match os {
                    // "windows/x86_64 … defaults to WINDOWS_SERVER_2019_CORE" (platform).
                    "windows" => "WINDOWS_SERVER_2019_CORE".to_string(),
                    o => o.to_ascii_uppercase(),
                };
                (os, arch.to_string())
            }
            Value::Object(m) => (
                m.get("osfamily")
                    .and_then(Value::as_str)
                    .unwrap_or("linux")
                    .to_ascii_uppercase(),
                m.get("architecture")
                    .and_then(Value::as_str)
                    .unwrap_or("x86_64")
                    .to_string(),
            ),
            _ => (String::new(), String::new()),
        };
        let arch = match arch.as_str() {
            "x86_64" | "amd64" => Some("X86_64"),
            "arm64" | "arm" => Some("ARM64"),
            _ => None,
        };
        match arch {
            Some(arch) if !os.is_empty() => {
                notes.push(("platform".into(), Fate::Converted, "→ runtimePlatform".into()));
                td.insert(
                    "runtimePlatform".into(),
                    json!({"operatingSystemFamily": os, "cpuArchitecture": arch}),
                );
            }
            _ => doc_notes.push(("platform".into(), Fate::Refused, "expected OS/ARCH such as linux/x86_64, linux/arm64 or windows/x86_64, or {osfamily, architecture} (Copilot manifest reference, platform)".into())),
        }
    }
    // count: a number, {spot}, or autoscaling (manifest reference, "count").
    let mut autoscaling = Map::new();
    match root.take("count") {
        None => {
            notes.push((
                "count".into(),
                Fate::FilledIn,
                "1: Copilot's default → desiredCount".into(),
            ));
            svc.insert("desiredCount".into(), json!(1));
        }
        Some(Value::Number(n)) => {
            notes.push(("count".into(), Fate::Converted, "→ desiredCount".into()));
            svc.insert("desiredCount".into(), Value::Number(n));
        }
        Some(v @ Value::Object(_)) => count(
            v,
            &name,
            &mut svc,
            &mut autoscaling,
            &mut notes,
            &mut doc_notes,
        ),
        Some(_) => doc_notes.push((
            "count".into(),
            Fate::Refused,
            "expected a number or a map (range, spot, cpu_percentage, …)".into(),
        )),
    }
    if !autoscaling.is_empty() {
        svc.insert("autoscaling".into(), Value::Object(autoscaling));
    }
    if !svc.contains_key("capacityProviderStrategy") {
        svc.insert("launchType".into(), json!("FARGATE"));
    }
    if let Some(v) = root.take("exec") {
        notes.push((
            "exec".into(),
            Fate::Converted,
            "→ enableExecuteCommand".into(),
        ));
        svc.insert("enableExecuteCommand".into(), v);
    }
    // Sidecars (manifest reference, "sidecars").
    let mut containers = Vec::new();
    let mut ports: Vec<(String, (i64, String))> = Vec::new();
    if let Some(p) = &main_port {
        ports.push((name.clone(), p.clone()));
    }
    if let Some(sidecars) = root.take("sidecars") {
        for (sname, sv) in map_of(sidecars, "sidecars", &mut doc_notes) {
            let path = format!("sidecars.{sname}");
            let mut s = Section::new(sv, &path);
            let mut c = Map::new();
            c.insert("name".into(), json!(sname));
            let img = s.take("image");
            let img_port = image(
                img,
                Fields::Neither,
                &s.p("image"),
                &sname,
                &mut c,
                &mut notes,
                &mut doc_notes,
            );
            let own = s.take("port").and_then(|v| port(&v));
            if own.is_some() {
                notes.push((s.p("port"), Fate::Converted, "→ portMappings".into()));
            }
            let p = own.or(img_port);
            if let Some(p) = &p {
                c.insert("portMappings".into(), json!([port_mapping(p)]));
                ports.push((sname.clone(), p.clone()));
            }
            match s.take("essential") {
                Some(e) => {
                    notes.push((s.p("essential"), Fate::Converted, "→ essential".into()));
                    c.insert("essential".into(), e);
                }
                None => {
                    notes.push((
                        s.p("essential"),
                        Fate::FilledIn,
                        "true: Copilot's default".into(),
                    ));
                    c.insert("essential".into(), json!(true));
                }
            }
            if let Some(mps) = s.take("mount_points") {
                let Value::Array(mps) = mps else {
                    doc_notes.push((
                        s.p("mount_points"),
                        Fate::Refused,
                        "expected a list of {source_volume, path, read_only}".into(),
                    ));
                    continue;
                };
                let mps: Vec<Value> = mps
                    .iter()
                    .map(|m| {
                        json!({"sourceVolume": m.get("source_volume"), "containerPath": m.get("path"),
                            "readOnly": m.get("read_only").cloned().unwrap_or(json!(true))})
                    })
                    .collect();
                notes.push((
                    s.p("mount_points"),
                    Fate::Converted,
                    "→ mountPoints (read_only defaults to true)".into(),
                ));
                c.insert("mountPoints".into(), Value::Array(mps));
            }
            container_fields(&mut s, &mut c, &mut notes, Fields::Both);
            notes.push((
                path.clone(),
                Fate::Converted,
                format!("→ container '{sname}'"),
            ));
            s.rest(&mut notes);
            containers.push(c);
        }
    }
    // Load balancing: http (an ALB) or nlb, by type (manifest reference, "http", "nlb").
    let mut lbs = Vec::new();
    let port_of = |ports: &[(String, (i64, String))], container: &str| {
        ports.iter().find(|(c, _)| c == container).map(|(_, p)| p.0)
    };
    let http = root.take("http");
    let http_on = match (&http, ty.as_str()) {
        (Some(Value::Bool(false)), _) => false,
        (Some(_), "Load Balanced Web Service" | "Backend Service") => true,
        (None, "Load Balanced Web Service") => !root.m.contains_key("nlb"),
        (Some(_), _) => {
            notes.push((
                "http".into(),
                Fate::Stripped,
                format!("a {ty} has no load balancer: not imported"),
            ));
            false
        }
        _ => false,
    };
    let mut app_protocol: Option<(String, i64, &str)> = None;
    if http_on {
        let mut h = Section::new(http.unwrap_or(json!({})), "http");
        for (k, member) in [
            ("target_container", "containerName"),
            ("target_port", "containerPort"),
        ] {
            if h.m.contains_key(k) {
                notes.push((
                    h.p(k),
                    Fate::Converted,
                    format!("→ the loadBalancers entry's {member}"),
                ));
            }
        }
        let target = h
            .take("target_container")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or(name.clone());
        let tport = h
            .take("target_port")
            .and_then(|v| port(&v))
            .map(|p| p.0)
            .or_else(|| port_of(&ports, &target));
        match tport {
            Some(p) => {
                lbs.push(json!({"containerName": target, "containerPort": p}));
                notes.push(("http".into(), Fate::Converted, format!("the Application Load Balancer → spec.loadBalancers: a Kubernetes Service selecting the tasks on {target}:{p} (Copilot's target group is not bound; no Ingress is generated)")));
                if !ports.iter().any(|(c, x)| *c == target && x.0 == p) {
                    if target == name {
                        ports.push((name.clone(), (p, "tcp".into())));
                    } else if let Some(c) = containers.iter_mut().find(|c| c["name"] == target) {
                        c.insert("portMappings".into(), json!([port_mapping(&(p, "tcp".into()))]));
                    }
                }
            }
            None => doc_notes.push(("image.port".into(), Fate::Refused, format!("is required for the {ty}'s load balancer (or http.target_port): the container port that receives traffic"))),
        }
        if let Some(v) = h.take("version") {
            let proto = match v.as_str() {
                Some("grpc") => Some("grpc"),
                Some("http2") => Some("http2"),
                Some("http1") => Some("http"),
                _ => None,
            };
            match proto {
                Some(p) => {
                    notes.push((
                        "http.version".into(),
                        Fate::Converted,
                        format!("→ appProtocol {p} of the target port"),
                    ));
                    app_protocol = tport.map(|port| (target.clone(), port, p));
                }
                None => doc_notes.push((
                    "http.version".into(),
                    Fate::Refused,
                    "must be grpc, http1 or http2".into(),
                )),
            }
        }
        let mut grace_given = None;
        match h.take("healthcheck") {
            Some(Value::String(_)) => notes.push(("http.healthcheck".into(), Fate::Warned, "the target group's health check path: Kubernetes has no load balancer health check here; give the container an image.healthcheck (a probe), or bind a target group with spec.kubernetes.targetGroupBindings so its health gates readiness".into())),
            Some(v @ Value::Object(_)) => {
                let mut hc = Section::new(v, "http.healthcheck");
                if let Some(g) = hc.take("grace_period") {
                    match seconds(&g) {
                        Some(s) => {
                            grace_given = Some(s);
                            notes.push((hc.p("grace_period"), Fate::Converted, "→ healthCheckGracePeriodSeconds".into()));
                        }
                        None => doc_notes.push((hc.p("grace_period"), Fate::Refused, "expected a duration such as 60s or 2m".into())),
                    }
                }
                for k in ["path", "port", "success_codes", "healthy_threshold", "unhealthy_threshold", "interval", "timeout"] {
                    hc.note(k, Fate::Warned, "a setting of the target group's health check: no Kubernetes form here (a container image.healthcheck becomes the probes; spec.kubernetes.targetGroupBindings lets a real target group's health gate readiness)", &mut notes);
                }
                hc.rest(&mut notes);
            }
            _ => {}
        }
        if grace_given.is_none() {
            notes.push((
                "http.healthcheck.grace_period".into(),
                Fate::FilledIn,
                "60 s: Copilot's default → healthCheckGracePeriodSeconds".into(),
            ));
        }
        svc.insert(
            "healthCheckGracePeriodSeconds".into(),
            json!(grace_given.unwrap_or(60)),
        );
        h.note("path", Fate::Warned, "the ALB listener rule's path: no Ingress or HTTPRoute is generated; route it to the Service with one (spec.kubernetes.httpRoute names an HTTPRoute for weighted deployments)", &mut notes);
        for k in [
            "alias",
            "hosted_zone",
            "redirect_to_https",
            "stickiness",
            "allowed_source_ips",
            "deregistration_delay",
            "additional_rules",
            "alb",
        ] {
            h.note(k, Fate::Warned, "an ALB feature: no Kubernetes form here (configure it on the Ingress or Gateway that routes to the Service)", &mut notes);
        }
        h.rest(&mut notes);
    }
    if let Some(nlb) = root.take("nlb") {
        let mut n = Section::new(nlb, "nlb");
        for (k, member) in [
            ("target_container", "containerName"),
            ("target_port", "containerPort"),
        ] {
            if n.m.contains_key(k) {
                notes.push((
                    n.p(k),
                    Fate::Converted,
                    format!("→ the loadBalancers entry's {member}"),
                ));
            }
        }
        let target = n
            .take("target_container")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or(name.clone());
        let listener = n.take("port").and_then(|v| port(&v));
        if listener.is_some() {
            notes.push(("nlb.port".into(), Fate::Warned, "the listener port: the Kubernetes Service listens on the container port (targetPort); set the external port on a LoadBalancer Service or Gateway".into()));
        }
        let tport = n
            .take("target_port")
            .and_then(|v| port(&v))
            .map(|p| p.0)
            .or_else(|| port_of(&ports, &target))
            .or(listener.as_ref().map(|p| p.0));
        match tport {
            Some(p) => {
                lbs.push(json!({"containerName": target, "containerPort": p}));
                notes.push(("nlb".into(), Fate::Converted, format!("the Network Load Balancer → spec.loadBalancers: a Kubernetes Service on {target}:{p} (set spec.kubernetes.serviceType LoadBalancer for an external one)")));
            }
            None => doc_notes.push((
                "nlb.port".into(),
                Fate::Refused,
                "is required: the listener port, such as 80/tcp".into(),
            )),
        }
        for k in [
            "alias",
            "hosted_zone",
            "additional_listeners",
            "healthcheck",
            "ssl_policy",
            "stickiness",
            "deregistration_delay",
        ] {
            n.note(
                k,
                Fate::Warned,
                "an NLB feature: no Kubernetes form here",
                &mut notes,
            );
        }
        n.rest(&mut notes);
    }
    if !lbs.is_empty() {
        svc.insert("loadBalancers".into(), Value::Array(lbs));
    }
    // Storage (manifest reference, "storage").
    let mut volumes = Vec::new();
    if let Some(v) = root.take("storage") {
        let mut st = Section::new(v, "storage");
        if let Some(e) = st.take("ephemeral") {
            notes.push((
                st.p("ephemeral"),
                Fate::Converted,
                "→ ephemeralStorage.sizeInGiB".into(),
            ));
            td.insert("ephemeralStorage".into(), json!({"sizeInGiB": e}));
        }
        if let Some(r) = st.take("readonly_fs") {
            notes.push((
                st.p("readonly_fs"),
                Fate::Converted,
                "→ the main container's readonlyRootFilesystem".into(),
            ));
            main.insert("readonlyRootFilesystem".into(), r);
        }
        if let Some(vols) = st.take("volumes") {
            for (vname, vv) in map_of(vols, "storage.volumes", &mut doc_notes) {
                let mut vs = Section::new(vv, &format!("storage.volumes.{vname}"));
                let mut vol = json!({"name": vname});
                if let Some(path) = vs.take("path") {
                    // read_only "defaults to true" (manifest reference, storage.volumes).
                    let ro = vs.take("read_only");
                    notes.push((
                        vs.p("path"),
                        Fate::Converted,
                        format!(
                            "→ the main container's mountPoints (readOnly {})",
                            ro.as_ref()
                                .map_or("true: Copilot's default".to_string(), |r| r.to_string())
                        ),
                    ));
                    mounts.push(json!({"sourceVolume": vname, "containerPath": path,
                        "readOnly": ro.unwrap_or(json!(true))}));
                } else {
                    doc_notes.push((
                        vs.p("path"),
                        Fate::Refused,
                        "is required: where the main container mounts the volume".into(),
                    ));
                }
                match vs.take("efs") {
                    Some(Value::Object(efs)) if efs.contains_key("id") => {
                        let mut e = Section::new(Value::Object(efs), &vs.p("efs"));
                        let id = match e.take("id") {
                            Some(Value::Object(m)) if m.contains_key("from_cfn") => cfn_export(&m["from_cfn"]),
                            Some(v) => v,
                            None => Value::Null,
                        };
                        let mut cfg = json!({"fileSystemId": id, "transitEncryption": "ENABLED"});
                        if let Some(r) = e.take("root_dir") {
                            cfg["rootDirectory"] = r;
                        }
                        if let Some(auth) = e.take("auth") {
                            cfg["authorizationConfig"] = json!({
                                "iam": if auth.get("iam") == Some(&json!(false)) { "DISABLED" } else { "ENABLED" },
                            });
                            if let Some(ap) = auth.get("access_point_id").filter(|a| a.as_str().is_some_and(|s| !s.is_empty())) {
                                cfg["authorizationConfig"]["accessPointId"] = ap.clone();
                            }
                        }
                        notes.push((vs.p("efs"), Fate::Converted, "→ efsVolumeConfiguration (transit encryption on, as Copilot sets it)".into()));
                        vol["efsVolumeConfiguration"] = cfg;
                        e.rest(&mut notes);
                    }
                    Some(_) => notes.push((vs.p("efs"), Fate::Warned, "a filesystem Copilot creates and manages: none exists to mount; the volume is the task's own (emptyDir): bring a filesystem ID (efs.id) to share data across tasks".into())),
                    None => notes.push((vs.p(""), Fate::Converted, "an empty volume shared by the task's containers → volumes (task-scoped)".into())),
                }
                vs.rest(&mut notes);
                volumes.push(vol);
            }
        }
        st.rest(&mut notes);
    }
    // Network (manifest reference, "network"): Copilot runs tasks in awsvpc mode.
    if let Some(v) = root.take("network") {
        let mut n = Section::new(v, "network");
        if let Some(v) = n.take("vpc") {
            let mut vpc = Section::new(v, "network.vpc");
            let mut aws = Map::new();
            match vpc.take("placement") {
                Some(Value::String(p)) if p == "public" || p == "private" => {
                    notes.push((
                        vpc.p("placement"),
                        Fate::Converted,
                        "→ networkConfiguration.awsvpcConfiguration.assignPublicIp".into(),
                    ));
                    aws.insert(
                        "assignPublicIp".into(),
                        json!(if p == "public" { "ENABLED" } else { "DISABLED" }),
                    );
                }
                Some(Value::Object(m)) => match m.get("subnets") {
                    Some(Value::Array(s)) => {
                        notes.push((
                            vpc.p("placement.subnets"),
                            Fate::Converted,
                            "→ networkConfiguration.awsvpcConfiguration.subnets".into(),
                        ));
                        aws.insert("subnets".into(), Value::Array(s.clone()));
                    }
                    _ => notes.push((
                        vpc.p("placement.subnets"),
                        Fate::Warned,
                        "subnets chosen by tags at deploy time: not imported".into(),
                    )),
                },
                Some(_) => doc_notes.push((
                    vpc.p("placement"),
                    Fate::Refused,
                    "must be 'public', 'private' or {subnets: [...]}".into(),
                )),
                None => {}
            }
            match vpc.take("security_groups") {
                Some(Value::Array(g)) => {
                    notes.push((
                        vpc.p("security_groups"),
                        Fate::Converted,
                        "→ networkConfiguration.awsvpcConfiguration.securityGroups".into(),
                    ));
                    aws.insert(
                        "securityGroups".into(),
                        Value::Array(
                            g.iter()
                                .map(|x| match x.get("from_cfn") {
                                    Some(n) => cfn_export(n),
                                    None => x.clone(),
                                })
                                .collect(),
                        ),
                    );
                }
                Some(v @ Value::Object(_)) => {
                    let mut sg = Section::new(v, &vpc.p("security_groups"));
                    if let Some(Value::Array(g)) = sg.take("groups") {
                        notes.push((
                            sg.p("groups"),
                            Fate::Converted,
                            "→ networkConfiguration.awsvpcConfiguration.securityGroups".into(),
                        ));
                        aws.insert(
                            "securityGroups".into(),
                            Value::Array(
                                g.iter()
                                    .map(|x| match x.get("from_cfn") {
                                        Some(n) => cfn_export(n),
                                        None => x.clone(),
                                    })
                                    .collect(),
                            ),
                        );
                    }
                    sg.note(
                        "deny_default",
                        Fate::Warned,
                        "Copilot's environment security group: none here",
                        &mut notes,
                    );
                    sg.rest(&mut notes);
                }
                _ => {}
            }
            vpc.rest(&mut notes);
            if !aws.is_empty() {
                svc.insert(
                    "networkConfiguration".into(),
                    json!({"awsvpcConfiguration": aws}),
                );
            }
        }
        match n.take("connect") {
            Some(Value::Bool(false)) | None => {}
            Some(v) => {
                // The alias defaults to the service's name (manifest reference, network.connect).
                let alias = v.get("alias").and_then(Value::as_str);
                let mut sc = json!({"enabled": true});
                if let Some(p) = &main_port {
                    let mut client = json!({"port": p.0});
                    if let Some(a) = alias {
                        client["dnsName"] = json!(a);
                    }
                    sc["services"] = json!([{"portName": port_name(p.0, &p.1),
                        "discoveryName": alias.unwrap_or(&name), "clientAliases": [client]}]);
                }
                notes.push((
                    n.p("connect"),
                    Fate::Converted,
                    "→ serviceConnectConfiguration".into(),
                ));
                svc.insert("serviceConnectConfiguration".into(), sc);
            }
        }
        n.rest(&mut notes);
    }
    if !svc.contains_key("networkConfiguration") {
        notes.push((
            "network.vpc.placement".into(),
            Fate::FilledIn,
            "public: Copilot's default → assignPublicIp ENABLED".into(),
        ));
        svc.insert(
            "networkConfiguration".into(),
            json!({"awsvpcConfiguration": {"assignPublicIp": "ENABLED"}}),
        );
    }
    // Deployment (manifest reference, "deployment").
    if let Some(v) = root.take("deployment") {
        let mut d = Section::new(v, "deployment");
        match d.take("rolling").as_ref().and_then(Value::as_str) {
            Some("recreate") => {
                notes.push((d.p("rolling"), Fate::Converted, "recreate → deploymentConfiguration minimumHealthyPercent 0, maximumPercent 100".into()));
                svc.insert(
                    "deploymentConfiguration".into(),
                    json!({"minimumHealthyPercent": 0, "maximumPercent": 100}),
                );
            }
            Some("default") => {
                notes.push((d.p("rolling"), Fate::Converted, "default → deploymentConfiguration minimumHealthyPercent 100, maximumPercent 200".into()));
                svc.insert(
                    "deploymentConfiguration".into(),
                    json!({"minimumHealthyPercent": 100, "maximumPercent": 200}),
                );
            }
            Some(_) => doc_notes.push((
                d.p("rolling"),
                Fate::Refused,
                "must be 'default' or 'recreate'".into(),
            )),
            None => {}
        }
        d.note("rollback_alarms", Fate::Warned, "CloudWatch alarms: no Kubernetes form here (the circuit breaker, deploymentConfiguration.deploymentCircuitBreaker, is the operator's rollback)", &mut notes);
        d.rest(&mut notes);
    }
    for (k, why) in [
        (
            "logging",
            "the FireLens log router sidecar Copilot adds: not imported (the awslogs driver of the containers, if any, is kept)",
        ),
        ("observability", "X-Ray tracing sidecar: not imported"),
        ("publish", "SNS topics Copilot creates: not imported"),
        (
            "subscribe",
            "the SQS queue and SNS subscriptions Copilot creates: not imported (the worker's code still reads its queue URL from COPILOT_QUEUE_URI: give it under variables)",
        ),
        (
            "taskdef_overrides",
            "CloudFormation patches of Copilot's template: not applied; edit the imported TaskDefinition instead",
        ),
    ] {
        root.note(k, Fate::Warned, why, &mut notes);
    }
    // Copilot's own variables (manifest reference, "variables": "Copilot will include a number of
    // environment variables by default"): those known here are set, the others reported.
    let mut defaults = vec![("COPILOT_SERVICE_NAME", name.clone())];
    if let Some(e) = environment {
        defaults.push(("COPILOT_ENVIRONMENT_NAME", e.to_string()));
    }
    let env = main.entry("environment").or_insert(json!([]));
    if let Value::Array(list) = env {
        for (k, v) in defaults {
            if !list.iter().any(|e| e["name"] == k) {
                notes.push((
                    format!("variables.{k}"),
                    Fate::FilledIn,
                    format!("'{v}': a variable Copilot sets"),
                ));
                list.push(json!({"name": k, "value": v}));
            }
        }
    }
    notes.push(("variables".into(), Fate::Warned, "COPILOT_APPLICATION_NAME, COPILOT_LB_DNS and COPILOT_SERVICE_DISCOVERY_ENDPOINT, which Copilot sets, are not: give them under variables if the code reads them".into()));
    // Finish the main container.
    if let Some(p) = ports
        .iter()
        .find(|(c, _)| *c == name)
        .map(|(_, p)| p.clone())
    {
        main.insert("portMappings".into(), json!([port_mapping(&p)]));
    }
    if !mounts.is_empty() {
        main.insert("mountPoints".into(), Value::Array(mounts));
    }
    let mut defs = vec![Value::Object(main)];
    defs.extend(containers.into_iter().map(Value::Object));
    // http.version: the ALB's protocol to the target port (grpc, http1, http2).
    if let Some((container, port, proto)) = &app_protocol {
        for d in defs.iter_mut().filter(|d| d["name"] == *container) {
            for pm in d["portMappings"].as_array_mut().into_iter().flatten() {
                if pm["containerPort"] == *port {
                    pm["appProtocol"] = json!(proto);
                }
            }
        }
    }
    td.insert("containerDefinitions".into(), Value::Array(defs));
    if !volumes.is_empty() {
        td.insert("volumes".into(), Value::Array(volumes));
    }
    root.rest(&mut notes);
    // Notes of the task definition and the service go with the service's resource; the
    // refusals and the image build notes with the document, so they show with any error.
    let (refused, notes): (Notes, Notes) = notes.into_iter().partition(|n| n.1 == Fate::Refused);
    out.notes.extend(doc_notes);
    out.notes.extend(refused);
    let mut td_raw = Raw::new(Kind::TaskDefinition, Some(name.clone()), td, "", &[]);
    let mut svc_raw = Raw::new(Kind::Service, Some(name.clone()), svc, "", &[]);
    for n in notes {
        let task_side = [
            "image",
            "sidecars",
            "cpu",
            "memory",
            "platform",
            "storage",
            "variables",
            "secrets",
            "command",
            "entrypoint",
            "name",
            "env_file",
            "labels",
            "credentials",
            "healthcheck",
            "depends_on",
            "logging",
            "observability",
            "taskdef_overrides",
        ]
        .iter()
        .any(|p| n.0 == *p || n.0.starts_with(&format!("{p}.")));
        if task_side {
            td_raw.notes.push(n);
        } else {
            svc_raw.notes.push(n);
        }
    }
    out.raws.push(td_raw);
    out.raws.push(svc_raw);
    Ok(out)
}

/// `count` as a map: `spot`, or `range` (`n-m` or {min, max, spot_from}) with target tracking on
/// `cpu_percentage`, `memory_percentage`, `requests` and `response_time`, each a value or
/// {value, cooldown}; `cooldown` {in, out} is their default (manifest reference, "count").
fn count(
    v: Value,
    name: &str,
    svc: &mut Map<String, Value>,
    autoscaling: &mut Map<String, Value>,
    notes: &mut Notes,
    doc_notes: &mut Notes,
) {
    let mut c = Section::new(v, "count");
    if let Some(spot) = c.take("spot") {
        notes.push((
            "count.spot".into(),
            Fate::Converted,
            "→ desiredCount on capacityProviderStrategy FARGATE_SPOT".into(),
        ));
        svc.insert("desiredCount".into(), spot);
        svc.insert(
            "capacityProviderStrategy".into(),
            json!([{"capacityProvider": "FARGATE_SPOT", "weight": 1}]),
        );
    }
    let cooldown = |v: Option<&Value>| -> (Option<i64>, Option<i64>) {
        let v = v.and_then(Value::as_object);
        (
            v.and_then(|m| m.get("in")).and_then(seconds),
            v.and_then(|m| m.get("out")).and_then(seconds),
        )
    };
    let default_cd = c.take("cooldown");
    let (din, dout) = cooldown(default_cd.as_ref());
    if default_cd.is_some() {
        notes.push((
            "count.cooldown".into(),
            Fate::Converted,
            "in / out → each policy's scaleInCooldown / scaleOutCooldown (seconds)".into(),
        ));
    }
    let mut policies = Vec::new();
    for (k, metric, label) in [
        (
            "cpu_percentage",
            Some("ECSServiceAverageCPUUtilization"),
            "cpu",
        ),
        (
            "memory_percentage",
            Some("ECSServiceAverageMemoryUtilization"),
            "memory",
        ),
        ("requests", Some("ALBRequestCountPerTarget"), "requests"),
        ("response_time", None, "response-time"),
    ] {
        let Some(v) = c.take(k) else { continue };
        let (value, (cin, cout)) = match &v {
            Value::Object(m) => (
                m.get("value").cloned().unwrap_or(Value::Null),
                cooldown(m.get("cooldown")),
            ),
            other => (other.clone(), (None, None)),
        };
        let target = if metric.is_none() {
            seconds(&value).map(|s| s as f64)
        } else {
            value.as_f64()
        };
        let Some(target) = target.filter(|t| *t > 0.0) else {
            doc_notes.push((
                format!("count.{k}"),
                Fate::Refused,
                "expected a positive value (or {value, cooldown})".into(),
            ));
            continue;
        };
        let mut p = json!({"policyName": format!("{name}-{label}"), "targetValue": target});
        match metric {
            Some(m) => p["predefinedMetricSpecification"] = json!({"predefinedMetricType": m}),
            // Copilot scales on the ALB's TargetResponseTime (seconds).
            None => {
                p["customizedMetricSpecification"] = json!({"metricName": "TargetResponseTime", "namespace": "AWS/ApplicationELB", "statistic": "Average", "unit": "Seconds"})
            }
        }
        if let Some(s) = cin.or(din) {
            p["scaleInCooldown"] = json!(s);
        }
        if let Some(s) = cout.or(dout) {
            p["scaleOutCooldown"] = json!(s);
        }
        notes.push((
            format!("count.{k}"),
            Fate::Converted,
            "→ a spec.autoscaling target-tracking policy".into(),
        ));
        policies.push(p);
    }
    c.note(
        "queue_delay",
        Fate::Warned,
        "scaling on the SQS queue's backlog: no Kubernetes form here, not imported",
        notes,
    );
    match c.take("range") {
        Some(r) => {
            let (min, max, spot_from) = match &r {
                Value::String(s) => {
                    let (a, b) = s.split_once('-').unwrap_or((s, ""));
                    (a.trim().parse::<i64>().ok(), b.trim().parse::<i64>().ok(), None)
                }
                Value::Object(m) => (
                    m.get("min").and_then(Value::as_i64),
                    m.get("max").and_then(Value::as_i64),
                    m.get("spot_from").and_then(Value::as_i64),
                ),
                _ => (None, None, None),
            };
            match (min, max) {
                (Some(min), Some(max)) if min <= max => {
                    notes.push(("count.range".into(), Fate::Converted, format!("→ spec.autoscaling minCapacity {min} / maxCapacity {max}, desiredCount {min}")));
                    if policies.is_empty() {
                        doc_notes.push(("count.range".into(), Fate::Refused, "needs a metric to scale on: add cpu_percentage, memory_percentage, requests or response_time (the HPA needs one), or give count a number".into()));
                    }
                    autoscaling.insert("minCapacity".into(), json!(min));
                    autoscaling.insert("maxCapacity".into(), json!(max));
                    svc.insert("desiredCount".into(), json!(min));
                    if let Some(from) = spot_from {
                        notes.push(("count.range.spot_from".into(), Fate::Converted, format!("→ capacityProviderStrategy: the first {} task(s) on FARGATE, the rest on FARGATE_SPOT", from.saturating_sub(1).max(0))));
                        svc.insert("capacityProviderStrategy".into(), json!([
                            {"capacityProvider": "FARGATE", "base": from.saturating_sub(1).max(0), "weight": 0},
                            {"capacityProvider": "FARGATE_SPOT", "weight": 1}]));
                    }
                }
                _ => doc_notes.push(("count.range".into(), Fate::Refused, "expected MIN-MAX such as 1-10, or {min, max, spot_from}, with min ≤ max".into())),
            }
        }
        None if !policies.is_empty() => doc_notes.push(("count.range".into(), Fate::Refused, "is required with cpu_percentage, memory_percentage, requests or response_time: the fewest and most tasks, such as 1-10".into())),
        None => {}
    }
    if !policies.is_empty() {
        autoscaling.insert(
            "targetTrackingScalingPolicies".into(),
            Value::Array(policies),
        );
    }
    c.rest(notes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_ports_and_commands() {
        assert_eq!(seconds(&json!("1m30s")), Some(90));
        assert_eq!(seconds(&json!("500ms")), Some(1));
        assert_eq!(seconds(&json!(15)), Some(15));
        assert_eq!(seconds(&json!("soon")), None);
        assert_eq!(port(&json!("80/udp")), Some((80, "udp".into())));
        assert_eq!(port(&json!(8080)), Some((8080, "tcp".into())));
        assert_eq!(
            words(&json!("sh -c 'echo hi there' \"\"")),
            Some(vec![
                json!("sh"),
                json!("-c"),
                json!("echo hi there"),
                json!("")
            ])
        );
    }

    /// Copilot manifest reference, "environments": maps merge, other values replace.
    #[test]
    fn environment_overrides_merge_maps_and_replace_the_rest() {
        let mut base = json!({"count": {"range": "1-4", "cpu_percentage": 70}, "variables": {"A": "1", "B": "2"}, "command": ["a"]});
        merge(
            &mut base,
            json!({"count": 3, "variables": {"B": "3"}, "command": ["b", "c"]}),
        );
        assert_eq!(
            base,
            json!({"count": 3, "variables": {"A": "1", "B": "3"}, "command": ["b", "c"]})
        );
    }
}
