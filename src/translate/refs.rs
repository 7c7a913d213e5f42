//! References between resources, as ECS spells them: task definitions (`family`,
//! `family:N`, or an ARN) and clusters (a name or an ARN).

/// Parse a task definition reference: `family`, `family:N`, or a task definition ARN.
pub fn parse_task_definition_ref(raw: &str) -> (String, Option<i64>) {
    let s = raw.rsplit_once(":task-definition/").map_or(raw, |(_, r)| r);
    match s.rsplit_once(':') {
        Some((family, rev)) if rev.parse::<i64>().is_ok() => (family.to_string(), rev.parse().ok()),
        _ => (s.to_string(), None),
    }
}

/// The last segment of a cluster ARN, or the name itself.
pub fn cluster_name(raw: &str) -> &str {
    raw.rsplit_once(":cluster/").map_or(raw, |(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_in_every_ecs_spelling() {
        assert_eq!(parse_task_definition_ref("web"), ("web".to_string(), None));
        assert_eq!(
            parse_task_definition_ref("web:7"),
            ("web".to_string(), Some(7))
        );
        assert_eq!(
            parse_task_definition_ref("arn:aws:ecs:us-east-1:1:task-definition/web:7"),
            ("web".to_string(), Some(7))
        );
        assert_eq!(cluster_name("arn:aws:ecs:us-east-1:1:cluster/prod"), "prod");
        assert_eq!(cluster_name("prod"), "prod");
    }
}
