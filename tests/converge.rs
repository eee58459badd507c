//! Real-engine tests of converging: what runs is made to match what is declared — kept when it
//! does, replaced (with its reasons) when it drifted, one at a time with a way back; orphans
//! named; an interrupted roll-out finished; instances that come back by themselves.

mod engine_support;
mod support;

use std::time::Duration;

use engine_support::{containers_of, engine_project, inspect};
use support::{docker, eventually, stderr, stdout, SecondEngine, TestProject};

/// A web service: busybox httpd on 8080 serving `/www/index.html` with `page`; a warmup hook
/// that runs `warmup` (shell).
fn web(p: &TestProject, page: &str, warmup: &str) {
    p.write("services/web/www/index.html", &format!("{page}\n"));
    p.write("services/web/warmup", &format!("#!/bin/sh\n{warmup}\n"));
    p.write(
        "services/web/Dockerfile",
        "FROM dops-test/busybox\nCOPY www /www\nCOPY warmup /ww/usr/warmup\nRUN chmod +x /ww/usr/warmup\nCMD [\"httpd\",\"-f\",\"-p\",\"8080\",\"-h\",\"/www\"]\n",
    );
}

fn run_conf(p: &TestProject, version: &str) {
    p.write(
        "run.conf",
        &format!(
            "[{{\"service\": \"web\", \"instance\": \"one\", \"env_vars\": {{\"VERSION\": \"{version}\"}}}}]\n"
        ),
    );
}

/// What the instance serves, fetched from the host at its address. httpd is the instance's main
/// command, UP as soon as it is started, so it may not listen yet: an empty answer is asked again
/// for up to 10 s.
fn page(p: &TestProject, instance: &str) -> String {
    let ip = inspect(
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        &p.container("web", instance),
    );
    let fetch = || {
        let out = std::process::Command::new("curl")
            .args(["-s", "-m", "3", &format!("http://{ip}:8080/")])
            .output()
            .unwrap();
        stdout(&out).trim().to_string()
    };
    let mut body = fetch();
    eventually(Duration::from_secs(10), || {
        body = fetch();
        !body.is_empty()
    });
    body
}

fn id(p: &TestProject, instance: &str) -> String {
    inspect("{{.Id}}", &p.container("web", instance))
}

#[test]
fn an_unchanged_instance_is_kept_and_a_changed_one_replaced_with_its_reason() {
    let p = engine_project("conv-env");
    web(&p, "v1", "true");
    run_conf(&p, "v1");
    p.dops_ok(&["run:all", "--wait", "--timeout", "60"]);
    let first = id(&p, "one");

    // Nothing changed: kept, the same container.
    let out = p.dops_ok(&["run:all"]);
    assert!(stderr(&out).contains("is up to date"), "{}", stderr(&out));
    assert_eq!(id(&p, "one"), first);
    assert!(stdout(&p.dops_ok(&["plan:all"]))
        .contains(&format!("keep {} (up to date)", p.container("web", "one"))));

    // The environment changed: replaced, with that reason, one new container.
    run_conf(&p, "v2");
    let plan = stdout(&p.dops_ok(&["plan:all"]));
    assert!(
        plan.contains(&format!(
            "replace {} (start-first): env VERSION: \"v1\" → \"v2\"",
            p.container("web", "one")
        )),
        "{plan}"
    );
    let out = p.dops_ok(&["run:all"]);
    assert!(stderr(&out).contains("env VERSION"), "{}", stderr(&out));
    assert_ne!(id(&p, "one"), first);
    assert_eq!(containers_of(&p.name), vec![p.container("web", "one")]);
    let env = docker(&[
        "exec",
        &p.container("web", "one"),
        "sh",
        "-c",
        "echo $VERSION",
    ]);
    assert_eq!(stdout(&env).trim(), "v2");
    assert_eq!(
        inspect(
            "{{.HostConfig.RestartPolicy.Name}}",
            &p.container("web", "one")
        ),
        "unless-stopped"
    );
    assert_eq!(
        inspect(
            "{{index .HostConfig.LogConfig.Config \"max-size\"}}",
            &p.container("web", "one")
        ),
        "10m"
    );
}

