//! CLI tests: the real `dops` binary on temp project folders (no Docker engine needed: `plan` and
//! `--dry-run` only read the project).

mod support;

use support::{stderr, stdout, TestProject};

const RUN_CONF: &str = r#"# the platform
[
  {"service": "db", "instance": "master", "env_vars": {"DB_PASSWORD": "pw"}, "sleep": 1},
  {"service": "web", "instance": "one", "links": ["db-master:db"]},
  {"service": "web", "instance": "two", "group": "front"}
]
"#;

fn demo(tag: &str) -> TestProject {
    let p = TestProject::new(tag);
    p.write("services/base/Dockerfile", "FROM debian:12\n");
    p.write(
        "services/web/Dockerfile",
        &format!("FROM {}/base\nEXPOSE 80\n", p.name),
    );
    p.write("services/db/Dockerfile", "FROM postgres:16\nEXPOSE 5432\n");
    p.write("services/db/required_env_vars.json", "[\"DB_PASSWORD\"]");
    p.write("run.conf", RUN_CONF);
    p
}

/// Run dops, expect exit code 2 and exactly this error line on stderr.
fn fails_with(p: &TestProject, args: &[&str], expected: &str) {
    let out = p.dops(args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "dops {args:?}: stdout {} stderr {}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        stderr(&out),
        format!("dops: error: {expected}\n"),
        "dops {args:?}"
    );
    assert_eq!(stdout(&out), "", "dops {args:?}");
}

#[test]
fn both_spellings_print_the_same_plan() {
    let p = demo("spell");
    let pairs: [(&[&str], &[&str]); 5] = [
        (&["plan:all"], &["plan", "all"]),
        (
            &["plan:web,instance=two"],
            &["plan", "web", "--instance", "two"],
        ),
        (&["plan:all"], &["run:all,dry_run=True"]),
        (&["run:all,dry_run=yes"], &["run", "all", "--dry-run"]),
        (
            &["plan:db,instance=master,persistent_data=False,publish_ports=no"],
            &[
                "plan",
                "db",
                "--instance",
                "master",
                "--persistent-data=false",
                "--publish-ports=NO",
            ],
        ),
    ];
    for (a, b) in pairs {
        let (oa, ob) = (p.dops_ok(a), p.dops_ok(b));
        assert_eq!(stdout(&oa), stdout(&ob), "{a:?} vs {b:?}");
        assert!(!stdout(&oa).is_empty());
    }
}

#[test]
fn plan_all_shows_dns_first_builds_and_instances() {
    let p = demo("all");
    let out = stdout(&p.dops_ok(&["plan:all"]));
    let n = &p.name;
    // the numbered step lines ("10. run ..."), without their details
    let steps: Vec<String> = out
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .filter_map(|l| l.split_once(". ").map(|(_, s)| s.to_string()))
        .collect();
    let dir = p.dir.canonicalize().unwrap();
    let d = dir.display();
    assert_eq!(
        steps,
        vec![
            format!("create network {n}"),
            format!("build {n}/base from {d}/services/base"),
            format!("build {n}/db from {d}/services/db"),
            format!("build {n}/dops-dns (built-in)"),
            format!("build {n}/web from {d}/services/web after base"),
            format!("run {n}-dops-dns-master ({n}/dops-dns, type master)"),
            format!("run {n}-db-master ({n}/db, type master)"),
            "sleep 1s".to_string(),
            format!("run {n}-web-one ({n}/web, type standard)"),
            format!("run {n}-web-two ({n}/web, type standard)"),
        ],
        "{out}"
    );
    assert!(out.contains(&format!("DB_SERVICE_IP=<ip of {n}-db-master>")));
    assert!(out.contains(&format!("{d}/data/db-master/data -> /data (seed)")));
    assert!(out.contains("127.0.0.1:5432 -> 5432/tcp"));
}

