//! `run`, `rerun` and `plan:…` of run: which steps, in which order, with which settings.

use super::*;

#[test]
fn against_a_running_platform_only_changes_show() {
    let p = project();
    let mut o = Observed::default();
    o.networks.push("demo".into());
    for img in ["demo/base", "demo/db", "demo/web", "demo/dops-dns:latest"] {
        o.images.insert(img.into(), "sha256:x".into());
    }
    o.containers
        .push(running("dops-dns-master", "dops-dns", "master"));
    o.containers.push(running("db-master", "db", "master"));
    let mut stopped = running("web-one", "web", "one");
    stopped.state = "exited".into();
    o.containers.push(stopped);
    up_to_date(&p, &mut o);
    assert_eq!(
        summary(&p, &o, &run(Target::All)),
        vec![
            "keep demo-dops-dns-master (up to date)",
            "keep demo-db-master (up to date)",
            "remove demo-web-one (stop timeout 10s)",
            "run demo-web-one (demo/web, type standard)",
            "run demo-web-published (demo/web, type published)",
        ]
    );
}

#[test]
fn rerun_replaces_what_runs() {
    let p = project();
    let mut o = Observed::default();
    o.networks.push("demo".into());
    for img in ["demo/base", "demo/db", "demo/web", "demo/dops-dns"] {
        o.images.insert(img.into(), "sha256:x".into());
    }
    o.containers
        .push(running("dops-dns-master", "dops-dns", "master"));
    o.containers.push(running("db-master", "db", "master"));
    o.containers.push(running("web-one", "web", "one"));
    up_to_date(&p, &mut o);
    let rerun = Action::Rerun(RunAction {
        target: sel("web", Some("one")),
        overrides: Overrides::default(),
        recreate: Recreate::Always,
        orphans: false,
        rollback: true,
        wait: false,
        timeout_s: None,
        dry_run: false,
    });
    assert_eq!(
        summary(&p, &o, &rerun),
        vec!["replace demo-web-one (start-first): replaced on request (rerun, --force-recreate)"]
    );
    let Step::Replace(r) = &plan(&p, &o, &rerun, &ctx()).unwrap().plan.steps[0] else {
        panic!()
    };
    assert_eq!(r.reasons[0].kind, "forced");
    assert_eq!(r.aside, "demo-web-one.old");
    // The new container gets its own run folder: the old one still writes its state.
    assert!(r
        .spec
        .mounts
        .iter()
        .any(|m| m.host.ends_with(".dops/run/web-one.1")));
    // without --replace, and nothing changed: nothing to do but say so
    assert_eq!(
        summary(&p, &o, &run(sel("web", Some("one")))),
        vec!["keep demo-web-one (up to date)"]
    );
}

