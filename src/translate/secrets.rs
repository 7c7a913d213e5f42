//! ECS secret references (Secrets Manager ARNs with `:jsonKey:stage:version`, SSM parameter
//! ARNs or names, S3 environment files) to the Kubernetes Secrets and ConfigMaps that hold them:
//! names derived deterministically so a user (or the External Secrets Operator) can create them.

use serde_json::json;

use super::names::sanitize;

/// Where an ECS secret lives, and the Kubernetes Secret/key that stands for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRef {
    /// Name of the Kubernetes Secret.
    pub secret_name: String,
    /// Key inside it.
    pub key: String,
    /// The source: Secrets Manager secret name or SSM parameter name.
    pub remote_name: String,
    /// A JSON key inside a Secrets Manager secret.
    pub json_key: Option<String>,
    /// `VersionStage` / `VersionId` of a Secrets Manager reference.
    pub version: Option<String>,
    /// True for SSM Parameter Store, false for Secrets Manager.
    pub ssm: bool,
}

/// Parse `valueFrom` of an ECS secret: a Secrets Manager ARN, an SSM parameter ARN, or an SSM
/// parameter name (ECS accepts a bare name for parameters in the same Region).
pub fn parse_value_from(value_from: &str) -> Result<SecretRef, String> {
    let v = value_from.trim();
    if v.is_empty() {
        return Err("is empty: give a Secrets Manager ARN or an SSM parameter ARN or name".into());
    }
    if let Some(rest) = v.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        if parts.len() < 5 {
            return Err(format!(
                "'{v}' is not a complete ARN (arn:partition:service:region:account:resource)"
            ));
        }
        let (service, resource) = (parts[1], parts[4]);
        return match service {
            "secretsmanager" => parse_secrets_manager(v, resource),
            "ssm" => {
                let name = resource.strip_prefix("parameter").ok_or_else(|| {
                    format!(
                        "'{v}' is an SSM ARN but not of a parameter (expected ...:parameter/NAME)"
                    )
                })?;
                Ok(ssm_ref(name.trim_start_matches('/')))
            }
            other => Err(format!(
                "'{v}' is an ARN of '{other}'; ECS secrets come from secretsmanager or ssm"
            )),
        };
    }
    Ok(ssm_ref(v.trim_start_matches('/')))
}

fn parse_secrets_manager(full: &str, resource: &str) -> Result<SecretRef, String> {
    // resource = "secret:NAME-AbCdEf[:jsonKey[:versionStage[:versionId]]]"
    let rest = resource.strip_prefix("secret:").ok_or_else(|| {
        format!("'{full}' is a Secrets Manager ARN but not of a secret (expected ...:secret:NAME)")
    })?;
    let mut fields = rest.split(':');
    let name_with_suffix = fields.next().unwrap_or_default();
    if name_with_suffix.is_empty() {
        return Err(format!("'{full}' names no secret"));
    }
    let json_key = fields.next().filter(|s| !s.is_empty()).map(str::to_string);
    let stage = fields.next().filter(|s| !s.is_empty());
    let version_id = fields.next().filter(|s| !s.is_empty());
    let name = strip_random_suffix(name_with_suffix);
    let secret_name = sanitize(name, 253);
    Ok(SecretRef {
        key: json_key.clone().unwrap_or_else(|| "value".into()),
        secret_name,
        remote_name: name.to_string(),
        json_key,
        version: version_id.or(stage).map(str::to_string),
        ssm: false,
    })
}

fn ssm_ref(name: &str) -> SecretRef {
    SecretRef {
        secret_name: sanitize(name, 253),
        key: "value".into(),
        remote_name: name.to_string(),
        json_key: None,
        version: None,
        ssm: true,
    }
}

/// Secrets Manager appends "-" and six random characters to a secret's name in its ARN.
pub fn strip_random_suffix(name: &str) -> &str {
    match name.rsplit_once('-') {
        Some((base, suffix))
            if suffix.len() == 6
                && suffix.chars().all(|c| c.is_ascii_alphanumeric())
                && !base.is_empty() =>
        {
            base
        }
        _ => name,
    }
}

/// The ConfigMap name standing for an S3 environment file `arn:aws:s3:::bucket/key.env`.
pub fn environment_file_config_map(value: &str) -> Result<String, String> {
    let object = value
        .strip_prefix("arn:aws:s3:::")
        .or_else(|| value.strip_prefix("arn:aws-cn:s3:::"))
        .or_else(|| value.strip_prefix("arn:aws-us-gov:s3:::"))
        .ok_or_else(|| {
            format!("'{value}' is not an S3 object ARN (arn:aws:s3:::bucket/key.env)")
        })?;
    let file = object.rsplit('/').next().unwrap_or(object);
    let stem = file.strip_suffix(".env").unwrap_or(file);
    Ok(sanitize(
        &format!("env-{stem}-{}", super::names::short_hash(object)),
        253,
    ))
}

/// An External Secrets Operator `ExternalSecret` producing the Secret behind `refs` (all of one
/// Kubernetes Secret name).
pub fn external_secret(
    name: &str,
    namespace: Option<&str>,
    refs: &[&SecretRef],
    store: &str,
    store_kind: &str,
    refresh: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> serde_json::Value {
    let data: Vec<serde_json::Value> = refs
        .iter()
        .map(|r| {
            let mut remote = json!({ "key": r.remote_name });
            if let Some(k) = &r.json_key {
                remote["property"] = json!(k);
            }
            if let Some(v) = &r.version {
                remote["version"] = json!(v);
            }
            json!({ "secretKey": r.key, "remoteRef": remote })
        })
        .collect();
    let mut metadata = json!({ "name": name, "labels": labels });
    if let Some(ns) = namespace {
        metadata["namespace"] = json!(ns);
    }
    json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": metadata,
        "spec": {
            "refreshInterval": refresh,
            "secretStoreRef": { "name": store, "kind": store_kind },
            "target": { "name": name, "creationPolicy": "Owner" },
            "data": data,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_manager_arn_with_json_key() {
        let r = parse_value_from(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf:password::",
        )
        .unwrap();
        assert_eq!(r.secret_name, "prod-db");
        assert_eq!(r.key, "password");
        assert_eq!(r.remote_name, "prod/db");
        assert!(!r.ssm);
    }

    #[test]
    fn whole_secret_and_ssm_forms() {
        let r =
            parse_value_from("arn:aws:secretsmanager:us-east-1:1:secret:api-key-Zz9Yy8").unwrap();
        assert_eq!(
            (r.secret_name.as_str(), r.key.as_str()),
            ("api-key", "value")
        );
        let r = parse_value_from("arn:aws:ssm:us-east-1:1:parameter/prod/db/password").unwrap();
        assert_eq!(
            (r.secret_name.as_str(), r.remote_name.as_str(), r.ssm),
            ("prod-db-password", "prod/db/password", true)
        );
        let r = parse_value_from("DB_PASSWORD").unwrap();
        assert_eq!(r.secret_name, "db-password");
        assert!(parse_value_from("arn:aws:s3:::bucket/x").is_err());
        assert!(parse_value_from("").is_err());
    }

    #[test]
    fn environment_files_become_config_maps() {
        let n = environment_file_config_map("arn:aws:s3:::my-bucket/app/prod.env").unwrap();
        assert!(n.starts_with("env-prod-"), "{n}");
        assert!(environment_file_config_map("s3://bucket/x.env").is_err());
    }
}