#[test]
fn a_rebuilt_image_is_rolled_out_and_an_orphan_is_named_then_removed() {
    let p = engine_project("conv-image");
    web(&p, "page one", "true");
    run_conf(&p, "v1");
    p.dops_ok(&["run:all", "--wait", "--timeout", "60"]);
    assert_eq!(page(&p, "one"), "page one");
    let first = id(&p, "one");

    web(&p, "page two", "true");
    p.dops_ok(&["build:web"]);
    let out = p.dops_ok(&["run:all"]);
    assert!(stderr(&out).contains("image rebuilt"), "{}", stderr(&out));
    assert_ne!(id(&p, "one"), first);
    assert_eq!(page(&p, "one"), "page two");

    // An instance run by hand that run.conf does not declare: named, kept, then removed.
    p.dops_ok(&["run:web,instance=byhand", "--wait", "--timeout", "60"]);
    let out = p.dops_ok(&["run:all"]);
    let byhand = p.container("web", "byhand");
    assert!(
        stderr(&out).contains(&format!(
            "orphan: {byhand} (running) is not declared in run.conf"
        )),
        "{}",
        stderr(&out)
    );
    assert!(containers_of(&p.name).contains(&byhand));
    p.dops_ok(&["run:all", "--orphans"]);
    assert_eq!(containers_of(&p.name), vec![p.container("web", "one")]);
}

#[test]
fn a_release_that_fails_its_warmup_is_rolled_back() {
    let p = engine_project("conv-rollback");
    web(&p, "good", "true");
    run_conf(&p, "v1");
    p.dops_ok(&["run:all", "--wait", "--timeout", "60"]);
    let first = id(&p, "one");

    web(
        &p,
        "broken",
        "echo the broken release cannot warm up >&2; exit 3",
    );
    p.dops_ok(&["build:web"]);
    let out = p.dops(&["run:all", "--timeout", "60"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("did not come up: ERROR"), "{err}");
    assert!(err.contains("rolled back"), "{err}");
    assert!(
        err.contains("the broken release cannot warm up"),
        "log tail shown:\n{err}"
    );
    // The old one serves again under its name; nothing is left aside.
    assert_eq!(id(&p, "one"), first);
    assert_eq!(page(&p, "one"), "good");
    assert_eq!(containers_of(&p.name), vec![p.container("web", "one")]);
}

#[test]
fn a_roll_out_interrupted_by_sigkill_is_finished_by_the_next_run() {
    let p = engine_project("conv-kill");
    web(&p, "v1", "true");
    run_conf(&p, "v1");
    p.dops_ok(&["run:all", "--wait", "--timeout", "60"]);
    // The new release takes its time to warm up: dops is waiting when it is killed.
    web(&p, "v2", "sleep 4");
    p.dops_ok(&["build:web"]);
    let mut child = support::dops_command(&p.dir)
        .arg("run:all")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let aside = format!("{}.old", p.container("web", "one"));
    let renamed = eventually(Duration::from_secs(60), || {
        containers_of(&p.name).contains(&aside)
    });
    // SAFETY: kill(2) of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    assert!(
        renamed,
        "the roll-out started: {:?}",
        containers_of(&p.name)
    );

    let plan = stdout(&p.dops_ok(&["plan:all"]));
    assert!(plan.contains("a roll-out was interrupted"), "{plan}");
    p.dops_ok(&["run:all", "--timeout", "60"]);
    assert_eq!(containers_of(&p.name), vec![p.container("web", "one")]);
    assert_eq!(page(&p, "one"), "v2");
}

