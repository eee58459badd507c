//! dops-init lifecycle tests: the real binary in a temporary root, no Docker.
mod init_util;
use init_util::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn all_hooks(r: &Root) {
    for h in ["boot", "firstboot", "upgrade", "svcup", "warmup", "svcdown"] {
        r.hook(h, "");
    }
    let states = r.p("states");
    r.script("ww/usr/lifecycle", &format!("echo \"$1\" >> {states}"));
}

#[test]
fn hook_order_on_first_and_second_boot() {
    let r = Root::new();
    all_hooks(&r);
    let order = r.p("order");
    // Not executable: run with /bin/sh. Name order: 10 before 20.
    r.write(
        "entrypoints/20-child.sh",
        &format!("echo ep20 >> {order}\n"),
    );
    r.script("entrypoints/10-parent.sh", &format!("echo ep10 >> {order}"));
    r.write(
        "entrypoints/30-ignored.txt",
        &format!("echo nope >> {order}\n"),
    );

    let run = r.spawn(&[]);
    run.wait_state("UP", secs(10.0));
    run.signal(libc::SIGTERM);
    let mut run = run;
    let st = run.wait_exit(secs(10.0)).expect("exit after SIGTERM");
    assert_eq!(st.code(), Some(0), "stderr:\n{}", run.stderr());
    assert_eq!(
        r.lines("order"),
        vec![
            "ep10",
            "ep20",
            "boot",
            "firstboot",
            "upgrade",
            "svcup",
            "warmup",
            "svcdown"
        ]
    );
    assert_eq!(
        r.lines("states"),
        vec!["BOOT", "FIRSTBOOT", "UPGRADING", "WARMUP", "UP", "STOPPED"]
    );
    assert_eq!(
        run.states(),
        vec!["BOOT", "FIRSTBOOT", "UPGRADING", "WARMUP", "UP", "STOPPED"]
    );
    assert!(r.path("data/.dops-initialized").exists());
    assert_eq!(r.state()["state"], "STOPPED");

    // Second boot on the same /data: no FIRSTBOOT.
    std::fs::remove_file(r.path("order")).unwrap();
    std::fs::remove_file(r.path("states")).unwrap();
    let run = r.spawn(&[]);
    run.wait_state("UP", secs(10.0));
    run.signal(libc::SIGINT);
    let mut run = run;
    assert_eq!(run.wait_exit(secs(10.0)).unwrap().code(), Some(0));
    assert_eq!(
        r.lines("order"),
        vec!["ep10", "ep20", "boot", "upgrade", "svcup", "warmup", "svcdown"]
    );
    assert_eq!(
        r.lines("states"),
        vec!["BOOT", "UPGRADING", "WARMUP", "UP", "STOPPED"]
    );
}

/// `/entrypoints` by image ancestry (issue 14): the parent image's entry point first, whatever
/// the names, as `/dops/meta` records them; one image's own in name order.
#[test]
fn entrypoints_run_parents_first_by_the_metadata_chain() {
    let r = Root::new();
    all_hooks(&r);
    let order = r.p("order");
    for name in ["entrypoint-app.sh", "entrypoint-base.sh", "a-app.sh"] {
        r.script(
            &format!("entrypoints/{name}"),
            &format!("echo {name} >> {order}"),
        );
    }
    let meta = |level: u32, service: &str, entrypoints: &[&str]| {
        serde_json::json!({
            "schema": 1, "level": level, "project": "p", "service": service,
            "image": format!("p/{service}"), "tags": [], "build_time": "2026-01-01T00:00:00Z",
            "build_time_epoch": 0, "build_host": "h", "git": null, "cause": "manual",
            "ci": false, "dops_version": "0.1.0", "base_image": null, "methods": {},
            "entrypoints": entrypoints,
        })
        .to_string()
    };
    r.write(
        "dops/meta/00-p-base.json",
        &meta(0, "base", &["entrypoint-base.sh"]),
    );
    r.write(
        "dops/meta/01-p-app.json",
        &meta(
            1,
            "app",
            &["a-app.sh", "entrypoint-app.sh", "entrypoint-base.sh"],
        ),
    );
    let run = r.spawn(&[]);
    run.wait_state("UP", secs(10.0));
    run.signal(libc::SIGTERM);
    let mut run = run;
    assert_eq!(run.wait_exit(secs(10.0)).unwrap().code(), Some(0));
    assert_eq!(
        r.lines("order")[..3],
        ["entrypoint-base.sh", "a-app.sh", "entrypoint-app.sh"]
    );
}

