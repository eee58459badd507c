//! One instance as a Swarm service: the pure mapping from a `ContainerSpec` (what dops would
//! create on one engine) to a `ServiceSpec`.
//!
//! - one replica, hostname `<service>-<instance>`, the labels of a container (plus the desired
//!   state, its fingerprint and the id of the image the reference was pushed from);
//! - the project's overlay network with the aliases `<service>-<instance>` and `<service>`
//!   (links and the DNS server are names; the engine's DNS answers them only once the task is
//!   healthy, i.e. dops-init is UP), endpoint mode `dnsrr` (this kind of kernel may lack IPVS);
//! - the health check is dops-init's, with a start period as long as the roll-out timeout (a
//!   slow first boot is not killed) and `--swarm` (after the first UP, a restart inside dops-init
//!   is not a reason for the swarm to kill the task);
//! - persistent folders: named local volumes (Docker fills an empty one from the image);
//! - published ports: host mode;
//! - roll-outs: `update_config` with the order, parallelism 1 (one service per instance: the
//!   waves are dops'), `failure_action` rollback (or pause with `--no-rollback`).

use std::collections::HashMap;

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, EndpointSpecModeEnum, HealthConfig, Mount, MountType, MountVolumeOptions,
    NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    ServiceSpecRollbackConfig, ServiceSpecRollbackConfigFailureActionEnum,
    ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig,
    ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum, TaskSpec,
    TaskSpecContainerSpec, TaskSpecLogDriver, TaskSpecPlacement, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum,
};

use crate::dockerfile::Protocol;
use crate::labels;
use crate::meta::INIT_PATH;
use crate::plan::{ContainerSpec, Desired};
use crate::project::env::EnvValue;
use crate::project::policies::{RestartPolicy, UpdateOrder};

const SECOND_NS: i64 = 1_000_000_000;

/// How a service is rolled out (from the plan's replacement, or the defaults of a new one).
#[derive(Debug, Clone, Copy)]
pub struct Rollout {
    pub order: UpdateOrder,
    pub rollback: bool,
    /// How long a new task may take to become healthy (UP) before it counts as failed.
    pub timeout_s: u64,
    pub stop_timeout_s: u64,
}

