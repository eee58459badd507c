//! dops-init and the dops DNS: registered only when UP; withdrawn on maintenance, RESTARTING and
//! STOPPED. The DNS server runs in-process on 127.0.0.1 (no Docker).
mod init_util;
use dops::init::register::lookup_a;
use init_util::*;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

fn web(server: SocketAddr) -> Vec<Ipv4Addr> {
    lookup_a(server, "web.local.zone", Duration::from_secs(2)).unwrap()
}

#[test]
fn registered_only_when_up() {
    let (server, key) = start_local_dns();
    let addr = server.addr();

    let r = Root::new();
    // Long enough windows to look at the DNS while WARMUP and RESTARTING last.
    r.hook("warmup", "sleep 1");
    r.hook("svcdown", "sleep 1.5");
    let mut cmd = r.command(&["sleep", "1000"]);
    cmd.env("DNS_SERVICE_IP", addr.to_string())
        .env("DNS_ZONE", "local.zone")
        .env("DNS_KEY", key.to_env())
        .env("SERVICE", "web")
        .env("INSTANCE", "one")
        .env("SERVICE_IP", "127.0.0.7");
    let run = r.spawn_with(cmd);
    run.wait_state("WARMUP", secs(10.0));
    assert!(web(addr).is_empty(), "not registered before UP");
    run.wait_state("UP", secs(10.0));
    assert!(
        run.wait_for(secs(5.0), |v| v["dns"]["registered"] == true),
        "{}\n{}",
        run.state(),
        run.stderr()
    );
    assert_eq!(web(addr), vec![Ipv4Addr::new(127, 0, 0, 7)]);
    let names = run.state()["dns"]["names"].clone();
    assert!(
        names
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "web-one.local.zone"),
        "{names}"
    );

    // Maintenance: withdrawn, still running; and back.
    run.signal(libc::SIGUSR1);
    assert!(
        eventually(secs(5.0), || web(addr).is_empty()),
        "withdrawn in maintenance"
    );
    assert!(run.wait_for(secs(5.0), |v| v["dns"]["registered"] == false));
    assert_eq!(run.state()["state"], "UP");
    run.signal(libc::SIGUSR1);
    assert!(
        eventually(secs(5.0), || !web(addr).is_empty()),
        "registered again"
    );

    // RESTARTING: withdrawn while svcdown runs, registered again once UP.
    run.signal(libc::SIGHUP);
    run.wait_state("RESTARTING", secs(5.0));
    assert!(
        eventually(secs(2.0), || web(addr).is_empty()),
        "withdrawn while restarting"
    );
    run.wait_state("UP", secs(10.0));
    assert!(eventually(secs(5.0), || !web(addr).is_empty()));

    // STOPPED: withdrawn before the programs stop.
    run.signal(libc::SIGTERM);
    let mut run = run;
    let st = run.wait_exit(secs(10.0)).expect("exit");
    assert_eq!(st.code(), Some(143));
    assert!(web(addr).is_empty(), "withdrawn on stop");
    let s = r.state();
    assert_eq!(s["state"], "STOPPED");
    assert_eq!(s["dns"]["registered"], false);
    let _ = server.stop();
}

#[test]
fn a_bad_dns_environment_runs_unregistered_and_says_why() {
    let r = Root::new();
    let mut cmd = r.command(&["sleep", "1000"]);
    cmd.env("DNS_SERVICE_IP", "127.0.0.1:1")
        .env("SERVICE", "web")
        .env("INSTANCE", "one")
        .env("SERVICE_IP", "127.0.0.7");
    let run = r.spawn_with(cmd);
    run.wait_state("UP", secs(10.0));
    let s = run.state();
    assert_eq!(s["dns"]["registered"], false);
    assert!(
        s["dns"]["error"].as_str().unwrap().contains("DNS_KEY"),
        "{s}"
    );
    assert!(
        run.stderr_shows("DNS registration disabled", secs(5.0)),
        "{}",
        run.stderr()
    );
}

/// `stop_drain_s`: on STOPPED a registered instance is withdrawn from the DNS at once, then keeps
/// serving for the drain before its programs stop (so a load balancer's watch drops it first).
#[test]
fn stop_drain_withdraws_first_then_keeps_serving() {
    drain_case(None);
}

/// The drain does not depend on how fast the withdrawal is: entering STOPPED asks the registration
/// thread to withdraw, and a slow `lifecycle` hook (run on every state change) gives it all the
/// time to finish before the drain is decided. The drain must still happen (it once was skipped
/// whenever the withdrawal won that race: bench/rollout.sh saw an old instance stop at once).
#[test]
fn stop_drain_happens_even_when_the_withdrawal_is_already_done() {
    drain_case(Some("sleep 0.5"));
}

fn drain_case(lifecycle_hook: Option<&str>) {
    let (server, key) = start_local_dns();
    let addr = server.addr();

    let r = Root::new();
    r.initd("50-drain.json", r#"{"stop_drain_s": 1.5}"#);
    if let Some(body) = lifecycle_hook {
        r.hook("lifecycle", body);
    }
    // The program notes when it is told to stop.
    r.script(
        "bin/serve",
        &format!(
            "trap 'date +%s.%N > {}; exit 0' TERM\nwhile :; do sleep 0.05; done",
            r.p("stopped_at")
        ),
    );
    let serve = r.p("bin/serve");
    let mut cmd = r.command(&[serve.as_str()]);
    cmd.env("DNS_SERVICE_IP", addr.to_string())
        .env("DNS_ZONE", "local.zone")
        .env("DNS_KEY", key.to_env())
        .env("SERVICE", "web")
        .env("INSTANCE", "one")
        .env("SERVICE_IP", "127.0.0.8");
    let mut run = r.spawn_with(cmd);
    run.wait_state("UP", secs(10.0));
    assert!(
        eventually(secs(5.0), || !web(addr).is_empty()),
        "registered: {}",
        run.state()
    );
    let t0 = Instant::now();
    let term_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    run.signal(libc::SIGTERM);
    assert!(
        eventually(secs(1.0), || web(addr).is_empty()),
        "withdrawn within 1 s of SIGTERM"
    );
    let withdrawn = t0.elapsed();
    assert!(
        !r.path("stopped_at").exists(),
        "the program is still serving after the withdrawal ({withdrawn:?})"
    );
    let st = run.wait_exit(secs(10.0)).expect("exit");
    assert!(st.success() || st.code() == Some(143), "{st:?}");
    let stopped_at: f64 = r.read("stopped_at").trim().parse().unwrap();
    let served_after_term = stopped_at - term_at;
    assert!(
        served_after_term >= 1.4,
        "the program was stopped {served_after_term:.2} s after SIGTERM (drain 1.5 s)"
    );
    assert!(run.stderr().contains("draining"), "{}", run.stderr());
    let _ = server.stop();
}