#[test]
fn safemode_skips_the_entrypoints() {
    let r = Root::new();
    r.hook("boot", "");
    r.script(
        "entrypoints/10-a.sh",
        &format!("echo ep >> {}", r.p("order")),
    );
    let mut c = r.command(&["true"]);
    c.env("SAFEMODE", "True");
    let mut run = r.spawn_with(c);
    let st = run.wait_exit(secs(10.0)).unwrap();
    assert_eq!(st.code(), Some(0));
    assert_eq!(r.lines("order"), vec!["boot"]);
    assert!(run.stderr().contains("SAFEMODE"), "{}", run.stderr());
}

#[test]
fn a_failing_hook_is_an_error_with_its_output() {
    for failing in ["boot", "firstboot", "upgrade", "warmup"] {
        let r = Root::new();
        all_hooks(&r);
        r.hook(failing, "echo \"kaboom in $0\" >&2\nexit 3");
        let (st, out, err) = r.run(&["sleep", "100"], secs(10.0));
        assert_eq!(st.code(), Some(1), "{failing}: stderr:\n{err}");
        assert!(
            err.contains(&format!("hook {failing} failed (exit code 3)")) && err.contains("kaboom"),
            "{failing}: stderr:\n{err}"
        );
        let states = lifecycle_states(&out);
        assert_eq!(states.last().map(String::as_str), Some("ERROR"), "{out}");
        let s = r.state();
        assert_eq!(s["state"], "ERROR");
        assert!(s["error"].as_str().unwrap().contains("kaboom"), "{s}");
        let order = r.lines("order");
        assert_eq!(
            order.last().map(String::as_str),
            Some(if failing == "warmup" {
                "svcdown"
            } else {
                failing
            }),
            "{failing}: {order:?}"
        );
        // health says no
        let h = r.command(&["health"]).output().unwrap();
        assert_eq!(h.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&h.stdout).starts_with("ERROR"));
    }
}

#[test]
fn an_entrypoint_failure_stops_the_start() {
    let r = Root::new();
    r.hook("boot", "");
    r.script("entrypoints/10-a.sh", "echo bad entrypoint; exit 4");
    let (st, _out, err) = r.run(&["true"], secs(10.0));
    assert_eq!(st.code(), Some(1));
    assert!(
        err.contains("hook entrypoint 10-a.sh failed (exit code 4)"),
        "{err}"
    );
    assert!(err.contains("bad entrypoint"), "{err}");
    assert!(r.lines("order").is_empty(), "boot must not run");
}

