//! `dops ui` driven in headless Chromium (Debian's `chromium` and `chromium-driver`, through the
//! fantoccini WebDriver client):
//!
//! - against a running project on the real engine: every instance's card shows UP; `dops
//!   run:web,instance=three` from the CLI makes its card appear UP without a reload; `dops clean`
//!   removes it; the buttons clean, run and rerun work (the roll-out shows in the events); an
//!   action without the token, from another origin, or on a `--read-only` dashboard is refused;
//!   a screenshot is written; the server's memory is measured;
//! - against 100 instances with real state files (the real server, watcher and page, containers
//!   listed instead of asked from the engine): the render time, and the time from a state file
//!   written to its card changed.
//!
//! The figures are printed (`figures:`); the assertions leave headroom for a loaded machine.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use support::{now_ms, within, Running, TestProject};

const CHROMIUM: &str = "/usr/bin/chromium";

/// One browser at a time: two Chromiums on a small machine slow each other's figures.
static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Headless Chromium behind chromedriver, in a process group of its own: dropped (even on
/// panic), the session is closed and the group ended by its id.
struct Browser {
    client: Option<Client>,
    driver: Child,
    rt: tokio::runtime::Runtime,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    fn start(rt: tokio::runtime::Runtime) -> Browser {
        assert!(
            Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists(),
            "the browser test needs Debian's chromium and chromium-driver (./install.sh tools chromium chromium-driver; test.sh installs them)"
        );
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let mut b = Browser {
            client: None,
            driver,
            rt,
            _profile: profile,
        };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        assert!(
            within(Duration::from_secs(20), || TcpStream::connect(addr).is_ok()).is_some(),
            "chromedriver does not answer"
        );
        let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1500,1000", "--no-first-run", "--disable-extensions",
                    format!("--user-data-dir={}", b._profile.path().display()),
                ]
            }
        }))
        .unwrap();
        let client = b.rt.block_on(async {
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps)
                .connect(&format!("http://{addr}"))
                .await
        });
        b.client = Some(client.expect("a Chromium session"));
        b
    }

    fn client(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    fn goto(&self, url: &str) {
        self.rt.block_on(self.client().goto(url)).expect("goto");
    }

    /// Run a script in the page (`arguments[0]` … are `args`).
    fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.rt
            .block_on(self.client().execute(script, args))
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// The state a card shows (None: no card).
    fn card(&self, container: &str) -> Option<String> {
        self.js(
            "const c = document.querySelector('.card[data-container=\"' + CSS.escape(arguments[0]) + '\"]'); return c ? c.dataset.state : null;",
            vec![json!(container)],
        )
        .as_str()
        .map(str::to_string)
    }

    /// Click a card's button (in one script: cards are redrawn as updates come).
    fn click(&self, container: &str, act: &str) -> bool {
        self.js(
            "const b = document.querySelector('.card[data-container=\"' + CSS.escape(arguments[0]) + '\"] button[data-act=\"' + arguments[1] + '\"]'); if (!b) return false; b.click(); return true;",
            vec![json!(container), json!(act)],
        ) == json!(true)
    }

    fn ready(&self) -> bool {
        self.js("return !!(window.dops && window.dops.ready);", vec![]) == json!(true)
    }

    fn screenshot(&self, path: &Path) {
        let png = self
            .rt
            .block_on(self.client().screenshot())
            .expect("screenshot");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(5), c.close()).await });
        }
        // SAFETY: the process group this test started (chromedriver and its Chromium).
        unsafe { libc::kill(-(self.driver.id() as i32), libc::SIGKILL) };
        let _ = self.driver.wait();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// One HTTP/1.1 request to the dashboard: (status, body).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// `http://127.0.0.1:PORT/?token=T` → ("127.0.0.1:PORT", "T").
fn split_url(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect(url);
    let (addr, q) = rest.split_once("/?token=").expect(url);
    (addr.to_string(), q.to_string())
}

