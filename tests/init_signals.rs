//! dops-init as PID 1 (a subreaper here): signals, graceful stops, restarts, reaping.
mod init_util;
use init_util::*;
use std::time::{Duration, Instant};

/// A program that logs its start (once its SIGTERM trap is set) and its stop signal, and takes
/// `linger` seconds to stop.
fn logging_program(r: &Root, name: &str, linger: &str) -> String {
    let log = r.p("events");
    let script = format!(
        "trap 'echo \"term {name}\" >> {log}; sleep {linger}; exit 0' TERM\necho \"start {name} $$\" >> {log}\nwhile :; do sleep 0.05; done"
    );
    r.script(&format!("bin/{name}"), &script);
    r.p(&format!("bin/{name}"))
}

#[test]
fn sigterm_during_warmup_stops_cleanly() {
    let r = Root::new();
    r.hook("svcup", "");
    r.hook("svcdown", "");
    r.hook("warmup", "sleep 30");
    let prog = logging_program(&r, "app", "0");
    r.initd(
        "10.json",
        &format!(r#"{{"programs": {{"app": {{"command": ["{prog}"], "startsecs": 0, "stopwaitsecs": 2}}}}}}"#),
    );
    let mut run = r.spawn(&[]);
    run.wait_state("WARMUP", secs(10.0));
    assert!(
        run.wait_for(secs(5.0), |_| r.read("order").contains("warmup")
            && r.read("events").contains("start app"))
    );
    let t = Instant::now();
    run.signal(libc::SIGTERM);
    let st = run.wait_exit(secs(10.0)).expect("exit");
    let took = t.elapsed();
    assert_eq!(st.code(), Some(0), "stderr:\n{}", run.stderr());
    assert!(took < secs(3.0), "took {took:?}");
    assert_eq!(
        run.states(),
        vec!["BOOT", "FIRSTBOOT", "UPGRADING", "WARMUP", "STOPPED"]
    );
    assert_eq!(r.lines("order"), vec!["svcup", "warmup", "svcdown"]);
    assert!(
        r.read("events").contains("term app"),
        "{}",
        r.read("events")
    );
    assert_eq!(r.state()["state"], "STOPPED");
}

#[test]
fn sigterm_during_boot_never_waits_for_up() {
    let r = Root::new();
    r.hook("boot", "sleep 30");
    r.hook("svcdown", "");
    let mut run = r.spawn(&["sleep", "100"]);
    run.wait_state("BOOT", secs(10.0));
    // The boot hook has begun (its SIGTERM would otherwise come before it wrote its line).
    assert!(run.wait_for(secs(5.0), |_| r.read("order").contains("boot")));
    let t = Instant::now();
    run.signal(libc::SIGTERM);
    let st = run.wait_exit(secs(10.0)).expect("exit");
    assert!(t.elapsed() < secs(2.5), "{:?}", t.elapsed());
    assert_eq!(st.code(), Some(0));
    // Nothing was started, so no svcdown either.
    assert_eq!(r.lines("order"), vec!["boot"]);
}

#[test]
fn sigterm_during_up_stops_in_reverse_priority_within_grace() {
    let r = Root::new();
    r.hook("svcdown", "");
    let db = logging_program(&r, "db", "0.3");
    let web = logging_program(&r, "web", "0.3");
    // `stubborn` ignores SIGTERM: killed after its 0.5 s grace.
    let log = r.p("events");
    r.script(
        "bin/stubborn",
        &format!("trap 'echo \"term stubborn\" >> {log}' TERM\necho \"start stubborn $$\" >> {log}\nwhile :; do sleep 0.05; done"),
    );
    let stubborn = r.p("bin/stubborn");
    r.initd(
        "10-base.json",
        &format!(
            r#"{{"programs": {{"db": {{"command": "{db}", "priority": 10, "startsecs": 0.1}}}}}}"#
        ),
    );
    r.initd(
        "50-app.json",
        &format!(
            r#"{{"programs": {{"web": {{"command": "{web}", "priority": 20, "startsecs": 0.1}},
                "stubborn": {{"command": "{stubborn}", "priority": 30, "startsecs": 0.1, "stopwaitsecs": 0.5}}}}}}"#
        ),
    );
    let mut run = r.spawn(&[]);
    run.wait_state("UP", secs(10.0));
    assert!(run.wait_for(secs(5.0), |_| r.lines("events").len() == 3));
    // Spawned in priority order (they start concurrently, so compare the pids, not the log).
    let mut starts: Vec<(i64, String)> = r
        .lines("events")
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[2].parse().unwrap(), f[1].to_string())
        })
        .collect();
    starts.sort();
    let names: Vec<&str> = starts.iter().map(|s| s.1.as_str()).collect();
    assert_eq!(
        names,
        vec!["db", "web", "stubborn"],
        "start in priority order"
    );
    let t = Instant::now();
    run.signal(libc::SIGTERM);
    let st = run.wait_exit(secs(10.0)).expect("exit");
    let took = t.elapsed();
    assert_eq!(st.code(), Some(0), "stderr:\n{}", run.stderr());
    let terms: Vec<String> = r
        .lines("events")
        .iter()
        .filter(|l| l.starts_with("term"))
        .cloned()
        .collect();
    assert_eq!(terms, vec!["term stubborn", "term web", "term db"]);
    // 0.5 (stubborn's grace) + 0.3 (web) + 0.3 (db), plus scheduling.
    assert!(took >= secs(1.0) && took < secs(4.0), "took {took:?}");
    assert!(
        run.stderr()
            .contains("program stubborn did not stop within"),
        "{}",
        run.stderr()
    );
    assert_eq!(r.lines("order"), vec!["svcdown"]);
    let s = r.state();
    assert_eq!(s["state"], "STOPPED");
    assert!(
        s["programs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["state"] == "STOPPED"),
        "{s}"
    );
}

