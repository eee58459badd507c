//! The supervisor of /dops/init.d programs: restarts, start failures, output, user and env.
mod init_util;
use init_util::*;
use std::time::Duration;

fn count(r: &Root, rel: &str, word: &str) -> usize {
    r.lines(rel).iter().filter(|l| l.as_str() == word).count()
}

#[test]
fn autorestart_rules() {
    let r = Root::new();
    let runs = r.p("runs");
    r.initd(
        "10.json",
        &format!(
            r#"{{"programs": {{
            "always":   {{"command": ["sh", "-c", "echo always >> {runs}; sleep 0.2; exit 0"], "autorestart": true, "startsecs": 0.05}},
            "never":    {{"command": ["sh", "-c", "echo never >> {runs}; sleep 0.2; exit 9"], "autorestart": false, "startsecs": 0.05}},
            "clean":    {{"command": ["sh", "-c", "echo clean >> {runs}; sleep 0.2; exit 0"], "startsecs": 0.05}},
            "crashing": {{"command": ["sh", "-c", "echo crashing >> {runs}; sleep 0.2; exit 5"], "autorestart": "unexpected", "startsecs": 0.05}},
            "expected": {{"command": ["sh", "-c", "echo expected >> {runs}; sleep 0.2; exit 5"], "exitcodes": [0, 5], "startsecs": 0.05}}
        }}}}"#
        ),
    );
    let run = r.spawn(&[]);
    run.wait_state("UP", secs(10.0));
    assert!(eventually(secs(5.0), || count(&r, "runs", "always") >= 3
        && count(&r, "runs", "crashing") >= 3));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(&r, "runs", "never"), 1);
    assert_eq!(
        count(&r, "runs", "clean"),
        1,
        "exit 0 is expected by default"
    );
    assert_eq!(count(&r, "runs", "expected"), 1);
    let s = run.state();
    let prog = |n: &str| {
        s["programs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(prog("never")["state"], "EXITED");
    assert_eq!(prog("never")["last_exit"], 9);
    assert!(prog("always")["restarts"].as_u64().unwrap() >= 2);
    assert_eq!(s["state"], "UP");
}

#[test]
fn a_program_that_never_starts_is_an_error_at_warmup() {
    let r = Root::new();
    r.hook("warmup", "");
    r.initd(
        "10.json",
        r#"{"programs": {"bad": {"command": ["sh", "-c", "echo dying; exit 1"], "startsecs": 0.5, "startretries": 2}}}"#,
    );
    let (st, out, err) = r.run(&[], secs(10.0));
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(
        err.contains("program bad could not be kept running"),
        "{err}"
    );
    assert_eq!(err.matches("while starting; retry").count(), 2, "{err}");
    assert_eq!(
        out.matches("dying").count(),
        3,
        "first try + 2 retries:\n{out}"
    );
    assert!(r.lines("order").is_empty(), "warmup never ran");
    assert_eq!(r.state()["state"], "ERROR");
}

#[test]
fn a_program_going_fatal_when_up_restarts_then_errors() {
    let r = Root::new();
    let flag = r.p("break");
    // Runs fine until the flag file appears; then dies at once on every start.
    r.initd(
        "10.json",
        &format!(
            r#"{{"restart_budget": 1, "programs": {{"app": {{"command": ["sh", "-c", "test -e {flag} && exit 2; sleep 1000"], "startsecs": 0.2, "startretries": 1}}}}}}"#
        ),
    );
    let mut run = r.spawn(&[]);
    run.wait_state("UP", secs(10.0));
    std::fs::write(r.path("break"), "").unwrap();
    let pid = run.state()["programs"][0]["pid"].as_i64().unwrap();
    unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
    let st = run.wait_exit(secs(15.0)).expect("ERROR exit");
    assert_eq!(st.code(), Some(1));
    let states = run.states();
    assert_eq!(&states[4..], &["UP", "RESTARTING", "ERROR"], "{states:?}");
    let e = r.state()["error"].as_str().unwrap().to_string();
    assert!(
        e.contains("restart budget spent") && e.contains("program app"),
        "{e}"
    );
}

#[test]
fn output_is_prefixed_when_there_are_several_programs() {
    let r = Root::new();
    r.initd(
        "10.json",
        r#"{"programs": {
            "a":   {"command": ["sh", "-c", "echo hello; echo oops >&2; sleep 1000"], "startsecs": 0},
            "bbb": {"command": "sh -c 'echo world; sleep 1000'", "startsecs": 0}
        }, "notify": []}"#,
    );
    let run = r.spawn(&[]);
    run.wait_state("UP", secs(10.0));
    assert!(eventually(secs(5.0), || run
        .stdout()
        .contains("bbb | world")
        && run.stdout().contains("a   | hello")
        && run.stderr().contains("a   | oops")));
}