/// The service of one instance. `image_ref`: the pushed, content-tagged reference; `image_id`:
/// the image it was pushed from. Err: a value only a local engine can resolve.
pub fn service_spec(
    spec: &ContainerSpec,
    image_ref: &str,
    image_id: &str,
    rollout: Rollout,
) -> Result<ServiceSpec, String> {
    let mut env = Vec::with_capacity(spec.env.len());
    for v in &spec.env {
        match &v.value {
            EnvValue::Literal(s) => env.push(format!("{}={s}", v.name)),
            EnvValue::IpOf(c) => {
                return Err(format!(
                    "{}: {} is the address of {c}, which only a local engine can resolve",
                    spec.name, v.name
                ))
            }
        }
    }
    let desired = Desired::of(spec, &|v| v.to_string());
    let mut service_labels: HashMap<String, String> = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    service_labels.insert(labels::DESIRED.into(), desired.to_label());
    service_labels.insert(labels::FINGERPRINT.into(), desired.fingerprint());
    service_labels.insert(labels::IMAGE_ID.into(), image_id.to_string());
    let container_labels: HashMap<String, String> = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    let mounts: Vec<Mount> = spec
        .mounts
        .iter()
        .filter_map(|m| {
            let volume = m.volume.as_ref()?;
            Some(Mount {
                target: Some(m.container.clone()),
                source: Some(volume.clone()),
                typ: Some(MountType::VOLUME),
                read_only: Some(m.read_only),
                volume_options: Some(MountVolumeOptions {
                    // Filled from the image when empty: dops' seeding, done by Docker.
                    no_copy: Some(!m.seed),
                    labels: Some(container_labels.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            })
        })
        .collect();

    let ports: Vec<EndpointPortConfig> = spec
        .ports
        .iter()
        .map(|p| EndpointPortConfig {
            protocol: Some(match p.protocol {
                Protocol::Tcp => EndpointPortConfigProtocolEnum::TCP,
                Protocol::Udp => EndpointPortConfigProtocolEnum::UDP,
            }),
            target_port: Some(i64::from(p.container_port)),
            published_port: Some(i64::from(p.host_port)),
            publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
            ..Default::default()
        })
        .collect();

    let networks = spec.network.as_ref().map(|n| {
        vec![NetworkAttachmentConfig {
            target: Some(n.clone()),
            aliases: Some(vec![spec.hostname.clone(), spec.service.clone()]),
            ..Default::default()
        }]
    });

    let (condition, max_attempts) = match spec.restart {
        RestartPolicy::No => (TaskSpecRestartPolicyConditionEnum::NONE, None),
        RestartPolicy::Always | RestartPolicy::UnlessStopped => {
            (TaskSpecRestartPolicyConditionEnum::ANY, None)
        }
        RestartPolicy::OnFailure { max } => (
            TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
            (max > 0).then_some(i64::from(max)),
        ),
    };

    let container = TaskSpecContainerSpec {
        image: Some(image_ref.to_string()),
        labels: Some(container_labels),
        hostname: Some(spec.hostname.clone()),
        env: Some(env),
        mounts: (!mounts.is_empty()).then_some(mounts),
        stop_grace_period: Some(secs(rollout.stop_timeout_s)),
        health_check: Some(HealthConfig {
            test: Some(vec![
                "CMD".into(),
                INIT_PATH.into(),
                "health".into(),
                "--swarm".into(),
            ]),
            interval: Some(2 * SECOND_NS),
            timeout: Some(5 * SECOND_NS),
            retries: Some(3),
            start_period: Some(secs(rollout.timeout_s)),
            ..Default::default()
        }),
        ..Default::default()
    };
    let task = TaskSpec {
        container_spec: Some(container),
        restart_policy: Some(TaskSpecRestartPolicy {
            condition: Some(condition),
            delay: Some(SECOND_NS),
            max_attempts,
            ..Default::default()
        }),
        placement: spec.placement.as_ref().map(|p| TaskSpecPlacement {
            constraints: (!p.constraints.is_empty()).then(|| p.constraints.clone()),
            ..Default::default()
        }),
        networks,
        log_driver: Some(TaskSpecLogDriver {
            name: Some("json-file".into()),
            options: Some(spec.log_opts.clone().into_iter().collect()),
        }),
        ..Default::default()
    };
    let (order, rollback_order) = match rollout.order {
        UpdateOrder::StartFirst => (
            ServiceSpecUpdateConfigOrderEnum::START_FIRST,
            ServiceSpecRollbackConfigOrderEnum::START_FIRST,
        ),
        UpdateOrder::StopFirst => (
            ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
            ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
        ),
    };
    Ok(ServiceSpec {
        name: Some(spec.name.clone()),
        labels: Some(service_labels),
        task_template: Some(task),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated { replicas: Some(1) }),
            ..Default::default()
        }),
        update_config: Some(ServiceSpecUpdateConfig {
            parallelism: Some(1),
            delay: Some(0),
            failure_action: Some(if rollout.rollback {
                ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK
            } else {
                ServiceSpecUpdateConfigFailureActionEnum::PAUSE
            }),
            monitor: Some(5 * SECOND_NS),
            max_failure_ratio: Some(0.0),
            order: Some(order),
        }),
        rollback_config: Some(ServiceSpecRollbackConfig {
            parallelism: Some(1),
            delay: Some(0),
            failure_action: Some(ServiceSpecRollbackConfigFailureActionEnum::PAUSE),
            monitor: Some(5 * SECOND_NS),
            max_failure_ratio: Some(0.0),
            order: Some(rollback_order),
        }),
        endpoint_spec: Some(EndpointSpec {
            mode: Some(EndpointSpecModeEnum::DNSRR),
            ports: (!ports.is_empty()).then_some(ports),
        }),
        ..Default::default()
    })
}

fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX / SECOND_NS) * SECOND_NS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Mount as PlanMount, Placement, PortPublish};
    use crate::project::env::{EnvOrigin, EnvVar};

    fn spec() -> ContainerSpec {
        ContainerSpec {
            name: "demo-db-master".into(),
            hostname: "db-master".into(),
            image: "demo/db".into(),
            service: "db".into(),
            instance: "master".into(),
            instance_type: "persistent".into(),
            env: vec![EnvVar {
                name: "DNS_SERVICE_IP".into(),
                value: EnvValue::Literal("dops-dns-master".into()),
                origin: EnvOrigin::Dns,
            }],
            mounts: vec![PlanMount {
                host: Default::default(),
                container: "/data".into(),
                seed: true,
                read_only: false,
                volume: Some("demo-db-master-data".into()),
            }],
            ports: vec![PortPublish {
                container_port: 5432,
                protocol: Protocol::Tcp,
                host_ip: std::net::Ipv4Addr::UNSPECIFIED.into(),
                host_port: 5432,
            }],
            labels: [(labels::PROJECT.to_string(), "demo".to_string())].into(),
            network: Some("demo".into()),
            nethost: false,
            interactive: false,
            safemode: false,
            dns: None,
            extra_args: Default::default(),
            restart: RestartPolicy::UnlessStopped,
            log_opts: crate::project::policies::default_log_opts(),
            after: vec![],
            pinned: false,
            placement: Some(Placement {
                constraints: vec!["node.labels.io.dops.data.demo.db-master==true".into()],
                node: Some("n2".into()),
            }),
        }
    }

    const ROLLOUT: Rollout = Rollout {
        order: UpdateOrder::StopFirst,
        rollback: true,
        timeout_s: 120,
        stop_timeout_s: 10,
    };

    #[test]
    fn an_instance_becomes_a_service() {
        let s = service_spec(
            &spec(),
            "reg:5000/demo/db:0123456789ab",
            "sha256:0123",
            ROLLOUT,
        )
        .unwrap();
        assert_eq!(s.name.as_deref(), Some("demo-db-master"));
        let l = s.labels.as_ref().unwrap();
        assert_eq!(l[labels::IMAGE_ID], "sha256:0123");
        assert!(l.contains_key(labels::FINGERPRINT) && l.contains_key(labels::DESIRED));
        let task = s.task_template.as_ref().unwrap();
        let c = task.container_spec.as_ref().unwrap();
        assert_eq!(c.image.as_deref(), Some("reg:5000/demo/db:0123456789ab"));
        assert_eq!(c.hostname.as_deref(), Some("db-master"));
        assert_eq!(c.env.as_ref().unwrap()[0], "DNS_SERVICE_IP=dops-dns-master");
        let m = &c.mounts.as_ref().unwrap()[0];
        assert_eq!(m.typ, Some(MountType::VOLUME));
        assert_eq!(m.source.as_deref(), Some("demo-db-master-data"));
        assert_eq!(m.volume_options.as_ref().unwrap().no_copy, Some(false));
        let h = c.health_check.as_ref().unwrap();
        assert_eq!(h.start_period, Some(120 * SECOND_NS));
        assert_eq!(
            h.test.as_ref().unwrap().last().map(String::as_str),
            Some("--swarm")
        );
        assert_eq!(
            task.placement
                .as_ref()
                .unwrap()
                .constraints
                .as_ref()
                .unwrap()[0],
            "node.labels.io.dops.data.demo.db-master==true"
        );
        let net = &task.networks.as_ref().unwrap()[0];
        assert_eq!(
            net.aliases.as_ref().unwrap(),
            &vec!["db-master".to_string(), "db".to_string()]
        );
        let e = s.endpoint_spec.as_ref().unwrap();
        assert_eq!(e.mode, Some(EndpointSpecModeEnum::DNSRR));
        let p = &e.ports.as_ref().unwrap()[0];
        assert_eq!(
            p.publish_mode,
            Some(EndpointPortConfigPublishModeEnum::HOST)
        );
        assert_eq!(p.published_port, Some(5432));
        let u = s.update_config.as_ref().unwrap();
        assert_eq!(u.order, Some(ServiceSpecUpdateConfigOrderEnum::STOP_FIRST));
        assert_eq!(
            u.failure_action,
            Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK)
        );
        assert_eq!(
            s.mode.unwrap().replicated.unwrap().replicas,
            Some(1),
            "one replica: the instance"
        );
    }

    #[test]
    fn an_address_only_a_local_engine_knows_is_refused() {
        let mut sp = spec();
        sp.env[0].value = EnvValue::IpOf("demo-dops-dns-master".into());
        let e = service_spec(&sp, "r/i:t", "id", ROLLOUT).unwrap_err();
        assert!(e.contains("only a local engine"), "{e}");
    }

    #[test]
    fn no_rollback_pauses() {
        let s = service_spec(
            &spec(),
            "r/i:t",
            "id",
            Rollout {
                rollback: false,
                ..ROLLOUT
            },
        )
        .unwrap();
        assert_eq!(
            s.update_config.unwrap().failure_action,
            Some(ServiceSpecUpdateConfigFailureActionEnum::PAUSE)
        );
    }
}
