//! `dops events` on the real engine: an instance started, killed and cleaned gives the engine's
//! events, its lifecycle from the state file and its DNS registration and expiry, in order, with
//! the latency of each line measured (state change → line read by the test).

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{docker, now_ms, within, Running, TestProject};

/// A busybox web server whose warmup takes a moment (so WARMUP → UP is a transition to see).
fn project(tag: &str) -> TestProject {
    let p = TestProject::new(tag);
    p.write("services/web/warmup", "#!/bin/sh\nsleep 0.3\n");
    p.write(
        "services/web/Dockerfile",
        "FROM dops-test/busybox\nCOPY warmup /ww/usr/warmup\nRUN chmod +x /ww/usr/warmup\nCMD [\"httpd\",\"-f\",\"-p\",\"8080\",\"-h\",\"/\"]\n",
    );
    // restart "no": the engine must not bring the killed instance back for this story.
    p.write(
        "run.conf",
        r#"[{"service": "web", "instance": "one", "restart": "no"}]"#,
    );
    p
}

struct Line {
    at: i64,
    json: Value,
}

fn events(r: &Running) -> Vec<Line> {
    r.lines()
        .into_iter()
        .map(|(at, l)| Line {
            at,
            json: serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")),
        })
        .collect()
}

fn kind_of(l: &Line) -> String {
    let k = l.json["kind"].as_str().unwrap_or_default();
    match k {
        "lifecycle" => format!("lifecycle {}", l.json["data"]["to"].as_str().unwrap_or("?")),
        "die" => format!("die {}", l.json["data"]["exit_code"]),
        _ => k.to_string(),
    }
}

/// The kinds of the lines about `instance`, in order.
fn story(lines: &[Line], instance: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.json["instance"] == instance)
        .map(kind_of)
        .collect()
}

fn median(mut v: Vec<i64>) -> i64 {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or(-1)
}