#[test]
fn run_all_refuses_interactive_instances() {
    let p = project_with(r#"[{"service": "web", "instance": "debug"}]"#, None);
    assert_eq!(
            plan(&p, &Observed::default(), &run(Target::All), &ctx()).unwrap_err().to_string(),
            "run:all does not start interactive instances: web-debug is interactive (type debug); run it alone with 'dops run:web,instance=debug' or give it \"autorun\": false"
        );
    // named alone it is fine
    let planned = plan(
        &p,
        &Observed::default(),
        &run(sel("web", Some("debug"))),
        &ctx(),
    )
    .unwrap();
    let spec = planned.plan.steps.iter().find_map(|s| match s {
        Step::Run(spec) if spec.service == "web" => Some(spec),
        _ => None,
    });
    assert!(spec.unwrap().interactive && spec.unwrap().safemode);
}

#[test]
fn autorun_false_runs_when_named() {
    let p = project();
    let steps = summary(&p, &Observed::default(), &run(sel("tool", Some("debug"))));
    assert!(
        steps.contains(&"run demo-tool-debug (demo/tool, type debug)".to_string()),
        "{steps:?}"
    );
}

#[test]
fn dns_off_means_no_dns_anywhere() {
    let p = project_with(RUN_CONF, Some(r#"{"DNS": "off"}"#));
    let planned = plan(&p, &Observed::default(), &run(Target::All), &ctx()).unwrap();
    for s in &planned.plan.steps {
        assert!(!s.to_string().contains("dops-dns"), "{s}");
        if let Step::Run(spec) = s {
            assert!(spec.dns.is_none());
            assert!(!spec
                .env
                .iter()
                .any(|v| v.name.starts_with("DNS_") && v.name != "DNS_UPDATE_POLICY"));
        }
    }
}

#[test]
fn a_projects_own_dops_dns_entry_keeps_working() {
    let p = project_with(
        r#"[{"service": "web", "instance": "one"},
                {"service": "dops-dns", "instance": "master", "env_vars": {"SERVICE_IP": "from_eth0"}, "sleep": 1}]"#,
        Some(r#"{"DNS_ZONE": "corp.zone"}"#),
    );
    let planned = plan(&p, &Observed::default(), &run(Target::All), &ctx()).unwrap();
    let runs: Vec<&ContainerSpec> = planned
        .plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Run(spec) => Some(spec.as_ref()),
            _ => None,
        })
        .collect();
    assert_eq!(runs[0].name, "demo-dops-dns-master");
    // the entry's own settings: master type, so published and persistent
    assert!(runs[0].mounts.iter().any(|m| m.container == "/data"));
    assert_eq!(runs[1].name, "demo-web-one");
    assert_eq!(
        runs[1].dns,
        Some(DnsSettings {
            server: EnvValue::IpOf("demo-dops-dns-master".into()),
            zone: "corp.zone".into()
        })
    );
    assert!(planned
        .plan
        .steps
        .iter()
        .any(|s| matches!(s, Step::Sleep { seconds } if *seconds == 1.0)));
}

#[test]
fn random_instance_name_when_none() {
    let p = project_with(r#"[]"#, None);
    let planned = plan(&p, &Observed::default(), &run(sel("web", None)), &ctx()).unwrap();
    let spec = planned
        .plan
        .steps
        .iter()
        .find_map(|s| match s {
            Step::Run(spec) if spec.service == "web" => Some(spec),
            _ => None,
        })
        .unwrap();
    assert_eq!(spec.instance, random_name(7, 1));
    assert_eq!(spec.instance_type, "standard");
}

#[test]
fn wildcard_and_group_targets() {
    let p = project();
    let mut o = Observed::default();
    o.containers.push(running("db-master", "db", "master"));
    let names = |t: Target| -> Vec<String> {
        plan(&p, &o, &run(t), &ctx())
            .unwrap()
            .plan
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Run(spec) if spec.service != DNS_SERVICE => Some(spec.hostname.clone()),
                Step::Keep { container, .. } => {
                    Some(container.trim_start_matches("demo-").to_string())
                }
                Step::Replace(r) => Some(r.container.trim_start_matches("demo-").to_string()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(names(sel("w*", None)), vec!["web-one", "web-published"]);
    assert_eq!(names(sel("web", Some("p*"))), vec!["web-published"]);
    assert_eq!(names(sel("*", Some("master"))), vec!["db-master"]);
    assert_eq!(
        names(Target::Group {
            name: "front".into()
        }),
        vec!["web-one", "web-published"]
    );
    assert_eq!(
        plan(&p, &Observed::default(), &run(sel("wbe", None)), &ctx())
            .unwrap_err()
            .to_string(),
        "nothing in run.conf or services/ matches 'wbe' (did you mean 'web'?)"
    );
}

#[test]
fn cli_overrides_win_in_the_plan() {
    let p = project();
    let a = Action::Run(RunAction {
        target: sel("db", Some("master")),
        overrides: Overrides {
            props: crate::project::props::Overrides {
                persistent_data: Some(false),
                publish_ports: Some(false),
                persistent_opt: Some(true),
                ..Default::default()
            },
            ..Default::default()
        },
        recreate: Recreate::Changed,
        orphans: false,
        rollback: true,
        wait: false,
        timeout_s: None,
        dry_run: true,
    });
    let planned = plan(&p, &Observed::default(), &a, &ctx()).unwrap();
    let spec = planned
        .plan
        .steps
        .iter()
        .find_map(|s| match s {
            Step::Run(spec) if spec.service == "db" => Some(spec),
            _ => None,
        })
        .unwrap();
    let mounts: Vec<&str> = spec.mounts.iter().map(|m| m.container.as_str()).collect();
    assert_eq!(mounts, vec!["/run/dops", "/opt", "/var/log"]);
    assert!(spec.ports.is_empty());
}

#[test]
fn link_to_several_warns_and_takes_the_first() {
    let p = project_with(
        r#"[{"service": "db", "instance": "a", "env_vars": {"DB_PASSWORD": "x"}},
                {"service": "db", "instance": "b", "env_vars": {"DB_PASSWORD": "x"}},
                {"service": "web", "instance": "one", "links": [{"name": "db", "service": "db", "instance": null}]}]"#,
        None,
    );
    let planned = plan(&p, &Observed::default(), &run(Target::All), &ctx()).unwrap();
    assert_eq!(
        planned.warnings,
        vec!["web-one: link db (any instance of db) matches 2 instances; using demo-db-a"]
    );
    // a link to something neither planned nor running is an error
    let planned = plan(
        &p,
        &Observed::default(),
        &run(sel("web", Some("one"))),
        &ctx(),
    );
    assert_eq!(
            planned.unwrap_err().to_string(),
            "web-one: link db (any instance of db): no instance matches, running or planned (run it first, or set \"linked\": false)"
        );
    // ...unless it runs
    let mut o = Observed::default();
    o.containers.push(running("db-b", "db", "b"));
    let planned = plan(&p, &o, &run(sel("web", Some("one"))), &ctx()).unwrap();
    assert!(planned.warnings.is_empty());
    // linked=False skips links
    let a = Action::Run(RunAction {
        target: sel("web", Some("one")),
        overrides: Overrides {
            props: crate::project::props::Overrides {
                linked: Some(false),
                ..Default::default()
            },
            ..Default::default()
        },
        recreate: Recreate::Changed,
        orphans: false,
        rollback: true,
        wait: false,
        timeout_s: None,
        dry_run: false,
    });
    assert!(plan(&p, &Observed::default(), &a, &ctx()).is_ok());
}

#[test]
fn the_same_host_port_twice_is_a_warning() {
    let p = project_with(
        r#"[{"service": "web", "instance": "a", "publish_ports": true},
                {"service": "web", "instance": "b", "publish_ports": true}]"#,
        None,
    );
    let planned = plan(&p, &Observed::default(), &run(Target::All), &ctx()).unwrap();
    assert_eq!(
            planned.warnings,
            vec![
                "web-b and web-a both publish 127.0.0.1:80/tcp; the second will fail to start (set \"publish_ports\": false on one, or another host port with PUBLISH_PORT_80)",
                "web-b and web-a both publish 127.0.0.1:8443/tcp; the second will fail to start (set \"publish_ports\": false on one, or another host port with PUBLISH_PORT_443)",
            ]
        );
}

#[test]
fn nethost_has_no_network_and_no_dns() {
    let p = project_with(
        r#"[{"service": "web", "instance": "one", "nethost": true}]"#,
        Some(r#"{"DNS": "off"}"#),
    );
    let planned = plan(&p, &Observed::default(), &run(Target::All), &ctx()).unwrap();
    assert!(!planned
        .plan
        .steps
        .iter()
        .any(|s| matches!(s, Step::EnsureNetwork { .. })));
    let Some(Step::Run(spec)) = planned.plan.steps.last() else {
        panic!()
    };
    assert_eq!(spec.network, None);
    assert!(spec.nethost);
}

#[test]
fn missing_required_env_is_a_plan_error() {
    let p = project_with(r#"[{"service": "db", "instance": "one"}]"#, None);
    assert_eq!(
            plan(&p, &Observed::default(), &run(Target::All), &ctx()).unwrap_err().to_string(),
            "db-one: required variable DB_PASSWORD is not set (required by services/db/required_env_vars.json; set it in run.conf env_vars, host.conf or the host environment)"
        );
    let mut c = ctx();
    c.host.env.insert("DB_PASSWORD".into(), "from-host".into());
    assert!(plan(&p, &Observed::default(), &run(Target::All), &c).is_ok());
}

#[test]
fn data_dir_and_service_ip_for_ports() {
    let p = project_with(
        r#"[{"service": "web", "instance": "master", "env_vars": {"SERVICE_IP": "10.0.0.5"}}]"#,
        Some(r#"{"DATA_DIR": "/srv/data"}"#),
    );
    let planned = plan(&p, &Observed::default(), &run(Target::All), &ctx()).unwrap();
    let Some(Step::Run(spec)) = planned.plan.steps.last() else {
        panic!()
    };
    assert_eq!(
        spec.mounts[1].host,
        PathBuf::from("/srv/data/web-master/data")
    );
    assert!(spec.mounts[1].seed);
    assert_eq!(spec.ports[0].host_ip.to_string(), "10.0.0.5");
}
