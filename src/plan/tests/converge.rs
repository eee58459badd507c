//! Converging: keep, create, replace with reasons, orphans, roll-out orders and waves, start
//! order by links and depends_on, interrupted roll-outs.

use super::*;

/// The demo project running as declared, every image present.
fn converged(p: &Project) -> Observed {
    let mut o = Observed::default();
    o.networks.push("demo".into());
    for img in ["demo/base", "demo/db", "demo/web", "demo/dops-dns"] {
        o.images
            .insert(img.into(), "sha256:aaaa1111bbbb2222".into());
    }
    for (name, service, instance) in [
        ("dops-dns-master", "dops-dns", "master"),
        ("db-master", "db", "master"),
        ("web-one", "web", "one"),
        ("web-published", "web", "published"),
    ] {
        o.containers.push(running(name, service, instance));
    }
    up_to_date(p, &mut o);
    o
}

fn steps(p: &Project, o: &Observed, a: &Action) -> Vec<String> {
    summary(p, o, a)
}

#[test]
fn nothing_changed_keeps_everything() {
    let p = project();
    let o = converged(&p);
    assert_eq!(
        steps(&p, &o, &run(Target::All)),
        vec![
            "keep demo-dops-dns-master (up to date)",
            "keep demo-db-master (up to date)",
            "keep demo-web-one (up to date)",
            "keep demo-web-published (up to date)",
        ]
    );
}

#[test]
fn a_changed_env_replaces_with_its_reason_and_secrets_stay_masked() {
    let p = project();
    let o = converged(&p);
    let changed = project_with(
        &RUN_CONF
            .replace(
                r#""links": ["db-master:db"], "group": "front","#,
                r#""links": ["db-master:db"], "group": "front", "env_vars": {"VERSION": "v2"},"#,
            )
            .replace(r#""DB_PASSWORD": "secret""#, r#""DB_PASSWORD": "other""#),
        None,
    );
    let planned = plan(&changed, &o, &run(Target::All), &ctx()).unwrap();
    let texts: Vec<String> = planned.plan.steps.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        texts[1],
        "replace demo-db-master (stop-first): env DB_PASSWORD changed"
    );
    assert_eq!(texts[2], "sleep 2s");
    assert_eq!(
        texts[3],
        "replace demo-web-one (start-first): link DB_SERVICE_IP: demo-db-master gets a new container (and address); env VERSION added"
    );
    // The JSON form carries the reasons as data.
    let json = crate::output::plan_json(&planned);
    let r = &json["steps"][3]["reasons"][1];
    assert_eq!(r["kind"], "env");
    assert_eq!(r["subject"], "VERSION");
    // Neither the reasons nor anything else show a secret.
    assert!(!json["steps"][1]["reasons"].to_string().contains("other"));
    assert!(!json.to_string().contains("c2VjcmV0"), "{json}");
}

#[test]
fn a_rebuilt_image_replaces() {
    let p = project();
    let mut o = converged(&p);
    o.images
        .insert("demo/web".into(), "sha256:cccc3333dddd4444".into());
    let texts = steps(&p, &o, &run(sel("web", Some("one"))));
    assert_eq!(
        texts,
        vec![
            "replace demo-web-one (start-first): image rebuilt (sha256:aaaa1111bbbb… → sha256:cccc3333dddd…)"
        ]
    );
}

#[test]
fn no_recreate_keeps_and_says_what_differs() {
    let p = project();
    let mut o = converged(&p);
    o.images
        .insert("demo/web".into(), "sha256:cccc3333dddd4444".into());
    let mut a = run(sel("web", Some("one")));
    if let Action::Run(r) = &mut a {
        r.recreate = Recreate::Never;
    }
    assert_eq!(
        steps(&p, &o, &a),
        vec!["keep demo-web-one (differs: image rebuilt (sha256:aaaa1111bbbb… → sha256:cccc3333dddd…); --no-recreate keeps it)"]
    );
}