#[test]
fn sighup_restarts_the_programs_without_warmup() {
    let r = Root::new();
    r.hook("warmup", "");
    r.hook("svcup", "");
    r.hook("svcdown", "");
    let app = logging_program(&r, "app", "0");
    r.initd(
        "10.json",
        &format!(r#"{{"programs": {{"app": {{"command": "{app}", "startsecs": 0.1}}}}}}"#),
    );
    let mut run = r.spawn(&[]);
    run.wait_state("UP", secs(10.0));
    assert!(run.wait_for(secs(5.0), |_| r.read("events").contains("start app")));
    let pid1 = run.state()["programs"][0]["pid"].as_i64().unwrap();
    run.signal(libc::SIGHUP);
    assert!(run.wait_for(secs(10.0), |v| v["state"] == "UP" && v["restarts"] == 1));
    let pid2 = run.state()["programs"][0]["pid"].as_i64().unwrap();
    assert!(run.wait_for(secs(5.0), |_| r.lines("events").len() == 3));
    assert_ne!(pid1, pid2);
    assert_eq!(
        r.lines("order"),
        vec!["svcup", "warmup", "svcdown", "svcup"]
    );
    // Stdout is read by another thread, which may lag behind the state file.
    assert!(
        eventually(secs(5.0), || run.states().ends_with(&[
            "UP".to_string(),
            "RESTARTING".to_string(),
            "UP".to_string()
        ])),
        "{:?}",
        run.states()
    );
    let ev = r.lines("events");
    assert_eq!(ev[0], format!("start app {pid1}"));
    assert_eq!(ev[1], "term app");
    assert_eq!(ev[2], format!("start app {pid2}"));
    run.signal(libc::SIGTERM);
    assert_eq!(run.wait_exit(secs(10.0)).unwrap().code(), Some(0));
}

#[test]
fn sigusr1_toggles_maintenance_and_other_signals_are_forwarded() {
    let r = Root::new();
    let log = r.p("events");
    r.script(
        "bin/app",
        &format!("trap 'echo usr2 >> {log}' USR2\nwhile :; do sleep 0.05; done"),
    );
    let app = r.p("bin/app");
    r.initd(
        "10.json",
        &format!(r#"{{"programs": {{"app": {{"command": "{app}", "startsecs": 0}}}}}}"#),
    );
    let run = r.spawn(&[]);
    run.wait_state("UP", secs(10.0));
    run.signal(libc::SIGUSR1);
    assert!(run.wait_for(secs(5.0), |v| v["maintenance"] == true));
    assert_eq!(run.state()["state"], "UP", "maintenance keeps running");
    assert_eq!(
        r.command(&["health"]).output().unwrap().status.code(),
        Some(0)
    );
    assert!(
        String::from_utf8_lossy(&r.command(&["status"]).output().unwrap().stdout)
            .contains("maintenance")
    );
    run.signal(libc::SIGUSR1);
    assert!(run.wait_for(secs(5.0), |v| v["maintenance"] == false));
    assert!(run.stdout().contains("\"event\":\"maintenance\""));
    run.signal(libc::SIGUSR2);
    let until = Instant::now() + secs(5.0);
    while Instant::now() < until && !r.read("events").contains("usr2") {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        r.read("events").contains("usr2"),
        "USR2 forwarded to the program"
    );
}

#[test]
fn orphans_are_reaped() {
    let r = Root::new();
    // Double-forks: the grandchildren are orphaned and become children of dops-init.
    let pids = r.p("orphans");
    r.script(
        "bin/daemonize",
        &format!("for i in 1 2 3 4 5; do (sh -c \"echo \\$\\$ >> {pids}; exec sleep 3\" &); done\nexec sleep 1000"),
    );
    let d = r.p("bin/daemonize");
    r.initd(
        "10.json",
        &format!(r#"{{"programs": {{"d": {{"command": "{d}", "startsecs": 0}}}}}}"#),
    );
    let run = r.spawn(&[]);
    run.wait_state("UP", secs(10.0));
    let init = run.pid();
    // The orphans show up as our children (each lives 3 s, long enough to be seen together on a
    // loaded machine)...
    assert!(
        eventually(secs(10.0), || r.lines("orphans").len() == 5),
        "orphans started: {:?}",
        r.lines("orphans")
    );
    let orphan_pids: Vec<i32> = r
        .lines("orphans")
        .iter()
        .map(|l| l.parse().unwrap())
        .collect();
    let reparented = |p: &i32| children_of(init).iter().any(|c| c.0 == *p);
    assert!(
        eventually(secs(10.0), || orphan_pids.iter().all(reparented)),
        "orphans reparented to dops-init: {:?}",
        children_of(init)
    );
    // ...and once they end, none is left a zombie: a reaped process leaves /proc, a zombie does not.
    let gone = |p: &i32| !std::path::Path::new(&format!("/proc/{p}")).exists();
    assert!(
        eventually(secs(15.0), || orphan_pids.iter().all(gone)),
        "orphans left: {:?}, children of dops-init: {:?}",
        orphan_pids.iter().filter(|p| !gone(p)).collect::<Vec<_>>(),
        children_of(init)
    );
    let kids = children_of(init);
    assert!(kids.iter().all(|c| c.1 != 'Z'), "zombies: {kids:?}");
    // The program itself is still there.
    assert!(
        kids.iter().any(|c| c.2 == "sleep" && c.1 != 'Z'),
        "{kids:?}"
    );
}

#[test]
fn a_second_sigterm_kills_at_once() {
    let r = Root::new();
    r.script(
        "bin/slow",
        &format!(
            "trap 'sleep 20' TERM\ntouch {}\nwhile :; do sleep 0.05; done",
            r.p("ready")
        ),
    );
    let slow = r.p("bin/slow");
    r.initd(
        "10.json",
        &format!(r#"{{"programs": {{"slow": {{"command": "{slow}", "startsecs": 0, "stopwaitsecs": 30}}}}}}"#),
    );
    let mut run = r.spawn(&[]);
    run.wait_state("UP", secs(10.0));
    assert!(
        run.wait_for(secs(5.0), |_| r.path("ready").exists()),
        "trap installed"
    );
    let t = Instant::now();
    run.signal(libc::SIGTERM);
    run.wait_state("STOPPED", secs(5.0));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        run.child.try_wait().unwrap().is_none(),
        "still in its grace time"
    );
    run.signal(libc::SIGTERM);
    let st = run
        .wait_exit(secs(5.0))
        .expect("exit after the second SIGTERM");
    assert_eq!(st.code(), Some(0));
    assert!(t.elapsed() < secs(3.0));
}

#[test]
fn the_command_gets_sigterm_with_a_clean_signal_state() {
    let r = Root::new();
    // `sleep` has no handler of its own: it dies of SIGTERM only if the signal is not blocked.
    let mut run = r.spawn(&["sleep", "1000"]);
    run.wait_state("UP", secs(10.0));
    let pid = run.state()["programs"][0]["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let blocked = status.lines().find(|l| l.starts_with("SigBlk:")).unwrap();
    assert!(blocked.ends_with("0000000000000000"), "{blocked}");
    let t = Instant::now();
    run.signal(libc::SIGTERM);
    let st = run.wait_exit(secs(10.0)).expect("exit");
    assert!(t.elapsed() < secs(2.0), "{:?}", t.elapsed());
    assert_eq!(
        st.code(),
        Some(143),
        "the command's own status: killed by SIGTERM"
    );
}
