//! Plans for a swarm: names instead of addresses, volumes on pinned nodes, refusals.

use super::*;
use crate::observed::ObservedNode;
use crate::project::EngineKind;

const SWARM_CONF: &str = r#"[
  {"service": "db", "instance": "master", "instance_type": "persistent",
   "env_vars": {"DB_PASSWORD": "secret"}},
  {"service": "web", "instance": "one", "links": ["db-master:db"], "group": "front"},
  {"service": "web", "instance": "two", "instance_type": "published"}
]"#;

fn swarm_ctx() -> PlanContext {
    PlanContext {
        engine: EngineKind::Swarm,
        ..ctx()
    }
}

fn node(name: &str, tasks: usize, labels: &[(&str, &str)]) -> ObservedNode {
    ObservedNode {
        id: format!("id-{name}"),
        hostname: name.into(),
        addr: "10.0.0.1".into(),
        role: "worker".into(),
        availability: "active".into(),
        state: "ready".into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        running_tasks: tasks,
    }
}

fn specs(planned: &Planned) -> Vec<&ContainerSpec> {
    planned
        .plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Run(s) => Some(s.as_ref()),
            _ => None,
        })
        .collect()
}

fn env_of<'a>(spec: &'a ContainerSpec, name: &str) -> Option<&'a EnvValue> {
    spec.env.iter().find(|v| v.name == name).map(|v| &v.value)
}

#[test]
fn names_not_addresses_and_no_host_folders() {
    let p = project_with(SWARM_CONF, None);
    let o = Observed {
        nodes: vec![node("n1", 2, &[]), node("n2", 0, &[]), node("n3", 1, &[])],
        ..Default::default()
    };
    let planned = plan(&p, &o, &run(Target::All), &swarm_ctx()).unwrap();
    let all = specs(&planned);
    let web = all.iter().find(|s| s.name == "demo-web-one").unwrap();
    // A link is the target's name (the engine's DNS follows it across nodes).
    assert_eq!(
        env_of(web, "DB_SERVICE_IP"),
        Some(&EnvValue::Literal("db-master".into()))
    );
    assert_eq!(
        env_of(web, "DNS_SERVICE_IP"),
        Some(&EnvValue::Literal("dops-dns-master".into()))
    );
    assert_eq!(
        env_of(web, "HOST_HOSTNAME"),
        Some(&EnvValue::Literal("{{.Node.Hostname}}".into()))
    );
    assert!(web.dns.is_none() && !web.pinned);
    assert!(web.mounts.is_empty(), "no state folder on a swarm");
    // The group is no constraint while no node carries its label.
    assert_eq!(
        web.placement.as_ref().unwrap().constraints,
        Vec::<String>::new()
    );

    // The persistent one: a volume, pinned to the least loaded node, recorded first.
    let db = all.iter().find(|s| s.name == "demo-db-master").unwrap();
    let data = db.mounts.iter().find(|m| m.container == "/data").unwrap();
    assert_eq!(data.volume.as_deref(), Some("demo-db-master-data"));
    assert!(data.seed && db.mounts.iter().all(|m| m.volume.is_some()));
    let placement = db.placement.as_ref().unwrap();
    assert_eq!(placement.node.as_deref(), Some("n2"));
    assert_eq!(
        placement.constraints,
        vec!["node.labels.io.dops.data.demo.db-master==true".to_string()]
    );
    let pin_at = planned
        .plan
        .steps
        .iter()
        .position(|s| matches!(s, Step::Pin { node, .. } if node == "n2"))
        .expect("a pin step");
    let run_at = planned
        .plan
        .steps
        .iter()
        .position(|s| matches!(s, Step::Run(s) if s.name == "demo-db-master"))
        .unwrap();
    assert!(pin_at < run_at);
    // Published ports: host mode on the node, whatever SERVICE_IP would say locally.
    let two = all.iter().find(|s| s.name == "demo-web-two").unwrap();
    assert!(two.ports.iter().all(|p| p.host_ip.is_unspecified()));
    let text = planned.plan.to_string();
    assert!(
        text.contains("volume demo-db-master-data (on its node) -> /data (seed)"),
        "{text}"
    );
    assert!(
        text.contains("placement  node n2 (pinned: its data lives there)"),
        "{text}"
    );
    assert!(
        text.contains("(host mode: every address of its node)"),
        "{text}"
    );
}

#[test]
fn a_pinned_instance_stays_on_its_node_and_groups_constrain() {
    let p = project_with(SWARM_CONF, None);
    let label = crate::plan::placement::pin_label("demo", "db-master");
    let mut down = node("n3", 0, &[(label.as_str(), "true")]);
    down.state = "down".into();
    let o = Observed {
        nodes: vec![
            node("n1", 0, &[("io.dops.group", "front")]),
            node("n2", 0, &[]),
            down,
        ],
        ..Default::default()
    };
    let planned = plan(&p, &o, &run(Target::All), &swarm_ctx()).unwrap();
    assert!(!planned
        .plan
        .steps
        .iter()
        .any(|s| matches!(s, Step::Pin { .. })));
    let all = specs(&planned);
    let db = all.iter().find(|s| s.name == "demo-db-master").unwrap();
    assert_eq!(db.placement.as_ref().unwrap().node.as_deref(), Some("n3"));
    assert!(
        planned
            .warnings
            .iter()
            .any(|w| w.contains("db-master is pinned to node n3 (down, active)")),
        "{:?}",
        planned.warnings
    );
    let web = all.iter().find(|s| s.name == "demo-web-one").unwrap();
    assert_eq!(
        web.placement.as_ref().unwrap().constraints,
        vec!["node.labels.io.dops.group==front".to_string()]
    );
}

#[test]
fn what_a_swarm_cannot_do_is_refused() {
    for (entry, expected) in [
        (
            r#"{"service": "web", "instance": "one", "nethost": true}"#,
            "web-one: on a swarm dops can't honour \"nethost\": true",
        ),
        (
            r#"{"service": "web", "instance": "one", "interactive": true}"#,
            "web-one: on a swarm dops can't honour an interactive instance",
        ),
        (
            r#"{"service": "web", "instance": "one", "extra_args": ["--privileged"]}"#,
            "web-one: on a swarm dops can't honour \"extra_args\"",
        ),
        (
            r#"{"service": "web", "instance": "one", "env_vars": {"PUBLISH_ON_IP": "127.0.0.1"}}"#,
            "web-one: on a swarm dops can't honour PUBLISH_ON_IP (from run.conf)",
        ),
        (
            r#"{"service": "web", "instance": "one", "volumes": ["shared:/shared"]}"#,
            "web-one: on a swarm dops can't honour \"volumes\" binds shared of this machine",
        ),
    ] {
        let p = project_with(&format!("[{entry}]"), None);
        let one = run(sel("web", Some("one")));
        let e = plan(&p, &Observed::default(), &one, &swarm_ctx()).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with(expected), "{text}");
        assert!(text.contains("\nhint: "), "{text}");
        // The same entry is fine on one engine.
        plan(&p, &Observed::default(), &one, &ctx()).unwrap();
    }
}

#[test]
fn no_ready_node_for_persistent_data_is_an_error() {
    let p = project_with(SWARM_CONF, None);
    let mut drained = node("n1", 0, &[]);
    drained.availability = "drain".into();
    let o = Observed {
        nodes: vec![drained],
        ..Default::default()
    };
    let e = plan(&p, &o, &run(Target::All), &swarm_ctx()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "db-master: no ready, active node to keep its data on\nhint: see 'dops nodes'; 'docker node update --availability active NODE'"
    );
}
