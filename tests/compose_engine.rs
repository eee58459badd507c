//! A Compose file using only local images (`dops-test/busybox`), imported, built and run on the
//! real engine with `dops run:all --wait`: the app answers on its published port, a secret file
//! is mounted read-only, and the healthcheck holds its instance in WARMUP until it passes (so
//! `depends_on: service_healthy`, mapped to run.conf `"condition": "up"`, has a lifecycle state to
//! wait for).

mod engine_support;
mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use engine_support::{free_port, inspect, NO_DNS};
use support::{docker, dops_command, eventually, stderr, stdout, TestProject};

const COMPOSE: &str = r#"services:
  web:
    image: dops-test/busybox
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports:
      - "${WEB_PORT:?WEB_PORT}:8080"
    volumes:
      - ./www:/www:ro
    depends_on:
      api:
        condition: service_healthy
  api:
    image: dops-test/busybox
    # ready three seconds after it starts
    command: ["sh", "-c", "sleep 3 && touch /tmp/ready && exec sleep 3600"]
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ready"]
      interval: 1s
      timeout: 2s
      retries: 3
      start_period: 20s
      start_interval: 500ms
    secrets: [token]
secrets:
  token:
    file: ./token.txt
"#;

/// Import the Compose file into the (empty) project folder of `p`, the web port given.
fn import(p: &TestProject, src: &Path, port: u16) {
    let out = dops_command(src)
        .args(["import", "compose", "--into", p.dir.to_str().unwrap()])
        .env("WEB_PORT", port.to_string())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(stderr(&out), "", "nothing to report");
    // these tests are about the engine, not the DNS
    p.write("host.conf", NO_DNS);
}

fn get(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

fn epoch(rfc3339: &str) -> f64 {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339:?}: {e}"));
    t.unix_timestamp_nanos() as f64 / 1e9
}

fn state(p: &TestProject, instance: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(p.path(&format!(".dops/run/{instance}/state.json")))
        .unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_default()
}

#[test]
fn an_imported_compose_app_runs_answers_and_is_up_only_once_healthy() {
    let p = TestProject::new("compose-run");
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("compose.yaml"), COMPOSE).unwrap();
    std::fs::create_dir_all(src.path().join("www")).unwrap();
    std::fs::write(src.path().join("www/index.html"), "hello from compose\n").unwrap();
    std::fs::write(src.path().join("token.txt"), "s3cret\n").unwrap();
    let port = free_port();
    import(&p, src.path(), port);

    // what the importer generated: api first, web waits for it to be UP
    let run_conf = std::fs::read_to_string(p.path("run.conf")).unwrap();
    let api_at = run_conf.find("\"service\": \"api\"").unwrap();
    let web_at = run_conf.find("\"service\": \"web\"").unwrap();
    assert!(api_at < web_at, "{run_conf}");
    assert!(
        run_conf
            .contains("{\n        \"service\": \"api\",\n        \"condition\": \"up\"\n      }"),
        "{run_conf}"
    );

    let out = p.dops_ok(&["run:all", "--wait", "--timeout", "90"]);
    let progress = stderr(&out);
    assert!(!progress.contains("error"), "{progress}");
    assert!(
        progress.contains("api-1: WARMUP"),
        "held in WARMUP until healthy: {progress}"
    );

    // the app answers on its published port (busybox httpd serving the bind-mounted folder)
    // httpd is UP as soon as it is started, and may not listen yet.
    assert!(
        eventually(Duration::from_secs(10), || get(port)
            .is_some_and(|b| b.contains("hello from compose"))),
        "{:?}",
        get(port)
    );

    // api became UP only once its healthcheck passed, three seconds or more after it started
    let api = state(&p, "api-1");
    assert_eq!(api["state"], "UP", "{api}");
    assert_eq!(
        docker(&["exec", &p.container("api", "1"), "test", "-e", "/tmp/ready"])
            .status
            .code(),
        Some(0)
    );
    let started = epoch(&inspect("{{.State.StartedAt}}", &p.container("api", "1")));
    // "since" has the fraction of a second that "since_epoch" drops.
    let up = epoch(api["since"].as_str().unwrap());
    assert!(
        up - started >= 2.5,
        "UP {:.1} s after the start",
        up - started
    );
    // the secret file is mounted read-only at /run/secrets/<name>
    let api_c = p.container("api", "1");
    assert_eq!(
        stdout(&docker(&["exec", &api_c, "cat", "/run/secrets/token"])),
        "s3cret\n"
    );
    assert_ne!(
        docker(&["exec", &api_c, "sh", "-c", "echo x > /run/secrets/token"])
            .status
            .code(),
        Some(0),
        "read-only"
    );
    // and the monitor runs the healthcheck while UP
    let healthy = support::eventually(Duration::from_secs(20), || {
        state(&p, "api-1")["last_stats"]["health"] == "healthy"
    });
    assert!(healthy, "{}", state(&p, "api-1"));
}

/// `depends_on: condition: service_healthy` at run time: web starts only once api is UP.
#[test]
fn depends_on_service_healthy_starts_the_dependent_once_the_dependency_is_up() {
    let p = TestProject::new("compose-dep");
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("compose.yaml"), COMPOSE).unwrap();
    std::fs::create_dir_all(src.path().join("www")).unwrap();
    std::fs::write(src.path().join("www/index.html"), "hi\n").unwrap();
    std::fs::write(src.path().join("token.txt"), "s3cret\n").unwrap();
    import(&p, src.path(), free_port());
    p.dops_ok(&["run:all", "--wait", "--timeout", "90"]);
    let api_up = epoch(state(&p, "api-1")["since"].as_str().unwrap());
    let web_started = epoch(&inspect("{{.State.StartedAt}}", &p.container("web", "1")));
    assert!(
        web_started >= api_up,
        "web started {:.1} s before api was UP",
        api_up - web_started
    );
}