#[test]
fn a_started_killed_and_cleaned_instance_tells_its_story_in_order() {
    let p = project("events");
    // The DNS server first, so that only web-one's story is new.
    p.dops_ok(&["build:all"]);
    p.dops_ok(&["run:dops-dns,instance=master", "--wait", "--timeout", "90"]);
    let mut ev = Running::start(&p.dir, &["events", "--json"]);
    // Ready when it follows (it says so on stderr; stdout has only JSON lines).
    assert!(
        within(Duration::from_secs(20), || ev
            .stderr()
            .contains("following"))
        .is_some(),
        "dops events did not start: {}",
        ev.stderr()
    );
    p.dops_ok(&["run:web,instance=one", "--wait", "--timeout", "90"]);
    let c = p.container("web", "one");
    let has = |lines: &[Line], k: &str| story(lines, "web-one").iter().any(|s| s == k);
    assert!(
        within(Duration::from_secs(10), || has(
            &events(&ev),
            "dns.register"
        ))
        .is_some(),
        "no DNS registration of web-one: {:?}",
        story(&events(&ev), "web-one")
    );
    docker(&["kill", &c]);
    assert!(
        within(Duration::from_secs(15), || has(&events(&ev), "dns.expire")).is_some(),
        "the killed instance's records did not expire within the lease: {:?}",
        story(&events(&ev), "web-one")
    );
    p.dops_ok(&["clean:web,instance=one"]);
    assert!(
        within(Duration::from_secs(10), || has(&events(&ev), "destroy")).is_some(),
        "no destroy: {:?}",
        story(&events(&ev), "web-one")
    );
    assert!(ev.alive(), "dops events ended: {}", ev.stderr());
    assert_eq!(ev.stop(), Some(0), "SIGTERM ends dops events with 0");
    let lines = events(&ev);

    // In order (other lines may come between: kill's signal, health, two DNS names). The start
    // and the first lifecycle line race (inotify can beat the engine's event): two chains.
    let got = story(&lines, "web-one");
    let chains: [&[&str]; 2] = [
        &[
            "create",
            "start",
            "lifecycle UP",
            "kill",
            "die 137",
            "destroy",
        ],
        &[
            "create",
            "lifecycle WARMUP",
            "lifecycle UP",
            "dns.register",
            "die 137",
            "dns.expire",
            "destroy",
        ],
    ];
    for want in chains {
        let mut at = 0;
        for w in want {
            match got[at..].iter().position(|g| g == w) {
                Some(i) => at += i + 1,
                None => panic!("{w:?} missing after position {at} in {got:?}"),
            }
        }
    }
    // Every line carries time, instance, container, kind and details.
    for l in lines.iter().filter(|l| l.json["instance"] == "web-one") {
        for k in [
            "time",
            "epoch_ms",
            "instance",
            "container",
            "kind",
            "source",
            "details",
        ] {
            assert!(!l.json[k].is_null(), "{k} missing in {}", l.json);
        }
        assert_eq!(l.json["container"], c.as_str());
    }
    // Nothing else: no build or scratch containers; of the DNS server (started just before),
    // at most its first health check.
    assert!(
        lines.iter().all(|l| l.json["instance"] == "web-one"
            || (l.json["instance"] == "dops-dns-master" && l.json["kind"] == "health")),
        "{:?}",
        lines.iter().map(|l| l.json.to_string()).collect::<Vec<_>>()
    );

    // Latency: the state change (dops-init's `since`, the engine's event time) → the line read.
    let lat = |pred: &dyn Fn(&Line) -> bool| -> Vec<i64> {
        lines
            .iter()
            .filter(|l| pred(l))
            .map(|l| l.at - l.json["epoch_ms"].as_i64().unwrap())
            .collect()
    };
    let lifecycle = lat(&|l| l.json["kind"] == "lifecycle");
    let engine = lat(&|l| l.json["source"] == "engine");
    let dns = lat(&|l| l.json["source"] == "dns");
    // The registration itself is not timed by anyone: from UP (dops-init registers then) to
    // the DNS line read.
    let up = lines
        .iter()
        .find(|l| l.json["kind"] == "lifecycle" && l.json["data"]["to"] == "UP")
        .map(|l| l.json["epoch_ms"].as_i64().unwrap())
        .unwrap();
    let up_to_dns: Vec<i64> = lines
        .iter()
        .filter(|l| l.json["kind"] == "dns.register")
        .map(|l| l.at - up)
        .collect();
    eprintln!(
        "figures: dops events latency (state change → line read), ms: lifecycle {:?} (median {}), engine {:?} (median {}), dns (records file written → line) {:?}, UP → DNS registration line {:?}",
        lifecycle,
        median(lifecycle.clone()),
        engine,
        median(engine.clone()),
        dns,
        up_to_dns
    );
    // The issue's figure is 200 ms; a shared, loaded 2-core machine gets headroom here (the
    // benchmark bench/ui.sh measures it quietly).
    assert!(
        lifecycle.iter().all(|ms| *ms < 1000),
        "lifecycle lines too late: {lifecycle:?}"
    );
}

#[test]
fn since_replays_what_happened_and_human_lines_read_well() {
    let p = project("events-since");
    p.write("host.conf", "{\"DNS\": false}\n");
    p.dops_ok(&["run:web,instance=one", "--wait", "--timeout", "90"]);
    let t = now_ms();
    // A target and --since: the engine's remembered events and the state file's transition.
    let mut ev = Running::start(&p.dir, &["events:web,instance=one,since=10m"]);
    assert!(
        within(Duration::from_secs(20), || ev
            .lines()
            .iter()
            .any(|(_, l)| l.contains("lifecycle") && l.contains("→ UP")))
        .is_some(),
        "no replayed UP: {:?} {}",
        ev.lines(),
        ev.stderr()
    );
    let lines: Vec<String> = ev.lines().into_iter().map(|(_, l)| l).collect();
    let start = lines
        .iter()
        .find(|l| l.contains("  start  "))
        .unwrap_or_else(|| panic!("no replayed start: {lines:?}"));
    // `HH:MM:SS.mmm  web-one           start             started`
    assert!(
        start.len() > 13 && &start[2..3] == ":" && start[12..].starts_with("  web-one "),
        "{start:?}"
    );
    assert!(
        start.ends_with(&format!("{:<16}  started", "start")),
        "{start:?}"
    );
    assert!(
        ev.stderr_shows("following project", Duration::from_secs(5)),
        "{}",
        ev.stderr()
    );
    // A bad duration is a usage error.
    let bad = p.dops(&["events", "--since", "soon"]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        support::stderr(&bad),
        "dops: error: invalid value 'soon' for '--since': expected a number and a unit: 30s, 5m, 2h, 1d\n"
    );
    ev.stop();
    assert!(now_ms() - t < 60_000);
}
