//! The whole demo story on the real engine, as the README tells it:
//!
//! 1. `dops install_demo` into the test's project folder, `build:all`, then `dops demo` there
//!    (it runs everything and waits) with 127.0.0.1:80 and :8404 held by the test: the demo
//!    picks free ports, keeps them in its host.conf and prints the URLs it really published;
//! 2. requests through the load balancer's published port on 127.0.0.1 reach web one and two;
//! 3. `dops run:web,instance=three` → the balancer serves it within 2 s of it being UP;
//! 4. `dops clean:web,instance=one` → withdrawn and dropped by the balancer before its container
//!    stops, with no failed request;
//! 5. `docker kill` of web two → dropped within the DNS lease (6 s) + the watch's interval;
//! 6. the database's data survives `dops rerun:postgres`;
//! 7. a change rolled out: with HAProxy's retries turned off (so the drain does the work, not
//!    the retries), the page of web is changed, `dops build:web && dops run:all` replaces web one
//!    and two one at a time (start-first) while the load runs: no failed request.
//!
//! A small HTTP load runs from step 2 to step 5 and every response is logged with its time, so
//! the figures printed at the end are measured, not assumed. Every wait is bounded.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::load::{now, summary, Load};
use support::{docker, until_some, TestProject};

/// The DNS lease of the dops DNS and the load balancer's watch interval + debounce (demo/).
const LEASE_S: f64 = 6.0;
const WATCH_S: f64 = 0.5 + 0.2;

/// Run the real dops in the project folder, killed after `limit_s`; panic unless it exits 0.
fn dops(p: &TestProject, limit_s: u64, args: &[&str]) -> Output {
    let out = Command::new("timeout")
        .args(["-k", "5", &limit_s.to_string(), env!("CARGO_BIN_EXE_dops")])
        .args(args)
        .current_dir(&p.dir)
        .env("DOPS_LOG", "warn")
        .output()
        .expect("run dops");
    assert!(
        out.status.success(),
        "dops {args:?} failed ({:?}, limit {limit_s} s)\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// How often the story polls what it waits for.
const POLL: Duration = Duration::from_millis(50);

fn rfc3339_epoch(s: &str) -> f64 {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("bad time {s:?}: {e}"));
    t.unix_timestamp_nanos() as f64 / 1e9
}

fn state(p: &TestProject, service: &str, instance: &str) -> Option<Value> {
    let f = p.path(&format!(".dops/run/{service}-{instance}/state.json"));
    serde_json::from_str(&std::fs::read_to_string(f).ok()?).ok()
}

/// The hosts the balancer's watch currently has (`web-one`, …) and when it last changed.
fn lb_members(p: &TestProject) -> Option<(Vec<String>, f64)> {
    let s = state(p, "lb", "master")?;
    let w = &s["watches"]["web"];
    let hosts = w["members"]
        .as_array()?
        .iter()
        .filter_map(|m| m["host"].as_str().map(str::to_string))
        .collect();
    Some((hosts, rfc3339_epoch(w["changed_at"].as_str()?)))
}

/// The host port the engine published for the balancer's container port (from `dops --json ps`).
fn published(p: &TestProject, container_port: u16) -> SocketAddr {
    let out = dops(p, 30, &["--json", "ps"]);
    let rows: Value = serde_json::from_slice(&out.stdout).expect("ps --json");
    let lb = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["service"] == "lb")
        .unwrap_or_else(|| panic!("no lb in dops ps: {rows}"));
    for port in lb["ports"].as_array().unwrap() {
        let s = port.as_str().unwrap();
        let (host, inner) = s.split_once("->").unwrap();
        if inner == format!("{container_port}/tcp") {
            let addr: SocketAddr = host.parse().unwrap();
            assert_eq!(addr.ip().to_string(), "127.0.0.1", "{s}");
            return addr;
        }
    }
    panic!("lb publishes no {container_port}/tcp: {lb}")
}