#[test]
fn monitor_failure_restarts_with_backoff_then_error() {
    let r = Root::new();
    let times = r.p("times");
    for h in ["svcup", "svcdown", "warmup"] {
        r.script(
            &format!("ww/usr/{h}"),
            &format!("echo \"{h} $(date +%s.%N)\" >> {times}"),
        );
    }
    r.script("ww/usr/monitor", "echo '{\"broken\":true}'; exit 1");
    r.initd(
        "10.json",
        r#"{"restart_budget": 3, "restart_backoff_s": 0.2, "monitor_interval_s": 0.05}"#,
    );
    let mut c = r.command(&[]);
    c.env_remove("DOPS_INIT_BACKOFF_BASE")
        .env_remove("DOPS_INIT_MONITOR_INTERVAL");
    let start = Instant::now();
    let mut run = r.spawn_with(c);
    let st = run.wait_exit(secs(20.0)).expect("ERROR exit");
    let took = start.elapsed();
    assert_eq!(st.code(), Some(1), "stderr:\n{}", run.stderr());
    assert_eq!(
        run.states(),
        vec![
            "BOOT",
            "FIRSTBOOT",
            "UPGRADING",
            "WARMUP",
            "UP",
            "RESTARTING",
            "UP",
            "RESTARTING",
            "UP",
            "RESTARTING",
            "UP",
            "ERROR"
        ]
    );
    let s = r.state();
    assert_eq!(s["state"], "ERROR");
    assert_eq!(s["restarts"], 3);
    assert!(
        s["error"]
            .as_str()
            .unwrap()
            .contains("restart budget spent"),
        "{s}"
    );
    let t: Vec<(String, f64)> = r
        .lines("times")
        .iter()
        .map(|l| {
            let (h, t) = l.split_once(' ').unwrap();
            (h.to_string(), t.parse().unwrap())
        })
        .collect();
    let names: Vec<&str> = t.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "svcup", "warmup", "svcdown", "svcup", "svcdown", "svcup", "svcdown", "svcup",
            "svcdown"
        ],
        "warmup runs once; each restart is svcdown then svcup; ERROR ends with svcdown"
    );
    // Exponential backoff between svcdown and svcup: 0.2, 0.4, 0.8 s (linear would be 0.6).
    for (k, expected) in [(2usize, 0.2f64), (4, 0.4), (6, 0.8)] {
        let gap = t[k + 1].1 - t[k].1;
        assert!(
            gap >= expected && gap < expected + 1.5,
            "backoff {} was {gap}, expected {expected}",
            k / 2
        );
    }
    assert!(took < secs(15.0), "{took:?}");
}