#[test]
fn orphans_are_named_and_removed_only_when_asked() {
    let p = project();
    let mut o = converged(&p);
    o.containers.push(running("web-byhand", "web", "byhand"));
    let planned = plan(&p, &o, &run(Target::All), &ctx()).unwrap();
    assert_eq!(
        planned.warnings,
        vec!["orphan: demo-web-byhand (running) is not declared in run.conf; --orphans removes it"]
    );
    assert!(!planned
        .plan
        .steps
        .iter()
        .any(|s| matches!(s, Step::Remove { .. })));
    let mut a = run(Target::All);
    if let Action::Run(r) = &mut a {
        r.orphans = true;
    }
    let texts = steps(&p, &o, &a);
    assert_eq!(
        texts.last().unwrap(),
        "remove demo-web-byhand (stop timeout 10s)"
    );
    // An instance the plan runs by name is not an orphan of that plan.
    let planned = plan(&p, &o, &run(sel("web", Some("byhand"))), &ctx()).unwrap();
    assert!(planned.warnings.is_empty(), "{:?}", planned.warnings);
}

#[test]
fn start_first_is_refused_where_two_containers_cannot_live() {
    let p = project_with(
        r#"[{"service": "web", "instance": "published", "update_order": "start-first"}]"#,
        None,
    );
    let mut o = Observed::default();
    o.images.insert("demo/web".into(), "sha256:1".into());
    o.containers
        .push(running("web-published", "web", "published"));
    let err = plan(&p, &o, &run(Target::All), &ctx()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "web-published: update_order start-first can't work: it publishes 127.0.0.1:80/tcp (two containers can't)\nhint: use \"update_order\": \"stop-first\" (the default there)"
    );
}

#[test]
fn waves_follow_update_parallelism() {
    let p = project_with(
        r#"[{"service": "web", "instance": "a", "update_parallelism": 2},
            {"service": "web", "instance": "b", "update_parallelism": 2},
            {"service": "web", "instance": "c", "update_parallelism": 2}]"#,
        Some(r#"{"DNS": "off"}"#),
    );
    let mut o = Observed::default();
    o.networks.push("demo".into());
    o.images.insert("demo/web".into(), "sha256:1".into());
    o.images.insert("demo/base".into(), "sha256:1".into());
    for i in ["a", "b", "c"] {
        let mut c = running(&format!("web-{i}"), "web", i);
        c.image_id = "sha256:0".into();
        c.labels.insert(crate::labels::DESIRED.into(), "{}".into());
        o.containers.push(c);
    }
    let waves: Vec<u32> = plan(&p, &o, &run(Target::All), &ctx())
        .unwrap()
        .plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Replace(r) => Some(r.wave),
            _ => None,
        })
        .collect();
    assert_eq!(waves, vec![0, 0, 1]);
}

#[test]
fn links_and_depends_on_order_the_start_and_a_cycle_is_an_error() {
    let p = project_with(
        r#"[{"service": "web", "instance": "one", "links": ["db-late:db"]},
            {"service": "web", "instance": "two", "depends_on": [{"service": "web", "instance": "one", "condition": "up"}]},
            {"service": "db", "instance": "late", "env_vars": {"DB_PASSWORD": "x"}}]"#,
        Some(r#"{"DNS": "off"}"#),
    );
    let texts = steps(&p, &Observed::default(), &run(Target::All));
    let runs: Vec<&String> = texts
        .iter()
        .filter(|t| t.starts_with("run ") || t.starts_with("wait"))
        .collect();
    assert_eq!(
        runs,
        vec![
            "run demo-db-late (demo/db, type standard)",
            "run demo-web-one (demo/web, type standard)",
            "wait until demo-web-one is UP (timeout 120s)",
            "run demo-web-two (demo/web, type standard)",
        ]
    );
    let cyclic = project_with(
        r#"[{"service": "web", "instance": "one", "links": ["web-two:peer"]},
            {"service": "web", "instance": "two", "links": ["web-one:peer"]}]"#,
        Some(r#"{"DNS": "off"}"#),
    );
    let err = plan(&cyclic, &Observed::default(), &run(Target::All), &ctx()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "run.conf: line 1: [0]: these instances wait for each other: web-one -> web-two -> web-one (through links or depends_on)\nhint: drop one link or dependency of the cycle"
    );
}

