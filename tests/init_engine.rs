//! dops-init in a real container under dops: a service FROM dops-test/busybox that declares two
//! programs and whaleware hooks, built (dops-init injected) and run by the real `dops`, reaches UP
//! (`dops ps` shows it, Docker's HEALTHCHECK says healthy); `docker stop` gives STOPPED and a
//! clean exit well before Docker's kill timeout.
mod support;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};
use support::{docker, TestProject};

fn script(dir: &std::path::Path, rel: &str, body: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn out(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn two_programs_and_hooks_reach_up_and_docker_stop_is_clean() {
    let p = TestProject::new("initengine");
    let ctx = p.path("services/app");
    std::fs::create_dir_all(&ctx).unwrap();
    for h in ["boot", "firstboot", "upgrade", "svcup", "warmup", "svcdown"] {
        script(
            &ctx,
            &format!("ww/usr/{h}"),
            &format!("echo {h} >> /run/dops/order"),
        );
    }
    script(&ctx, "ww/usr/monitor", "echo '{\"ok\": true}'");
    p.write(
        "services/app/ww/etc/defaults.json",
        r#"{"greeting": "hello", "port": 80}"#,
    );
    p.write(
        "services/app/dops/init.d/10-base.json",
        r#"{"monitor_interval_s": 1, "programs": {
            "web": {"command": ["sh", "-c", "trap 'echo web-term >> /run/dops/order; exit 0' TERM; while :; do sleep 1; done"], "priority": 20, "startsecs": 0.2},
            "worker": {"command": "sh -c 'echo worker says $(/ww/cfg greeting); trap \"echo worker-term >> /run/dops/order; exit 0\" TERM; while :; do sleep 1; done'", "priority": 10, "startsecs": 0.2}
        }}"#,
    );
    // No init in the Dockerfile: dops injects it.
    p.write(
        "services/app/Dockerfile",
        "FROM dops-test/busybox\nCOPY ww /ww\nCOPY dops /dops\n",
    );
    p.write("host.conf", "{\"DNS\": false}\n");
    p.write(
        "run.conf",
        r#"[{"service": "app", "instance": "one", "cfg": {"greeting": "bonjour"}}]"#,
    );
    p.dops_ok(&["build:app"]);
    p.dops_ok(&["run:all", "--wait", "--timeout", "30"]);
    let run_dir = p.path(".dops/run/app-one");
    let name = p.container("app", "one");

    // The lifecycle, read from the host through the bind-mounted /run/dops.
    let state = || -> Value {
        std::fs::read_to_string(run_dir.join("state.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    };
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until
        && !(state()["state"] == "UP" && state()["last_stats"]["ok"] == true)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let s = state();
    let logs = || out(&docker(&["logs", &name]));
    assert_eq!(s["state"], "UP", "{s}\nlogs:\n{}", logs());
    assert_eq!(s["last_stats"]["ok"], true, "{s}");
    assert_eq!(s["pid"], 1, "dops-init is PID 1");
    let progs = s["programs"].as_array().unwrap();
    assert_eq!(progs.len(), 2);
    assert!(progs.iter().all(|p| p["state"] == "RUNNING"), "{s}");

    // Inside: status, cfg through /ww/cfg, health.
    let st = docker(&["exec", &name, "/dops/bin/dops-init", "status"]);
    assert!(out(&st).starts_with("UP since"), "{}", out(&st));
    let cfg = docker(&["exec", &name, "/ww/cfg", "greeting"]);
    assert_eq!(out(&cfg).trim(), "bonjour");
    let until = Instant::now() + Duration::from_secs(20);
    let health = || {
        out(&docker(&[
            "inspect",
            "-f",
            "{{.State.Health.Status}}",
            &name,
        ]))
        .trim()
        .to_string()
    };
    while Instant::now() < until && health() != "healthy" {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(health(), "healthy");
    let l = logs();
    assert!(
        l.contains("worker | worker says bonjour"),
        "prefixed output:\n{l}"
    );
    // dops ps shows the lifecycle, read from the host.
    let ps: Value = serde_json::from_slice(&p.dops_ok(&["--json", "ps"]).stdout).unwrap();
    let row = &ps.as_array().expect("ps --json is a list")[0];
    assert_eq!(row["state"], "UP", "{ps}");

    // docker stop (10 s before SIGKILL): STOPPED, reverse priority, exit 0, quickly.
    let t = Instant::now();
    let stop = docker(&["stop", &name]);
    let took = t.elapsed();
    assert!(stop.status.success(), "{}", out(&stop));
    eprintln!("docker stop took {took:?}");
    assert!(took < Duration::from_secs(5), "docker stop took {took:?}");
    let code = out(&docker(&["inspect", "-f", "{{.State.ExitCode}}", &name]));
    assert_eq!(code.trim(), "0");
    assert_eq!(state()["state"], "STOPPED");
    let order: Vec<String> = std::fs::read_to_string(run_dir.join("order"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        order,
        vec![
            "boot",
            "firstboot",
            "upgrade",
            "svcup",
            "warmup",
            "svcdown",
            "web-term",
            "worker-term"
        ]
    );
    let l = logs();
    assert!(l.contains("\"state\":\"STOPPED\""), "{l}");
}
