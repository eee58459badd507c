//! Helpers shared by the real-engine tests (`tests/engine_*.rs`).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use dops::engine::ApplyContext;
use dops::labels;
use dops::plan::{BuildStep, ContainerSpec};
use dops::project::env::{EnvOrigin, EnvValue, EnvVar};
use dops::project::policies::{default_log_opts, RestartPolicy};

/// A fresh test project for the real engine with a host.conf without the DNS service (the
/// `dops` it runs injects the test init: see `support::dops_command`).
pub fn engine_project(tag: &str) -> crate::support::TestProject {
    let p = crate::support::TestProject::new(tag);
    p.write("host.conf", NO_DNS);
    p
}

/// A free TCP port on 127.0.0.1 (bound then released; good enough for a test's published port).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A free UDP port on 127.0.0.1.
pub fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}

/// `docker inspect --format FORMAT WHAT`, trimmed ("" when it does not exist).
pub fn inspect(format: &str, what: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["inspect", "--format", format, what])
        .output()
        .expect("docker inspect");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Names of the project's containers (any state), sorted.
pub fn containers_of(project: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=io.dops.project={project}"),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .expect("docker ps");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// A project without the dops DNS (these tests are about the engine, not the DNS).
pub const NO_DNS: &str = "{\"DNS\": false}\n";

/// The labels every object of the test project carries.
pub fn project_labels(p: &crate::support::TestProject) -> BTreeMap<String, String> {
    BTreeMap::from([(labels::PROJECT.to_string(), p.name.clone())])
}

/// The step that builds `<project>/<service>` from `services/<service>`, after `parents`.
pub fn build_step(p: &crate::support::TestProject, service: &str, parents: &[&str]) -> BuildStep {
    let mut l = project_labels(p);
    l.insert(labels::SERVICE.into(), service.into());
    BuildStep {
        service: service.into(),
        image: format!("{}/{}", p.name, service),
        context: p.path(&format!("services/{service}")),
        parents: parents.iter().map(|s| s.to_string()).collect(),
        no_cache: false,
        labels: l,
        builtin: false,
    }
}

/// An environment variable with a literal value, of fixed origin.
pub fn fixed_env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: EnvValue::Literal(value.into()),
        origin: EnvOrigin::Fixed,
    }
}

/// A standard instance `<project>-<service>-<instance>` of the project image, on the project
/// network, with `env` and nothing else (no mounts, no ports).
pub fn standard_instance_spec(
    p: &crate::support::TestProject,
    service: &str,
    instance: &str,
    env: Vec<EnvVar>,
) -> ContainerSpec {
    let mut l = project_labels(p);
    l.insert(labels::SERVICE.into(), service.into());
    l.insert(labels::INSTANCE.into(), instance.into());
    l.insert(labels::INSTANCE_TYPE.into(), "standard".into());
    ContainerSpec {
        name: format!("{}-{}-{}", p.name, service, instance),
        hostname: format!("{service}-{instance}"),
        image: format!("{}/{}", p.name, service),
        service: service.into(),
        instance: instance.into(),
        instance_type: "standard".into(),
        env,
        mounts: vec![],
        ports: vec![],
        labels: l,
        network: Some(p.name.clone()),
        nethost: false,
        interactive: false,
        safemode: false,
        dns: None,
        extra_args: Default::default(),
        restart: RestartPolicy::No,
        log_opts: default_log_opts(),
        after: vec![],
        pinned: false,
        placement: None,
    }
}

/// An apply context for `dir` that says nothing and injects the test init.
pub fn quiet_apply_context(dir: &Path) -> ApplyContext {
    let mut ctx = ApplyContext::new(dir);
    ctx.build.init_bin = Some(crate::support::test_init());
    ctx
}
