//! The planner's tests: a small project, an observed engine state, and the plan's steps (text
//! snapshots where the whole output matters).

mod build;
mod clean;
mod converge;
mod display;
mod run;
mod swarm;

use std::path::Path;

pub(super) use std::path::PathBuf;

pub(super) use super::*;
pub(super) use crate::action::{CleanAction, Overrides, Recreate, RunAction, Target};
pub(super) use crate::observed::ObservedContainer;
pub(super) use crate::project::env::{EnvValue, HostContext};
pub(super) use crate::project::instance::random_name;
pub(super) use crate::project::{ProjectFiles, ServiceFiles, DNS_SERVICE};

const RUN_CONF: &str = r#"
# a small platform
[
  {"service": "db", "instance": "master", "env_vars": {"DB_PASSWORD": "secret"}, "sleep": 2},
  {"service": "web", "instance": "one", "links": ["db-master:db"], "group": "front",
   "cfg": {"greeting": "hi"}, "volumes": ["shared:/shared:ro"]},
  {"service": "web", "instance": "published", "links": [{"name": "DB", "service": "db", "instance": null}],
   "env_vars": {"PUBLISH_ON_IP": "from_eth0"}, "dns_update_policy": "REPLACE", "group": "front"},
  {"service": "tool", "instance": "debug", "autorun": false}
]
"#;

fn project_with(run_conf: &str, host_conf: Option<&str>) -> Project {
    let svc = |name: &str, dockerfile: &str, req: Option<&str>| ServiceFiles {
        name: name.into(),
        dockerfile: dockerfile.into(),
        required_env_vars: req.map(str::to_string),
    };
    Project::from_files(
        Path::new("/p/demo"),
        ProjectFiles {
            run_conf: Some(("run.conf".into(), run_conf.into())),
            host_conf: host_conf.map(str::to_string),
            services: vec![
                svc("base", "FROM debian:12\n", None),
                svc(
                    "db",
                    "FROM postgres:16\nEXPOSE 5432\n",
                    Some("[\"DB_PASSWORD\"]"),
                ),
                svc("tool", "FROM demo/base\n", None),
                svc(
                    "web",
                    "FROM demo/base\nEXPOSE 80\n# dops: expose 443 as 8443\n",
                    None,
                ),
            ],
        },
    )
    .unwrap()
}

fn project() -> Project {
    project_with(RUN_CONF, None)
}

fn ctx() -> PlanContext {
    let mut host = HostContext {
        hostname: "host1".into(),
        ..Default::default()
    };
    host.interfaces
        .insert("eth0".into(), std::net::Ipv4Addr::new(192, 168, 1, 10));
    PlanContext {
        host,
        dns_key: Some("hmac-sha256:demo:c2VjcmV0c2VjcmV0".into()),
        seed: 7,
        engine: Default::default(),
    }
}

fn run(target: Target) -> Action {
    Action::Run(RunAction {
        target,
        overrides: Overrides::default(),
        recreate: Recreate::Changed,
        orphans: false,
        rollback: true,
        wait: false,
        timeout_s: None,
        dry_run: false,
    })
}

fn sel(service: &str, instance: Option<&str>) -> Target {
    Target::Select {
        service: service.into(),
        instance: instance.map(str::to_string),
    }
}

fn running(name: &str, service: &str, instance: &str) -> ObservedContainer {
    ObservedContainer {
        name: format!("demo-{name}"),
        service: service.into(),
        instance: instance.into(),
        state: "running".into(),
        ..Default::default()
    }
}

fn plan_text(p: &Project, o: &Observed, a: &Action) -> String {
    plan(p, o, a, &ctx()).unwrap().plan.to_string()
}

fn summary(p: &Project, o: &Observed, a: &Action) -> Vec<String> {
    plan(p, o, a, &ctx())
        .unwrap()
        .plan
        .steps
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Mark the observed containers as dops made them from this project's current specs: their
/// recorded desired state and image are today's (addresses unknown: empty).
pub(super) fn up_to_date(p: &Project, o: &mut Observed) {
    let specs: Vec<ContainerSpec> = plan(p, &Observed::default(), &run(Target::All), &ctx())
        .unwrap()
        .plan
        .steps
        .into_iter()
        .filter_map(|s| match s {
            Step::Run(s) => Some(*s),
            _ => None,
        })
        .collect();
    let images = o.images.clone();
    for c in o.containers.iter_mut() {
        if let Some(spec) = specs.iter().find(|s| s.name == c.name) {
            let d = Desired::of(spec, &|v| match v {
                EnvValue::Literal(s) => s.clone(),
                EnvValue::IpOf(_) => String::new(),
            });
            c.labels.insert(crate::labels::DESIRED.into(), d.to_label());
            c.image_id = images
                .get(&spec.image)
                .or_else(|| images.get(&format!("{}:latest", spec.image)))
                .cloned()
                .unwrap_or_default();
        }
    }
}