/// Private and proportional memory of a process, KiB (from /proc/PID/smaps_rollup).
fn memory_kib(pid: u32) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        if let (Some(k), Some(v)) = (it.next(), it.next()) {
            if let Ok(v) = v.parse::<u64>() {
                m.insert(k.trim_end_matches(':').to_string(), v);
            }
        }
    }
    let private = m.get("Private_Clean").unwrap_or(&0) + m.get("Private_Dirty").unwrap_or(&0);
    m.insert("Private".into(), private);
    m
}

fn median(mut v: Vec<i64>) -> i64 {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or(-1)
}

fn shots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui_browser")
}

/// A busybox web server whose monitor reports numbers every second (the cards chart them).
fn web_project() -> TestProject {
    let p = TestProject::new("ui");
    p.write(
        "services/web/monitor",
        "#!/bin/sh\nn=$(cat /proc/loadavg | cut -d' ' -f1)\nt=$(date +%s)\necho \"{\\\"ok\\\": true, \\\"requests\\\": $(( (t * 7) % 40 + 10 )), \\\"load\\\": $n}\"\n",
    );
    p.write(
        "services/web/Dockerfile",
        "FROM dops-test/busybox\nCOPY monitor /ww/usr/monitor\nRUN chmod +x /ww/usr/monitor\nCMD [\"httpd\",\"-f\",\"-p\",\"8080\",\"-h\",\"/\"]\n",
    );
    p.write(
        "run.conf",
        r#"[
  {"service": "web", "instance": "one", "env_vars": {"DOPS_INIT_MONITOR_INTERVAL": "1"}},
  {"service": "web", "instance": "two", "env_vars": {"DOPS_INIT_MONITOR_INTERVAL": "1"}}
]"#,
    );
    p
}

