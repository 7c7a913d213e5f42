//! ECS identifiers for the custom resources: ARNs in ECS's formats, with `kubernetes` as the
//! region and the Kubernetes namespace as the account (the same form the lifecycle hook payload
//! uses, `controller::strategy::hooks::service_arn`), and reading a name back out of a name or
//! an ARN. Pure.

/// The region field of every ARN.
pub const REGION: &str = "kubernetes";

fn arn(namespace: &str, resource: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{namespace}:{resource}")
}

/// `arn:aws:ecs:kubernetes:<namespace>:cluster/<cluster>`.
pub fn cluster(namespace: &str, cluster: &str) -> String {
    arn(namespace, &format!("cluster/{cluster}"))
}

/// `arn:aws:ecs:kubernetes:<namespace>:service/<cluster>/<service>`.
pub fn service(namespace: &str, cluster: &str, service: &str) -> String {
    arn(namespace, &format!("service/{cluster}/{service}"))
}

/// `arn:aws:ecs:kubernetes:<namespace>:task/<cluster>/<task>` (the task id is the Task's name).
pub fn task(namespace: &str, cluster: &str, task: &str) -> String {
    arn(namespace, &format!("task/{cluster}/{task}"))
}

/// `arn:aws:ecs:kubernetes:<namespace>:container-instance/<cluster>/<node>`: a Kubernetes node
/// is where ECS would have a container instance (ContainerInstance: "An Amazon EC2 instance
/// that's running the Amazon ECS agent and has been registered with a cluster").
pub fn container_instance(namespace: &str, cluster: &str, node: &str) -> String {
    arn(namespace, &format!("container-instance/{cluster}/{node}"))
}

/// `arn:aws:ecs:kubernetes:<namespace>:container/<cluster>/<task>/<pod>/<container>`.
pub fn container(namespace: &str, cluster: &str, task: &str, pod: &str, name: &str) -> String {
    arn(
        namespace,
        &format!("container/{cluster}/{task}/{pod}/{name}"),
    )
}

/// `arn:aws:ecs:kubernetes:<namespace>:task-definition/<family>:<revision>`.
pub fn task_definition(namespace: &str, family: &str, revision: i64) -> String {
    arn(namespace, &format!("task-definition/{family}:{revision}"))
}

/// `arn:aws:ecs:kubernetes:<namespace>:service-deployment/<cluster>/<service>/<id>`; the id
/// is the deployment's (`ecs-svc/…`).
pub fn service_deployment(namespace: &str, cluster: &str, service: &str, id: &str) -> String {
    arn(
        namespace,
        &format!("service-deployment/{cluster}/{service}/{id}"),
    )
}

/// The name in a name or an ARN: the last `/` segment of an ARN (`service/c/web` → `web`,
/// the old `service/web` → `web`, `task/c/id` → `id`); anything else as it is.
pub fn name(raw: &str) -> &str {
    if raw.starts_with("arn:") {
        raw.rsplit_once('/').map_or(raw, |(_, n)| n)
    } else {
        raw
    }
}

/// The cluster named by a service or task ARN with a cluster segment
/// (`service/<cluster>/<name>`), if any.
pub fn cluster_of(raw: &str) -> Option<&str> {
    if !raw.starts_with("arn:") {
        return None;
    }
    let resource = raw.splitn(6, ':').nth(5)?;
    let mut parts = resource.split('/');
    let _kind = parts.next()?;
    let cluster = parts.next()?;
    parts.next().map(|_| cluster)
}

/// A service deployment ARN's cluster, service and deployment id.
pub fn parse_service_deployment(raw: &str) -> Option<(&str, &str, &str)> {
    let (_, rest) = raw.split_once(":service-deployment/")?;
    let (cluster, rest) = rest.split_once('/')?;
    let (service, id) = rest.split_once('/')?;
    (!cluster.is_empty() && !service.is_empty() && !id.is_empty()).then_some((cluster, service, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_round_trip_to_names() {
        let s = service("shop", "prod", "web");
        assert_eq!(s, "arn:aws:ecs:kubernetes:shop:service/prod/web");
        assert_eq!(name(&s), "web");
        assert_eq!(cluster_of(&s), Some("prod"));
        assert_eq!(name("arn:aws:ecs:us-east-1:1:service/web"), "web");
        assert_eq!(cluster_of("arn:aws:ecs:us-east-1:1:service/web"), None);
        assert_eq!(name("web"), "web");
        assert_eq!(
            task_definition("shop", "web", 3),
            "arn:aws:ecs:kubernetes:shop:task-definition/web:3"
        );
        let d = service_deployment("shop", "prod", "web", "ecs-svc/123");
        assert_eq!(
            parse_service_deployment(&d),
            Some(("prod", "web", "ecs-svc/123"))
        );
        assert_eq!(parse_service_deployment("web"), None);
        assert_eq!(name(&task("shop", "prod", "job-x1")), "job-x1");
        let ci = container_instance("shop", "prod", "node-1");
        assert_eq!(
            ci,
            "arn:aws:ecs:kubernetes:shop:container-instance/prod/node-1"
        );
        assert_eq!(name(&ci), "node-1");
        assert_eq!(
            cluster("shop", "default"),
            "arn:aws:ecs:kubernetes:shop:cluster/default"
        );
    }
}