/// `docker events` time of a container's `die`, in epoch seconds.
fn died_at(container: &str, since: f64) -> Option<f64> {
    let out = docker(&[
        "events",
        "--since",
        &format!("{}", since.floor() as i64),
        "--until",
        &format!("{}", now().ceil() as i64 + 1),
        "--filter",
        &format!("container={container}"),
        "--filter",
        "event=die",
        "--format",
        "{{.TimeNano}}",
    ]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse::<f64>().ok())
        .map(|ns| ns / 1e9)
        .next()
}

fn psql(p: &TestProject, sql: &str) -> String {
    let out = dops(p, 60, &support::demo_psql(sql));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_demo_story() {
    let t_all = Instant::now();
    // The demo's default ports, taken: by the test where it can bind them, else by whatever
    // holds them. The demo must pick others, whatever runs on this machine.
    let held: Vec<std::net::TcpListener> = [80u16, 8404]
        .iter()
        .filter_map(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).ok())
        .collect();
    let taken = |port: u16| {
        held.iter().any(|l| l.local_addr().unwrap().port() == port)
            || TcpStream::connect_timeout(
                &SocketAddr::from(([127, 0, 0, 1], port)),
                Duration::from_millis(300),
            )
            .is_ok()
    };
    assert!(taken(80) && taken(8404), "the test holds 80 and 8404");
    let p = TestProject::new("story");

    // 1. install, build, run.
    let out = dops(&p, 30, &["install_demo"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("installed the dops demo"),
        "{out:?}"
    );
    let mode = |rel: &str| std::fs::metadata(p.path(rel)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("services/postgres/ww/firstboot"), 0o755);
    assert_eq!(mode("services/web/web-serve"), 0o755);
    assert_eq!(mode("run.conf"), 0o644);
    assert!(Path::new(&p.path("services/lb/config/haproxy.cfg.hb")).is_file());

    let t = Instant::now();
    dops(&p, 900, &["build:all"]);
    let build_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let demo_dir = p.dir.display().to_string();
    let out = dops(&p, 400, &["demo", &demo_dir]);
    let up_s = t.elapsed().as_secs_f64();
    println!(
        "demo: build:all {build_s:.1} s, dops demo (build cached, run:all --wait) {up_s:.1} s"
    );
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let notes = String::from_utf8_lossy(&out.stderr).into_owned();
    let url = |what: &str| -> SocketAddr {
        let line = printed
            .lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no URL of {what} in:\n{printed}"));
        let u = line.split_whitespace().next().unwrap();
        u.trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|e| panic!("{u}: {e}"))
    };
    let (site_url, stats_url) = (url("the site"), url("the HAProxy stats page"));
    assert!(
        site_url.port() != 80 && stats_url.port() != 8404 && site_url.port() != stats_url.port(),
        "{printed}"
    );
    assert!(
        notes.contains(&format!(
            "the site is published on port {}, the stats page on {}",
            site_url.port(),
            stats_url.port()
        )),
        "{notes}"
    );
    let host_conf = std::fs::read_to_string(p.path("host.conf")).expect("the demo's host.conf");
    assert!(
        host_conf.contains(&format!("\"PUBLISH_PORT_80\": \"{}\"", site_url.port())),
        "{host_conf}"
    );
    for (svc, inst) in [
        ("dops-dns", "master"),
        ("web", "one"),
        ("web", "two"),
        ("lb", "master"),
        ("postgres", "master"),
    ] {
        let s = state(&p, svc, inst).unwrap_or_else(|| panic!("no state.json for {svc}-{inst}"));
        assert_eq!(s["state"], "UP", "{svc}-{inst}: {s}");
    }

    // 2. through the balancer: both web instances answer, at the URLs the demo printed.
    let site = published(&p, 80);
    let stats = published(&p, 8404);
    assert_eq!((site, stats), (site_url, stats_url));
    let load = Load::start(site, 2);
    until_some(
        20.0,
        POLL,
        "web one and two both served through the balancer",
        || (load.first("one").is_some() && load.first("two").is_some()).then_some(()),
    );
    let stats_page = {
        let mut s = TcpStream::connect_timeout(&stats, Duration::from_secs(2)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        s.write_all(b"GET /;csv HTTP/1.0\r\n\r\n").unwrap();
        let mut b = String::new();
        let _ = s.read_to_string(&mut b);
        b
    };
    assert!(
        stats_page.contains("web,web-one,") && stats_page.contains("web,web-two,"),
        "stats page: {stats_page}"
    );

    // 3. a third instance: served within 2 s of being UP.
    let t = Instant::now();
    dops(
        &p,
        60,
        &["run:web,instance=three", "--wait", "--timeout=50"],
    );
    let wait_returned = now();
    let run_s = t.elapsed().as_secs_f64();
    let three = state(&p, "web", "three").expect("web-three state.json");
    assert_eq!(three["state"], "UP", "{three}");
    let up_at = rfc3339_epoch(three["since"].as_str().unwrap());
    let first_three = until_some(10.0, POLL, "web three served through the balancer", || {
        load.first("three")
    });
    let up_to_served = first_three - up_at;
    println!(
        "demo: run:web,instance=three --wait {run_s:.2} s; first request served by three {up_to_served:.2} s after UP ({:.2} s after --wait returned)",
        first_three - wait_returned
    );
    assert!(
        up_to_served <= 2.0,
        "web three was first served {up_to_served:.2} s after it was UP (limit 2 s)"
    );

    // 4. clean web one: out of the balancer before its container stops, no failed request.
    let one = p.container("web", "one");
    let c0 = now();
    dops(&p, 60, &["clean:web,instance=one"]);
    let c1 = now();
    std::thread::sleep(Duration::from_millis(1000));
    let died = until_some(10.0, POLL, "the die event of web one", || died_at(&one, c0));
    let (members, changed_at) = lb_members(&p).expect("lb watch state");
    assert!(
        !members.iter().any(|m| m == "web-one"),
        "the balancer still has web-one: {members:?}"
    );
    let last_one = load.last("one").unwrap_or(0.0);
    println!(
        "demo: clean:web,instance=one {:.2} s; balancer re-rendered {:.2} s after clean started, container died {:.2} s after (margin {:.2} s); last request served by one {:.2} s after clean started",
        c1 - c0,
        changed_at - c0,
        died - c0,
        died - changed_at,
        last_one - c0
    );
    assert!(
        changed_at < died,
        "the balancer dropped web-one {:.2} s after its container stopped",
        changed_at - died
    );
    assert!(
        last_one <= died,
        "a request was served by web one after its container died"
    );
    let failed = load.failures_between(c0, now());
    assert!(
        failed.is_empty(),
        "failed requests during clean: {failed:?}"
    );

    // 5. docker kill web two: dropped within the lease + the watch's interval.
    let two = p.container("web", "two");
    let k0 = now();
    let out = docker(&["kill", &two]);
    assert!(out.status.success(), "docker kill: {out:?}");
    let dropped = until_some(
        LEASE_S + WATCH_S + 5.0,
        POLL,
        "the balancer drops the killed web two",
        || {
            let (members, at) = lb_members(&p)?;
            (!members.iter().any(|m| m == "web-two")).then_some(at)
        },
    );
    let kill_to_dropped = dropped - k0;
    std::thread::sleep(Duration::from_millis(500));
    let hits = load.finish();
    let kill_failures: Vec<_> = hits
        .iter()
        .filter(|h| h.result.is_err() && h.at >= k0)
        .collect();
    println!(
        "demo: docker kill web two: dropped by the balancer after {kill_to_dropped:.2} s (lease {LEASE_S} s + watch {WATCH_S} s); {} failed request(s) after the kill",
        kill_failures.len()
    );
    println!("demo: load {}", summary(&hits));
    assert!(
        kill_to_dropped <= LEASE_S + WATCH_S + 1.5,
        "web two dropped {kill_to_dropped:.2} s after docker kill"
    );
    let total_failures: Vec<_> = hits.iter().filter(|h| h.result.is_err()).collect();
    assert!(
        total_failures.is_empty(),
        "failed requests through the balancer: {total_failures:?}"
    );

    // 6. the database survives rerun.
    let marker = format!("story-{}", std::process::id());
    let id = psql(
        &p,
        &format!("insert into visits (instance, path) values ('story', '/{marker}') returning id"),
    );
    assert!(id.parse::<i64>().is_ok(), "insert returned {id:?}");
    let t = Instant::now();
    dops(
        &p,
        200,
        &["rerun:postgres,instance=master", "--wait", "--timeout=180"],
    );
    let rerun_s = t.elapsed().as_secs_f64();
    let back = psql(
        &p,
        &format!("select id from visits where path = '/{marker}'"),
    );
    assert_eq!(back, id, "the row written before rerun");
    println!("demo: rerun:postgres {rerun_s:.1} s, row {id} still there");

    // 7. a rolling update with HAProxy's retries off.
    let tpl = p.path("services/lb/config/haproxy.cfg.hb");
    let cfg = std::fs::read_to_string(&tpl).unwrap();
    let no_retries = cfg
        .replace("    retries 3\n", "    retries 0\n")
        .replace("    option redispatch 1\n", "")
        .replace("    retry-on conn-failure empty-response\n", "");
    assert!(no_retries.contains("retries 0") && !no_retries.contains("redispatch"));
    std::fs::write(&tpl, no_retries).unwrap();
    dops(&p, 300, &["build:lb"]);
    // Back to what run.conf declares (web one and two; three, run by hand, is an orphan).
    dops(
        &p,
        320,
        &["run:all", "--orphans", "--wait", "--timeout=300"],
    );
    let site = published(&p, 80);
    assert_eq!(site, site_url, "host.conf kept the demo's port");
    let load = Load::start(site, 2);
    until_some(20.0, POLL, "web one and two served (retries off)", || {
        (load.first("one").is_some() && load.first("two").is_some()).then_some(())
    });
    let serve = p.path("services/web/web-serve");
    let script = std::fs::read_to_string(&serve).unwrap();
    std::fs::write(
        &serve,
        script.replace("'%s %s (%s)\\n'", "'%s %s (%s) v2\\n'"),
    )
    .unwrap();
    assert!(std::fs::read_to_string(&serve).unwrap().contains("v2"));
    dops(&p, 300, &["build:web"]);
    let r0 = now();
    let out = dops(&p, 300, &["run:all"]);
    let r1 = now();
    std::thread::sleep(Duration::from_millis(1500));
    let hits = load.finish();
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    let at = |needle: &str| {
        log.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in the run:all output:\n{log}"))
    };
    let (one, two) = (p.container("web", "one"), p.container("web", "two"));
    // One at a time: web one is UP (and its old one removed) before web two is touched.
    assert!(
        at(&format!("{one} is UP")) < at(&format!("replacing {two}")),
        "not one at a time:\n{log}"
    );
    assert!(log.contains("image rebuilt"), "{log}");
    let failed: Vec<_> = hits.iter().filter(|h| h.result.is_err()).collect();
    println!(
        "demo: rolling update of web (start-first, HAProxy retries off) {:.1} s; load {}",
        r1 - r0,
        summary(&hits)
    );
    assert!(
        failed.is_empty(),
        "failed requests during the roll-out: {failed:?}"
    );
    let mut body = String::new();
    let mut s = TcpStream::connect_timeout(&site, Duration::from_secs(2)).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let _ = s.read_to_string(&mut body);
    assert!(body.contains(" v2"), "the new page is served: {body}");
    println!(
        "demo: the whole story took {:.1} s",
        t_all.elapsed().as_secs_f64()
    );
}