#[test]
fn the_dashboard_follows_a_running_project_in_a_real_browser() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let p = web_project();
    p.dops_ok(&["run:all", "--wait", "--timeout", "120"]);
    let ui = Running::start(&p.dir, &["ui"]);
    let url = ui
        .first_line(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("dops ui printed no address: {}", ui.stderr()));
    let (addr, token) = split_url(&url);
    assert!(addr.starts_with("127.0.0.1:"), "{url}");
    let b = Browser::start(runtime());
    b.goto(&url);
    assert!(
        within(Duration::from_secs(15), || b.ready()).is_some(),
        "the page never got its first state"
    );
    // The token left the address bar (a cookie carries it now).
    let here = b.js("return location.href;", vec![]);
    assert_eq!(here, json!(format!("http://{addr}/")));

    // Every instance's card shows UP.
    let one = p.container("web", "one");
    let two = p.container("web", "two");
    let dns = p.container("dops-dns", "master");
    for c in [&one, &two, &dns] {
        assert!(
            within(Duration::from_secs(10), || b.card(c).as_deref()
                == Some("UP"))
            .is_some(),
            "{c}: {:?}",
            b.card(c)
        );
    }
    // A few monitor blobs for the charts, the DNS table filled; then the picture.
    assert!(
        within(Duration::from_secs(10), || b.js(
            "return document.querySelectorAll('.monitor polyline').length >= 2 && document.querySelectorAll('#dns tbody tr').length >= 4;",
            vec![]
        ) == json!(true))
        .is_some(),
        "no charts or DNS records"
    );
    b.screenshot(&shots().join("dashboard.png"));

    // From the CLI: a new instance appears, UP, without a reload.
    b.js("window.dops.marker = 42;", vec![]);
    let three = p.container("web", "three");
    let t0 = now_ms();
    let run = std::thread::spawn({
        let dir = p.dir.clone();
        move || support::dops_in(&dir, &["run:web,instance=three"])
    });
    // The limit covers starting the container and its boot to UP on a loaded machine; the
    // dashboard's own share of it is asserted below (ui_latency).
    let took = within(Duration::from_secs(30), || {
        b.card(&three).as_deref() == Some("UP")
    });
    eprintln!("web-three UP on the page {took:?} after `dops run` began");
    let out = run.join().unwrap();
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert!(
        took.is_some(),
        "web-three not UP on the page within 30 s of `dops run` (it shows {:?})",
        b.card(&three)
    );
    assert_eq!(
        b.js("return window.dops.marker;", vec![]),
        json!(42),
        "the page was reloaded"
    );
    // The dashboard's own latency: dops-init's UP (state.json `since`) → the card showing it.
    let ui_latency = b.js(
        "const v = window.dops.instances.get(arguments[0]); return window.dops.seen[arguments[0]]['UP'] - Date.parse(v.lifecycle.since);",
        vec![json!(three)],
    );
    // And how much of that was the platform: `dops run` began → dops-init wrote UP.
    let cli_to_up = b
        .js(
            "return Date.parse(window.dops.instances.get(arguments[0]).lifecycle.since);",
            vec![json!(three)],
        )
        .as_i64()
        .unwrap_or(t0)
        - t0;

    // `dops clean` removes it.
    p.dops_ok(&["clean:web,instance=three"]);
    assert!(
        within(Duration::from_secs(5), || b.card(&three).is_none()).is_some(),
        "web-three's card stayed after clean: {:?}",
        b.card(&three)
    );

    // The buttons (with the token, as the page sends them): clean web-two (two clicks), run it
    // again, rerun web-one (a start-first roll-out).
    assert!(
        b.click(&two, "clean") && b.click(&two, "clean"),
        "no clean button"
    );
    assert!(
        within(Duration::from_secs(20), || b.card(&two).as_deref()
            == Some("not running"))
        .is_some(),
        "web-two after clean: {:?} ({:?})",
        b.card(&two),
        b.js("return window.dops.lastAction;", vec![])
    );
    assert_eq!(
        b.js("return window.dops.lastAction.status;", vec![]),
        json!(202)
    );
    assert!(
        within(Duration::from_secs(5), || b.click(&two, "run")).is_some(),
        "no run button on the declared web-two"
    );
    assert!(
        within(Duration::from_secs(20), || b.card(&two).as_deref()
            == Some("UP"))
        .is_some(),
        "web-two after run: {:?}",
        b.card(&two)
    );
    let first_one = b.js(
        "return window.dops.instances.get(arguments[0]).created;",
        vec![json!(one)],
    );
    assert!(within(Duration::from_secs(5), || b.click(&one, "rerun")).is_some());
    let events_text = || {
        b.js(
            "return document.getElementById('events').textContent;",
            vec![],
        )
    };
    assert!(
        within(Duration::from_secs(40), || {
            let t = events_text();
            let t = t.as_str().unwrap_or_default();
            t.contains("rollout.done") && t.contains("rerun web,instance=one: done")
        })
        .is_some(),
        "the roll-out did not show: {}",
        events_text()
    );
    assert!(events_text().as_str().unwrap().contains("rollout.replace"));
    assert!(within(Duration::from_secs(10), || b.card(&one).as_deref()
        == Some("UP"))
    .is_some());
    assert_ne!(
        b.js(
            "return window.dops.instances.get(arguments[0]).created;",
            vec![json!(one)]
        ),
        first_one,
        "web-one is not a new container"
    );

    // Refused: without the token (the page's fetch without its cookie), from another origin,
    // with a verb that is not offered.
    let no_token = b.rt.block_on(b.client().execute_async(
        "const done = arguments[arguments.length - 1]; fetch('/api/action', {method: 'POST', credentials: 'omit', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({verb: 'clean', service: 'web', instance: 'one'})}).then(r => done(r.status));",
        vec![],
    ));
    assert_eq!(no_token.unwrap(), json!(401));
    let body = r#"{"verb":"clean","service":"web","instance":"one"}"#;
    let (status, text) = http(
        &addr,
        "POST",
        "/api/action",
        &[
            ("x-dops-token", &token),
            ("Origin", "http://evil.example"),
            ("Content-Type", "application/json"),
        ],
        body,
    );
    assert_eq!(
        (status, text.trim()),
        (
            403,
            "dops ui: refused: the request comes from another origin"
        )
    );
    let (status, _) = http(
        &addr,
        "POST",
        "/api/action",
        &[("Content-Type", "application/json")],
        body,
    );
    assert_eq!(status, 401);
    let (status, text) = http(
        &addr,
        "POST",
        "/api/action",
        &[("x-dops-token", &token)],
        r#"{"verb":"clean","service":"web","instance":"one","purge":true}"#,
    );
    assert_eq!(status, 400, "{text}");
    let (status, _) = http(
        &addr,
        "GET",
        "/api/snapshot",
        &[("Host", "evil.example")],
        "",
    );
    assert_eq!(status, 403, "a foreign Host header");
    assert!(p.dops_ok(&["ps"]).status.success());
    assert_eq!(
        b.card(&one).as_deref(),
        Some("UP"),
        "a refused action changed something"
    );

    // A read-only dashboard offers no buttons and refuses actions.
    let ro = Running::start(&p.dir, &["ui", "--read-only"]);
    let ro_url = ro
        .first_line(Duration::from_secs(30))
        .expect("read-only address");
    let (ro_addr, ro_token) = split_url(&ro_url);
    let (status, text) = http(
        &ro_addr,
        "POST",
        "/api/action",
        &[("x-dops-token", &ro_token)],
        body,
    );
    assert_eq!(
        (status, text.trim()),
        (
            403,
            "dops ui: refused: this dashboard is read-only (--read-only)"
        )
    );
    let (_, snap) = http(
        &ro_addr,
        "GET",
        "/api/snapshot",
        &[("x-dops-token", &ro_token)],
        "",
    );
    assert!(snap.contains("\"read_only\":true"), "{snap}");

    // The log tail of an instance, live.
    assert!(b.click(&one, "logs"));
    assert!(within(Duration::from_secs(10), || b.js(
        "return document.getElementById('logs-title').textContent;",
        vec![]
    ) == json!(format!(
        "logs of {one}"
    )))
    .is_some());

    let mem = memory_kib(ui.pid());
    let mem_ro = memory_kib(ro.pid());
    eprintln!(
        "figures: dops ui on the real engine: web-three UP on the page {} ms after `dops run` began (its dops-init wrote UP after {} ms); dops-init's UP → card {} ms; dops ui memory (debug build) Pss {} KiB, Private {} KiB, Rss {} KiB; read-only one Pss {} KiB; screenshot {}",
        took.unwrap().as_millis(),
        cli_to_up,
        ui_latency,
        mem.get("Pss").unwrap_or(&0),
        mem.get("Private").unwrap_or(&0),
        mem.get("Rss").unwrap_or(&0),
        mem_ro.get("Pss").unwrap_or(&0),
        shots().join("dashboard.png").display()
    );
    assert!(
        ui_latency.as_i64().is_some_and(|ms| ms < 1000),
        "UP → card: {ui_latency}"
    );
}