#[test]
fn an_interrupted_roll_out_is_finished_or_rolled_back() {
    let p = project();
    let mut o = converged(&p);
    // dops stopped after renaming web-one aside, before the new one ran.
    let i = o
        .containers
        .iter()
        .position(|c| c.name == "demo-web-one")
        .unwrap();
    o.containers[i].name = "demo-web-one.old".into();
    let texts = steps(&p, &o, &run(sel("web", Some("one"))));
    assert_eq!(
        texts,
        vec![
            "restore demo-web-one from demo-web-one.old (a roll-out was interrupted): rename demo-web-one.old back",
            "keep demo-web-one (up to date)",
        ]
    );
    // dops stopped after the new one started: finish (wait until UP, then remove the old one).
    o.containers.push(running("web-one", "web", "one"));
    up_to_date(&p, &mut o);
    let texts = steps(&p, &o, &run(sel("web", Some("one"))));
    assert_eq!(
        texts,
        vec!["replace demo-web-one (start-first): a roll-out was interrupted: finish it"]
    );
}

#[test]
fn an_unnamed_entry_keeps_its_instance() {
    let p = project_with(r#"[{"service": "web"}]"#, Some(r#"{"DNS": "off"}"#));
    let first = plan(&p, &Observed::default(), &run(Target::All), &ctx()).unwrap();
    let Some(Step::Run(spec)) = first.plan.steps.iter().find(|s| matches!(s, Step::Run(_))) else {
        panic!()
    };
    assert_eq!(
        spec.labels.get(crate::labels::UNNAMED).map(String::as_str),
        Some("true")
    );
    let mut o = Observed::default();
    o.networks.push("demo".into());
    o.images.insert("demo/web".into(), "sha256:1".into());
    o.images.insert("demo/base".into(), "sha256:1".into());
    let mut c = running(&format!("web-{}", spec.instance), "web", &spec.instance);
    c.labels = spec.labels.clone();
    o.containers.push(c);
    let mut other_seed = ctx();
    other_seed.seed = 99;
    let again = plan(&p, &o, &run(Target::All), &other_seed).unwrap();
    assert!(
        again.plan.steps.iter().all(|s| !matches!(s, Step::Run(_))),
        "{}",
        again.plan
    );
}

#[test]
fn a_new_dns_key_replaces_and_a_plan_without_the_key_keeps() {
    let p = project();
    let o = converged(&p);
    // The project key changed: every instance's key does; said without showing either.
    let rotated = PlanContext {
        dns_key: Some("hmac-sha256:demo:b3RoZXJvdGhlcm90aGVyb3RoZXJvdGhlcm90aGVy".into()),
        ..ctx()
    };
    let planned = plan(&p, &o, &run(sel("web", Some("one"))), &rotated).unwrap();
    let texts: Vec<String> = planned.plan.steps.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        texts,
        vec!["replace demo-web-one (start-first): dns key changed"]
    );
    let json = crate::output::plan_json(&planned);
    assert!(!json.to_string().contains("b3RoZXJv"), "{json}");
    // Without the key loaded (a dry run before the first real run) nothing looks changed.
    let keyless = PlanContext {
        dns_key: None,
        ..ctx()
    };
    assert_eq!(
        steps(&p, &o, &run(sel("web", Some("one")))),
        vec!["keep demo-web-one (up to date)"]
    );
    let planned = plan(&p, &o, &run(sel("web", Some("one"))), &keyless).unwrap();
    assert_eq!(
        planned
            .plan
            .steps
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
        vec!["keep demo-web-one (up to date)"]
    );
}