#[test]
fn a_single_program_is_not_prefixed() {
    let r = Root::new();
    r.initd(
        "10.json",
        r#"{"programs": {"only": {"command": ["sh", "-c", "echo plain; sleep 1000"], "startsecs": 0}}, "notify": []}"#,
    );
    let run = r.spawn(&[]);
    run.wait_state("UP", secs(10.0));
    assert!(eventually(secs(5.0), || run.stdout().contains("plain")));
    assert_eq!(run.stdout().trim(), "plain");
}

#[test]
fn env_directory_and_user_are_applied() {
    // SAFETY: getuid has no preconditions.
    assert_eq!(
        unsafe { libc::getuid() },
        0,
        "these tests run as root (switching users)"
    );
    let r = Root::new();
    r.write(
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nsvc:x:4321:4322:svc:/home/svc:/bin/sh\n",
    );
    r.write("etc/group", "root:x:0:\nsvc:x:4322:\nextra:x:4400:svc\n");
    std::fs::create_dir_all(r.path("work")).unwrap();
    let out = r.p("out");
    r.initd(
        "10.json",
        &format!(
            r#"{{"programs": {{"p": {{
                "command": ["sh", "-c", "echo \"$(id -u) $(id -g) $(id -G) $(pwd) $FOO $HOME $USER\" > {out}; sleep 1000"],
                "env": {{"FOO": "bar"}}, "directory": "{}", "user": "svc", "startsecs": 0}}}}}}"#,
            r.p("work")
        ),
    );
    let run = r.spawn(&[]);
    run.wait_state("UP", secs(10.0));
    assert!(eventually(secs(5.0), || r.read("out").contains("svc")));
    assert_eq!(
        r.read("out").trim(),
        format!("4321 4322 4322 4400 {} bar /home/svc svc", r.p("work"))
    );
}

#[test]
fn an_unknown_user_is_a_configuration_error() {
    let r = Root::new();
    r.write("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    r.initd(
        "10.json",
        r#"{"programs": {"p": {"command": "true", "user": "ghost"}}}"#,
    );
    let (st, _, err) = r.run(&[], secs(10.0));
    assert_eq!(st.code(), Some(2));
    assert!(err.contains("unknown user ghost"), "{err}");
}

#[test]
fn declared_programs_take_precedence_over_the_command() {
    let r = Root::new();
    let out = r.p("out");
    r.initd(
        "10.json",
        &format!(r#"{{"programs": {{"p": {{"command": ["sh", "-c", "echo p > {out}; sleep 1000"], "startsecs": 0}}}}}}"#),
    );
    let run = r.spawn(&["sh", "-c", &format!("echo cmd > {out}")]);
    run.wait_state("UP", secs(10.0));
    assert!(eventually(secs(5.0), || r.read("out").trim() == "p"));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(r.read("out").trim(), "p");
    assert!(
        run.stderr_shows("is not run", secs(5.0)),
        "{}",
        run.stderr()
    );
}

/// dops-init runs with its own glibc tunables (no thread caches: its memory per container), set
/// by an exec of itself; what it starts sees the container's environment as it was.
#[test]
fn the_programs_get_the_containers_glibc_tunables_not_dops_inits() {
    for container_value in [None, Some("glibc.malloc.check=0")] {
        let r = Root::new();
        let out = r.p("out");
        r.initd(
            "10.json",
            &format!(
                r#"{{"programs": {{"p": {{"command": ["sh", "-c", "env > {out}.tmp; mv {out}.tmp {out}; sleep 1000"], "startsecs": 0}}}}, "notify": []}}"#
            ),
        );
        let mut c = r.command(&[]);
        match container_value {
            Some(v) => c.env("GLIBC_TUNABLES", v),
            None => c.env_remove("GLIBC_TUNABLES"),
        };
        let run = r.spawn_with(c);
        run.wait_state("UP", secs(10.0));
        assert!(eventually(secs(5.0), || r.read("out").contains("PATH=")));
        let env = r.read("out");
        let tunables: Vec<_> = env.lines().filter(|l| l.contains("TUNABLES")).collect();
        let want: Vec<String> = container_value
            .map(|v| format!("GLIBC_TUNABLES={v}"))
            .into_iter()
            .collect();
        assert_eq!(tunables, want, "{env}");
        // dops-init itself runs tuned: its own environment at exec had the tunables.
        let own = std::fs::read(format!("/proc/{}/environ", run.pid())).unwrap();
        let own = String::from_utf8_lossy(&own);
        assert!(own.contains("tcache_count=0"), "{own}");
    }
}