/// 100 instances, their state files real and watched; the containers listed, not asked from an
/// engine. The real server and page.
#[test]
fn a_hundred_instances_render_fast_and_follow_their_state_files() {
    use dops::live::{Declared, Live, LiveOptions, Source};
    use dops::observed::ObservedContainer;

    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let project = "ui100";
    let mut containers = Vec::new();
    let mut declared = Vec::new();
    let state = |i: usize, s: &str| {
        format!(
            r#"{{"state":"{s}","since":"{}","restarts":{},"maintenance":false,"last_stats":{{"ok":true,"rps":{},"latency_ms":{}.5,"queue":{{"depth":{}}}}},"last_stats_at":"{}","dns":{{"registered":true,"names":["svc{}-i{}.local.zone","svc{}.local.zone"]}}}}"#,
            dops::live::event::rfc3339_ms(now_ms()),
            i % 3,
            i * 3,
            i % 17,
            i % 5,
            dops::live::event::rfc3339_ms(now_ms()),
            i / 10,
            i % 10,
            i / 10
        )
    };
    let write = |run: &Path, body: &str| {
        let tmp = run.join(".state.json.tmp");
        std::fs::write(&tmp, body).unwrap();
        std::fs::rename(&tmp, run.join("state.json")).unwrap();
    };
    for i in 0..100 {
        let (service, instance) = (format!("svc{}", i / 10), format!("i{}", i % 10));
        let run = dir.join(".dops/run").join(format!("{service}-{instance}"));
        std::fs::create_dir_all(&run).unwrap();
        write(&run, &state(i, "UP"));
        let name = format!("{project}-{service}-{instance}");
        containers.push(ObservedContainer {
            id: format!("{i:064x}"),
            name: name.clone(),
            service: service.clone(),
            instance: instance.clone(),
            instance_type: "standard".into(),
            image: format!("{project}/{service}"),
            state: "running".into(),
            health: Some("healthy".into()),
            ip: Some(format!("10.200.0.{}", i + 2).parse().unwrap()),
            created: now_ms() / 1000 - 600,
            labels: BTreeMap::from([(
                dops::labels::RUN_DIR.to_string(),
                run.display().to_string(),
            )]),
            ..Default::default()
        });
        declared.push(Declared {
            container: name,
            service,
            instance,
        });
    }
    let rt = runtime();
    let started = rt
        .block_on(Live::start(
            Source::Fixed(containers),
            LiveOptions {
                project: project.into(),
                project_dir: dir.clone(),
                declared,
                since_ms: None,
            },
        ))
        .expect("watch");
    let bound = rt
        .block_on(dops::ui::bind(&dops::ui::UiOptions {
            bind: "127.0.0.1".parse().unwrap(),
            port: 0,
            read_only: true,
        }))
        .unwrap();
    let url = bound.url();
    rt.spawn(bound.serve(started.live, None, None, std::future::pending()));
    let b = Browser::start(rt);

    // Render: five loads, the page's own figure (snapshot received → 100 cards laid out).
    let mut render = Vec::new();
    let mut ready_at = Vec::new();
    for _ in 0..5 {
        b.goto(&url);
        assert!(
            within(Duration::from_secs(15), || b.ready()).is_some(),
            "page not ready"
        );
        assert_eq!(
            b.js("return document.querySelectorAll('.card').length;", vec![]),
            json!(100)
        );
        render.push(
            b.js("return Math.round(window.dops.renderMs);", vec![])
                .as_i64()
                .unwrap(),
        );
        // Navigation start → everything drawn.
        ready_at.push(
            b.js("return Math.round(performance.now());", vec![])
                .as_i64()
                .unwrap(),
        );
    }
    assert_eq!(
        b.js(
            "return document.querySelectorAll('.card.st-up').length;",
            vec![]
        ),
        json!(100)
    );
    std::fs::create_dir_all(shots()).unwrap();
    b.screenshot(&shots().join("hundred.png"));

    // Update: a state file written → its card changed, 20 times, one instance after another.
    let mut update = Vec::new();
    for k in 0..20 {
        let i = (k * 7) % 100;
        let (service, instance) = (format!("svc{}", i / 10), format!("i{}", i % 10));
        let container = format!("{project}-{service}-{instance}");
        let run = dir.join(".dops/run").join(format!("{service}-{instance}"));
        let to = if k % 2 == 0 { "WARMUP" } else { "RESTARTING" };
        let t = now_ms();
        write(&run, &state(i, to));
        assert!(
            within(Duration::from_secs(5), || b.card(&container).as_deref()
                == Some(to))
            .is_some(),
            "{container} did not show {to}"
        );
        let seen = b.js(
            "return window.dops.seen[arguments[0]][arguments[1]];",
            vec![json!(container), json!(to)],
        );
        update.push(seen.as_i64().unwrap() - t);
        write(&run, &state(i, "UP"));
    }
    eprintln!(
        "figures: 100 instances: render {:?} ms (median {}), navigation → all drawn {:?} ms; state file written → card changed {:?} ms (median {}, max {})",
        render,
        median(render.clone()),
        ready_at,
        update,
        median(update.clone()),
        update.iter().max().unwrap()
    );
    // The issue's figures are 200 ms to render and 1 s to update; headroom for a loaded machine
    // (bench/ui.sh measures quietly).
    assert!(median(render.clone()) < 1000, "render {render:?}");
    assert!(median(update.clone()) < 1000, "update {update:?}");
}