#[test]
fn an_instance_whose_init_is_killed_comes_back_up_by_itself() {
    let p = engine_project("conv-heal");
    web(&p, "v1", "true");
    run_conf(&p, "v1");
    p.dops_ok(&["run:all", "--wait", "--timeout", "60"]);
    let name = p.container("web", "one");
    let pid = inspect("{{.State.Pid}}", &name);
    // SIGKILL of PID 1 from the host: an unexpected exit, which the restart policy answers.
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let back = eventually(Duration::from_secs(60), || {
        inspect("{{.RestartCount}}", &name) != "0"
            && stdout(&p.dops(&["ps", "--json"])).contains("\"state\": \"UP\"")
    });
    assert!(back, "{}", stdout(&p.dops(&["ps"])));
    assert_eq!(page(&p, "one"), "v1");
}

#[test]
fn after_the_engine_restarts_every_instance_is_up_again_with_its_dns_names_and_data() {
    let engine = SecondEngine::start("restart");
    let p = TestProject::new("conv-restart");
    web(&p, "v1", "true");
    p.write(
        "services/db/Dockerfile",
        "FROM dops-test/busybox\nCMD [\"sleep\",\"100000\"]\n",
    );
    p.write(
        "run.conf",
        r#"[{"service": "web", "instance": "one"}, {"service": "web", "instance": "two"},
            {"service": "db", "instance": "master", "instance_type": "persistent"}]"#,
    );
    let dops = |args: &[&str]| {
        let out = support::dops_command(&p.dir)
            .args(args)
            .env("DOCKER_HOST", engine.host())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "dops {args:?}: {}\n--- dockerd ---\n{}",
            stderr(&out),
            engine.log()
        );
        out
    };
    dops(&["run:all", "--wait", "--timeout", "90"]);
    let docker2 = |args: &[&str]| {
        std::process::Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", engine.host())
            .output()
            .unwrap()
    };
    let db = p.container("db", "master");
    let wrote = docker2(&["exec", &db, "sh", "-c", "echo kept > /data/marker"]);
    assert!(wrote.status.success(), "{wrote:?}");
    let ip_of = |c: &str| {
        stdout(&docker2(&[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            c,
        ]))
        .trim()
        .to_string()
    };
    let dns = ip_of(&p.container("dops-dns", "master"));
    // What the web name resolves to, as the instances' resolver answers it.
    let resolved = |name: &str| {
        let out = engine.in_netns(&[
            "dig",
            "+short",
            "+time=1",
            "+tries=1",
            &format!("@{dns}"),
            name,
        ]);
        let mut v: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
        v.sort();
        v
    };
    let webs = |p: &TestProject| {
        let mut v = vec![
            ip_of(&p.container("web", "one")),
            ip_of(&p.container("web", "two")),
        ];
        v.sort();
        v
    };
    assert!(
        eventually(Duration::from_secs(10), || resolved("web.local.zone")
            == webs(&p)),
        "before: {:?} vs {:?}",
        resolved("web.local.zone"),
        webs(&p)
    );

    engine.restart();

    // Back by themselves: every instance UP, the DNS server at its address, the names registered
    // again (at the instances' addresses, whatever they are now), the data where it was.
    let up = eventually(Duration::from_secs(90), || {
        let ps = stdout(
            &support::dops_command(&p.dir)
                .args(["ps", "--json"])
                .env("DOCKER_HOST", engine.host())
                .output()
                .unwrap(),
        );
        ps.matches("\"state\": \"UP\"").count() == 4
    });
    assert!(up, "not all UP:\n{}", stdout(&dops(&["ps"])));
    assert_eq!(
        ip_of(&p.container("dops-dns", "master")),
        dns,
        "the DNS server kept its address"
    );
    assert!(
        eventually(Duration::from_secs(15), || resolved("web.local.zone")
            == webs(&p)),
        "after: {:?} vs {:?}",
        resolved("web.local.zone"),
        webs(&p)
    );
    assert_eq!(
        std::fs::read_to_string(p.path("data/db-master/data/marker")).unwrap(),
        "kept\n"
    );
    dops(&["clean:all"]);
}