#[test]
fn monitor_stats_go_to_pushstats_state_and_sinks() {
    let r = Root::new();
    r.script("ww/usr/monitor", "echo '{\"queries\": 42}'");
    r.script(
        "ww/usr/pushstats",
        &format!("echo \"$1\" >> {}", r.p("pushed")),
    );
    let events = r.p("events.jsonl");
    r.initd(
        "10.json",
        &format!(r#"{{"notify": ["stdout", "file:{events}"]}}"#),
    );
    let run = r.spawn(&[]);
    assert!(
        run.wait_for(secs(10.0), |v| v["last_stats"] == json!({"queries": 42})),
        "{}",
        run.state()
    );
    assert!(run.state()["last_stats_at"].is_string());
    // The pushstats hook is started after the state file is written, and takes its time.
    assert!(eventually(secs(5.0), || !r.lines("pushed").is_empty()));
    let pushed = r.lines("pushed");
    assert_eq!(
        serde_json::from_str::<Value>(&pushed[0]).unwrap(),
        json!({"queries": 42})
    );
    let ev: Vec<Value> = r
        .lines("events.jsonl")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(ev
        .iter()
        .any(|e| e["event"] == "lifecycle" && e["state"] == "UP"));
    assert!(ev
        .iter()
        .any(|e| e["event"] == "stats" && e["stats"] == json!({"queries": 42})));
    // Stdout is read by another thread, which may lag behind the file sink.
    assert!(eventually(secs(5.0), || run
        .stdout()
        .lines()
        .any(|l| l.contains("\"event\":\"stats\""))));
}

#[test]
fn the_monitor_method_runs_when_there_is_no_monitor_hook() {
    let r = Root::new();
    r.initd(
        "10.json",
        r#"{"methods": {"monitor": "echo '{\"via\": \"method\"}'"}}"#,
    );
    let run = r.spawn(&[]);
    assert!(
        run.wait_for(secs(10.0), |v| v["last_stats"] == json!({"via": "method"})),
        "{}",
        run.state()
    );
}

#[test]
fn the_monitor_hook_wins_over_the_monitor_method() {
    let r = Root::new();
    r.script("ww/usr/monitor", "echo '{\"via\": \"hook\"}'");
    r.initd(
        "10.json",
        r#"{"methods": {"monitor": "echo '{\"via\": \"method\"}'"}}"#,
    );
    let run = r.spawn(&[]);
    assert!(
        run.wait_for(secs(10.0), |v| v["last_stats"] == json!({"via": "hook"})),
        "{}",
        run.state()
    );
}

#[test]
fn status_and_health_follow_the_lifecycle() {
    let r = Root::new();
    // WARMUP lasts until the test lets it end, so that health is asked during it however slow
    // the machine.
    let go = r.p("warmup-may-end");
    r.hook(
        "warmup",
        &format!("for i in $(seq 1 300); do [ -e {go} ] && break; sleep 0.1; done"),
    );
    let run = r.spawn(&[]);
    run.wait_state("WARMUP", secs(10.0));
    let h = r.command(&["health"]).output().unwrap();
    assert_eq!(h.status.code(), Some(1));
    std::fs::write(&go, "").unwrap();
    run.wait_state("UP", secs(10.0));
    let h = r.command(&["health"]).output().unwrap();
    assert_eq!(h.status.code(), Some(0));
    let s = r.command(&["status", "--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&s.stdout).unwrap();
    assert_eq!(v["state"], "UP");
    assert_eq!(v["pid"], run.pid());
    for key in [
        "since",
        "since_epoch",
        "restarts",
        "maintenance",
        "last_stats",
        "last_stats_at",
        "error",
        "dns",
    ] {
        assert!(v.get(key).is_some(), "state.json lacks {key}: {v}");
    }
    let s = r.command(&["status"]).output().unwrap();
    assert!(String::from_utf8_lossy(&s.stdout).starts_with("UP since "));
}

#[test]
fn config_is_merged_written_and_queryable() {
    let r = Root::new();
    r.write(
        "ww/etc/defaults.json",
        r#"{"memory": 200, "db": {"host": "localhost", "port": 5432}, "peers": ["a", "b"], "gone": 1}"#,
    );
    let mut c = r.command(&["true"]);
    c.env(
        "CFG",
        r#"{"db": {"port": 6543}, "peers": ["z"], "gone": null}"#,
    );
    let mut run = r.spawn_with(c);
    assert_eq!(run.wait_exit(secs(10.0)).unwrap().code(), Some(0));
    let cfg: Value = serde_json::from_str(&r.read("ww/etc/cfg.json")).unwrap();
    assert_eq!(
        cfg,
        json!({"memory": 200, "db": {"host": "localhost", "port": 6543}, "peers": ["z"]})
    );
    let get = |k: &str| {
        let o = r.command(&["cfg", k]).output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).trim().to_string(),
        )
    };
    assert_eq!(get("db.port"), (Some(0), "6543".into()));
    assert_eq!(get("db.host"), (Some(0), "localhost".into()));
    assert_eq!(get("peers.0"), (Some(0), "z".into()));
    assert_eq!(get("nope").0, Some(1));
    // /ww/cfg is a link to dops-init, usable like whaleware's script.
    let link = r.path("ww/cfg");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let o = std::process::Command::new(&link)
        .arg("memory")
        .env("DOPS_INIT_ROOT", r.tmp.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "200");
}

#[test]
fn invalid_cfg_is_an_error_with_the_position() {
    let r = Root::new();
    r.hook("boot", "");
    let mut c = r.command(&["true"]);
    c.env("CFG", "{\"a\": 1,\n \"b\": }");
    let mut run = r.spawn_with(c);
    let st = run.wait_exit(secs(10.0)).unwrap();
    assert_eq!(st.code(), Some(2));
    let err = run.stderr();
    assert!(
        err.contains("invalid JSON in CFG at line 2, column 7"),
        "{err}"
    );
    assert_eq!(r.state()["state"], "ERROR");
    assert!(r.lines("order").is_empty(), "boot must not run");
}

#[test]
fn invalid_initd_is_a_configuration_error() {
    let r = Root::new();
    r.initd(
        "10.json",
        r#"{"programs": {"a": {"command": "x", "stopsignal": "BOGUS"}}}"#,
    );
    let (st, _out, err) = r.run(&[], secs(10.0));
    assert_eq!(st.code(), Some(2));
    assert!(err.contains("program a") && err.contains("BOGUS"), "{err}");
    assert_eq!(r.state()["state"], "ERROR");
}

#[test]
fn exit_codes_propagate() {
    let r = Root::new();
    let (st, out, _) = r.run(&["sh", "-c", "echo from-the-command; exit 7"], secs(10.0));
    assert_eq!(st.code(), Some(7));
    assert!(out.contains("from-the-command"));
    let (st, _, _) = r.run(&["sh", "-c", "kill -KILL $$"], secs(10.0));
    assert_eq!(st.code(), Some(137));
    let (st, _, err) = r.run(&["/no/such/program"], secs(10.0));
    assert_eq!(st.code(), Some(127), "{err}");
    let (st, _, _) = r.run(&["--", "true"], secs(10.0));
    assert_eq!(st.code(), Some(0));
    assert_eq!(r.state()["state"], "STOPPED");
}

#[test]
fn notifications_reach_exec_and_http_sinks() {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { break };
            c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head, then Content-Length bytes.
            loop {
                let n = c.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(i) = text.find("\r\n\r\n") {
                    let len: usize = text
                        .lines()
                        .find_map(|h| h.strip_prefix("Content-Length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buf.len() >= i + 4 + len {
                        g.lock().unwrap().push(text[i + 4..].to_string());
                        break;
                    }
                }
            }
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let r = Root::new();
    let ex = r.p("exec.jsonl");
    r.initd(
        "10.json",
        &format!(
            r#"{{"notify": ["http://{addr}/events", "exec:cat >> {ex}; echo \"$DOPS_EVENT\" >> {ex}.env", "https://example.invalid/x"]}}"#
        ),
    );
    let run = r.spawn(&[]);
    run.wait_state("UP", secs(10.0));
    let until = Instant::now() + secs(5.0);
    while Instant::now() < until
        && !(got.lock().unwrap().iter().any(|b| b.contains("\"UP\""))
            && r.read("exec.jsonl.env").contains("\"UP\""))
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let bodies = got.lock().unwrap().clone();
    let states: Vec<String> = bodies
        .iter()
        .map(|b| {
            serde_json::from_str::<Value>(b).unwrap()["state"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        states,
        vec!["BOOT", "FIRSTBOOT", "UPGRADING", "WARMUP", "UP"]
    );
    assert_eq!(
        lifecycle_states(&r.read("exec.jsonl")),
        vec!["BOOT", "FIRSTBOOT", "UPGRADING", "WARMUP", "UP"]
    );
    assert!(r.read("exec.jsonl.env").contains("\"UP\""));
    assert!(
        run.stderr_shows("https is not supported", secs(5.0)),
        "{}",
        run.stderr()
    );
    // No stdout sink configured: stdout has no lifecycle lines.
    assert!(run.states().is_empty());
}

#[test]
fn interactive_runs_entrypoints_then_execs() {
    let r = Root::new();
    r.hook("boot", "");
    r.script(
        "entrypoints/10-a.sh",
        &format!("echo ep >> {}", r.p("order")),
    );
    let mut c = r.command(&["sh", "-c", "echo interactive $$"]);
    c.env("INTERACTIVE", "True");
    let mut run = r.spawn_with(c);
    let pid = run.pid();
    assert_eq!(run.wait_exit(secs(10.0)).unwrap().code(), Some(0));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(r.lines("order"), vec!["ep"], "no lifecycle hooks");
    assert_eq!(
        run.stdout().trim(),
        format!("interactive {pid}"),
        "exec, same pid"
    );
    assert!(!r.path("run/dops/state.json").exists());
}