#[test]
fn plan_json_is_parseable() {
    let p = demo("json");
    let out = p.dops_ok(&["--json", "plan:web,instance=two"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(v["project"], p.name.as_str());
    let steps = v["steps"].as_array().unwrap();
    let run = steps
        .iter()
        .find(|s| s["step"] == "run" && s["service"] == "web")
        .unwrap();
    assert_eq!(run["name"], format!("{}-web-two", p.name));
    let env = run["env"].as_array().unwrap();
    let dns = env.iter().find(|e| e["name"] == "DNS_SERVICE_IP").unwrap();
    assert_eq!(dns["value"]["kind"], "ip_of");
    assert_eq!(dns["origin"], "dns");
    assert!(v["warnings"].is_array());
}

#[test]
fn dns_keys_are_files_and_never_shown() {
    let p = demo("key");
    p.write(
        ".dops/dns.key",
        "hmac-sha256:dops:U0VDUkVUU0VDUkVUU0VDUkVU\n",
    );
    let text = stdout(&p.dops_ok(&["plan:all"]));
    assert!(
        !text.contains("DNS_KEY="),
        "no key in the environment: {text}"
    );
    assert!(text.contains("DNS_KEY_FILE=/run/dops/dns.key"), "{text}");
    let d = p.dir.display();
    assert!(
        text.contains(&format!(
            "dns key    {d}/.dops/run/web-one/dns.key -> /run/dops/dns.key (key web.one.append.dops: its own names only, mode 0400)"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "dns key    {d}/.dops/run/dops-dns-master/dns.key -> /run/dops/dns.key (key dops: the project key, mode 0400)"
        )),
        "{text}"
    );
    assert!(!text.contains("U0VDUkVU"));
    let json = stdout(&p.dops_ok(&["plan:all", "--json"]));
    assert!(!json.contains("U0VDUkVU"));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let key = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "run" && s["hostname"] == "web-one")
        .map(|s| s["dns_key"].clone())
        .unwrap();
    assert_eq!(
        key,
        serde_json::json!({
            "host": format!("{d}/.dops/run/web-one/dns.key"),
            "container": "/run/dops/dns.key",
            "key_name": "web.one.append.dops",
            "scope": "instance"
        })
    );
}

#[test]
fn an_unusable_dns_update_policy_is_a_located_error() {
    support::Test::new("policy")
        .write("services/web/Dockerfile", "FROM scratch\n")
        .write(".dops/dns.key", "hmac-sha256:dops:U0VDUkVUU0VDUkVUU0VDUkVU\n")
        .write(
            "run.conf",
            r#"[{"service": "web", "instance": "one", "env_vars": {"DNS_UPDATE_POLICY": "SOMETIMES"}}]"#,
        )
        .args(&["plan:web,instance=one"])
        .stderr("dops: error: web-one: DNS_UPDATE_POLICY \"SOMETIMES\" (run.conf) is not APPEND, REPLACE or HIDE\n")
        .status(2)
        .run();
}

#[test]
fn conf_option_picks_another_run_conf() {
    let p = demo("conf");
    p.write(
        "prod.conf",
        r#"[{"service": "web", "instance": "prod", "linked": false}]"#,
    );
    let out = stdout(&p.dops_ok(&["plan:all", "--conf", "prod"]));
    assert!(out.contains(&format!("run {}-web-prod", p.name)), "{out}");
    assert!(!out.contains("web-one"));
    let out2 = stdout(&p.dops_ok(&["plan:all,conf=prod.conf"]));
    assert_eq!(out, out2);
}

#[test]
fn project_option() {
    let p = demo("projopt");
    let elsewhere = tempfile::tempdir().unwrap();
    let out = support::dops_in(
        elsewhere.path(),
        &["--project", p.dir.to_str().unwrap(), "plan:all"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with(&format!("plan for project {}:", p.name)));
}

#[test]
fn help_and_version_exit_zero() {
    let p = demo("help");
    let out = p.dops_ok(&["--help"]);
    assert!(stdout(&out).contains("Usage: dops"));
    let out = p.dops_ok(&["run", "--help"]);
    assert!(stdout(&out).contains("--persistent-data"));
}

#[test]
fn bad_command_lines() {
    let p = demo("badcli");
    fails_with(
        &p,
        &["rnu:all"],
        "unknown command 'rnu' (did you mean 'run'?)",
    );
    fails_with(
        &p,
        &["plan:web,instanec=one"],
        "unknown key 'instanec' for 'plan' (did you mean 'instance'?)",
    );
    fails_with(
        &p,
        &["plan", "web", "--instanec", "one"],
        "unknown option '--instanec' for 'plan' (did you mean '--instance'?)",
    );
    fails_with(
        &p,
        &["plan:web,persistent_data=maybe"],
        "invalid value 'maybe' for 'persistent_data': expected one of True/False, yes/no, 1/0",
    );
    fails_with(
        &p,
        &["plan"],
        "missing target for 'plan' (e.g. 'dops plan:all' or 'dops plan <service>')",
    );
    fails_with(&p, &["plan:web,instance_type=mastr"], "invalid value 'mastr' for 'instance_type': expected one of standard, published, persistent, master, debug (did you mean 'master'?)");
    fails_with(
        &p,
        &["plan:wbe"],
        "nothing in run.conf or services/ matches 'wbe' (did you mean 'web'?)",
    );
    fails_with(
        &p,
        &["ssh:all"],
        "'shell' needs one service, not 'all' (e.g. 'dops shell:web,instance=one')",
    );
    fails_with(
        &p,
        &["dns:serv"],
        "unknown command 'dns:serv' (did you mean 'dns:serve'?)",
    );
    // install_demo never overwrites a project's own files without --force.
    fails_with(
        &p,
        &["install_demo"],
        &format!(
            "{} already has 2 file(s) of the demo with other content: run.conf, services/web/Dockerfile\n  hint: use --force to overwrite them, or choose another folder (dops install_demo DIR)",
            p.dir.display()
        ),
    );
    fails_with(&p, &[], "missing command (try 'dops --help')");
}

#[test]
fn bad_run_confs() {
    let p = demo("badconf");
    p.write(
        "run.conf",
        "[\n  {\"service\": \"web\",\n   \"instance_type\": \"mastr\"}\n]\n",
    );
    fails_with(&p, &["plan:all"], "run.conf: line 3, col 21: [0].instance_type: expected one of standard, published, persistent, master, debug, found \"mastr\" (did you mean \"master\"?)");
    p.write(
        "run.conf",
        "[{\"service\": \"web\", \"instanec\": \"one\"}]",
    );
    fails_with(
        &p,
        &["plan:all"],
        "run.conf: line 1, col 21: [0].instanec: unknown key (did you mean \"instance\"?)",
    );
    p.write(
        "run.conf",
        "# comment\n[{\"service\": \"web\"} {\"service\": \"db\"}]",
    );
    fails_with(
        &p,
        &["plan:all"],
        "run.conf: line 2, col 21: expected ',' or ']', found '{'",
    );
    p.write("run.conf", "[{\"service\": \"wbe\"}]");
    fails_with(
        &p,
        &["plan:all"],
        "run.conf: line 1, col 14: [0].service: unknown service \"wbe\" (did you mean \"web\"?)",
    );
    p.write("run.conf", "[{\"service\": \"db\", \"instance\": \"one\"}]");
    fails_with(&p, &["plan:all"], "db-one: required variable DB_PASSWORD is not set (required by services/db/required_env_vars.json; set it in run.conf env_vars, host.conf or the host environment)");
    p.write(
        "run.conf",
        "[{\"service\": \"web\", \"instance\": \"one\", \"links\": [\"db-*:db\"]}]",
    );
    fails_with(&p, &["plan:all"], "web-one: link db-*:db: no instance matches, running or planned (run it first, or set \"linked\": false)");
    p.write(
        "run.conf",
        "[{\"service\": \"web\", \"instance\": \"debug\"}]",
    );
    fails_with(&p, &["plan:all"], "run:all does not start interactive instances: web-debug is interactive (type debug); run it alone with 'dops run:web,instance=debug' or give it \"autorun\": false");
    p.write("run.conf", "[]");
    p.write("host.conf", "{\"DNS\": \"sometimes\"}");
    fails_with(
        &p,
        &["plan:all"],
        "host.conf: line 1, col 9: DNS: expected \"on\" or \"off\", found \"sometimes\"",
    );
}

#[test]
fn bad_projects() {
    let p = demo("badproj");
    let dir = p.dir.canonicalize().unwrap();
    fails_with(
        &p,
        &["plan:all", "--conf", "prod"],
        &format!(
            "no run conf 'prod.conf' in {} (available: run.conf)",
            dir.display()
        ),
    );
    let n = &p.name;
    p.write("services/base/Dockerfile", &format!("FROM {n}/web\n"));
    fails_with(
        &p,
        &["plan:all"],
        "build cycle: base -> web -> base (each service is built FROM the next one)",
    );
    p.write("services/base/Dockerfile", "FROM debian\n");
    p.write(
        "services/web/Dockerfile",
        &format!("FROM debian AS x\nFROM {n}/nope\n"),
    );
    fails_with(&p, &["plan:all"], &format!("services/web/Dockerfile: line 2: FROM {n}/nope: no service 'nope' in services/ (chain: web -> nope)"));
    let empty = TestProject::new("empty");
    let edir = empty.dir.canonicalize().unwrap();
    fails_with(&empty, &["plan:all"], &format!("{} is not a dops project: it has no services/ folder and no run.conf (use --project DIR, or 'dops install_demo' for an example)", edir.display()));
}

/// `dops events` and `dops ui` watch one engine and this machine's state files: a swarm is
/// refused before any engine is asked, whether `--engine` or host.conf says so.
#[test]
fn events_and_ui_refuse_a_swarm() {
    let p = demo("live-swarm");
    let why = |verb: &str| {
        format!("dops {verb} is not available on a swarm: it follows one engine's containers and the state files dops-init writes on this machine, and a swarm's tasks run on other nodes\nhint: on a swarm, 'dops ps' shows each instance's state and node and 'dops logs' its output; 'docker service ps' on a manager shows the tasks' history")
    };
    fails_with(&p, &["--engine", "swarm", "events"], &why("events"));
    fails_with(&p, &["--engine", "swarm", "ui", "--read-only"], &why("ui"));
    p.write(
        "host.conf",
        "{\"ENGINE\": \"swarm\", \"REGISTRY\": \"registry.example:5000\"}\n",
    );
    fails_with(&p, &["events:web", "--since", "5m"], &why("events"));
    fails_with(&p, &["ui"], &why("ui"));
}

#[test]
fn clean_dry_run_with_nothing_running() {
    let p = demo("clean");
    let out = p.dops_ok(&["clean:all,dry_run=True,purge=True"]);
    assert_eq!(
        stdout(&out),
        format!("plan for project {}: nothing to do\n", p.name)
    );
    let out = p.dops_ok(&["build", "all", "--dry-run", "--no-cache"]);
    assert!(stdout(&out).contains("[no cache]"));
}

#[test]
fn warnings_go_to_stderr_and_the_plan_still_prints() {
    let p = demo("warn");
    p.write(
        "run.conf",
        r#"[{"service": "web", "instance": "a", "publish_ports": true},
            {"service": "web", "instance": "b", "publish_ports": true, "links": ["web-*:peer"]}]"#,
    );
    p.write(
        ".dops/dns.key",
        "hmac-sha256:dops:U0VDUkVUU0VDUkVUU0VDUkVU\n",
    );
    let out = p.dops_ok(&["plan:all"]);
    assert_eq!(
        stderr(&out),
        "dops: warning: web-b and web-a both publish 127.0.0.1:80/tcp; the second will fail to start (set \"publish_ports\": false on one, or another host port with PUBLISH_PORT_80)\n"
    );
    assert!(stdout(&out).contains("PEER_SERVICE_IP=<ip of"));
    // in JSON the warnings are part of the document
    let out = p.dops_ok(&["plan:all", "--json"]);
    assert_eq!(stderr(&out), "");
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1);
}
