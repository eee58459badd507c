//! The demo on a 3-node Docker Swarm (tests/swarm/testbed.sh: three engines in containers on
//! this machine, a registry, built from local images and Debian's packages), driven by the real
//! dops with `"ENGINE": "swarm"` in host.conf:
//!
//! 1. `run:all --wait`: web one and two on different nodes; every instance UP with its node in
//!    `dops ps`; `dops nodes` shows where postgres' data lives;
//! 2. both web instances answer through the balancer (its host-mode port on its node);
//! 3. `run:web,instance=three` joins the balancer;
//! 4. a change (an env var of web one and two) rolled out start-first, one at a time, with
//!    HAProxy's retries off: no failed request;
//! 5. a failing release of web one is rolled back by Swarm and reported as a failure (exit 1);
//!    web two is not touched and nothing fails through the balancer;
//! 6. `clean:web,instance=one`: no failed request;
//! 7. postgres' data survives `rerun:postgres`, which keeps it on its node;
//! 8. a worker node running web instances is killed: they come back on other nodes, register
//!    again, and the balancer serves them.
//!
//! Everything is torn down at the end, also on failure (the bed's `down`, the project's images).
//! Every wait is bounded.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::load::{now, summary, Load};
use support::{until_some, TestProject};

const BED: &str = "dops-swarm-test";

/// The test bed, up for the test and always down afterwards.
struct Bed {
    env: BTreeMap<String, String>,
}

fn testbed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/swarm/testbed.sh")
}

fn bed_command(verb: &str) -> Command {
    let mut c = Command::new(testbed());
    c.arg(verb)
        .env("DOPS_SWARMBED_NAME", BED)
        // A killed node is Down in about 4 s instead of 13 s.
        .env("DOPS_SWARMBED_HEARTBEAT", "1s")
        .env_remove("DOCKER_HOST");
    c
}

impl Bed {
    fn up() -> Bed {
        let t = Instant::now();
        let out = bed_command("up").output().expect("run testbed.sh");
        assert!(
            out.status.success(),
            "testbed.sh up failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let env = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once('=')?;
                Some((k.to_string(), v.trim_matches('"').to_string()))
            })
            .collect::<BTreeMap<_, _>>();
        assert!(env.contains_key("DOCKER_HOST"), "no environment: {out:?}");
        println!("swarm: test bed up in {:.1} s", t.elapsed().as_secs_f64());
        Bed { env }
    }

    fn get(&self, k: &str) -> &str {
        self.env
            .get(k)
            .unwrap_or_else(|| panic!("{k} not in {:?}", self.env))
    }

    /// A node's address on the bed network, by its name.
    fn node_ip(&self, node: &str) -> String {
        for i in 1..=3 {
            if self.get(&format!("DOPS_SWARM_NODE{i}")) == node {
                return self.get(&format!("DOPS_SWARM_NODE{i}_IP")).to_string();
            }
        }
        panic!("no node {node}")
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        let _ = bed_command("down").output();
    }
}

/// The real dops in the project folder with the manager as DOCKER_HOST, killed after `limit_s`.
fn dops_status(p: &TestProject, bed: &Bed, limit_s: u64, args: &[&str]) -> Output {
    Command::new("timeout")
        .args(["-k", "5", &limit_s.to_string(), env!("CARGO_BIN_EXE_dops")])
        .args(args)
        .current_dir(&p.dir)
        .env("DOPS_LOG", "warn")
        .env("DOPS_INIT_BIN", support::test_init())
        .env("DOCKER_HOST", bed.get("DOCKER_HOST"))
        .output()
        .expect("run dops")
}

fn dops(p: &TestProject, bed: &Bed, limit_s: u64, args: &[&str]) -> Output {
    let out = dops_status(p, bed, limit_s, args);
    assert!(
        out.status.success(),
        "dops {args:?} failed ({:?}, limit {limit_s} s)\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The docker CLI on the bed's manager.
fn docker_on(bed: &Bed, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .args(["-k", "5", "60", "docker"])
        .args(args)
        .env("DOCKER_HOST", bed.get("DOCKER_HOST"))
        .output()
        .expect("run docker");
    assert!(out.status.success(), "docker {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// How often the story polls what it waits for.
const POLL: Duration = Duration::from_millis(100);

/// `dops --json ps` as (instance → (state, node)).
fn ps(p: &TestProject, bed: &Bed) -> BTreeMap<String, (String, String)> {
    let out = dops(p, bed, 60, &["--json", "ps"]);
    let rows: Value = serde_json::from_slice(&out.stdout).expect("ps --json");
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!(
                    "{}-{}",
                    r["service"].as_str().unwrap(),
                    r["instance"].as_str().unwrap()
                ),
                (
                    r["state"].as_str().unwrap_or_default().to_string(),
                    r["node"].as_str().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect()
}

fn psql(p: &TestProject, bed: &Bed, sql: &str) -> String {
    let out = dops(p, bed, 60, &support::demo_psql(sql));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Set (or replace) web one's and two's env_vars in run.conf.
fn set_web_env(p: &TestProject, one: &str, two: &str) {
    let conf = std::fs::read_to_string(p.path("run.conf")).unwrap();
    let mut lines: Vec<String> = conf.lines().map(str::to_string).collect();
    for l in lines.iter_mut() {
        for (inst, vars) in [("one", one), ("two", two)] {
            if l.contains("\"service\": \"web\"")
                && l.contains(&format!("\"instance\": \"{inst}\""))
            {
                *l = format!(
                    "  {{\"service\": \"web\", \"instance\": \"{inst}\", \"env_vars\": {{\"DNS_PORT\": \"3000\"{vars}}}}},"
                );
            }
        }
    }
    std::fs::write(p.path("run.conf"), lines.join("\n") + "\n").unwrap();
}

#[test]
fn the_demo_on_a_three_node_swarm() {
    let t_all = Instant::now();
    let bed = Bed::up();
    let p = TestProject::new("swarm");
    dops(&p, &bed, 30, &["install_demo"]);
    p.write(
        "host.conf",
        &format!(
            r#"{{"ENGINE": "swarm", "REGISTRY": "{}", "REGISTRY_PUSH": "{}",
 "BUILD_ENGINE": "unix:///var/run/docker.sock", "NODE_ENGINE": "tcp://{{addr}}:2375"}}"#,
            bed.get("DOPS_SWARM_REGISTRY"),
            bed.get("DOPS_SWARM_REGISTRY_HOST")
        ),
    );
    // HAProxy's retries off: the drain and the UP-gated DNS do the work, not the retries.
    let tpl = p.path("services/lb/config/haproxy.cfg.hb");
    let cfg = std::fs::read_to_string(&tpl).unwrap();
    let no_retries = cfg
        .replace("    retries 3\n", "    retries 0\n")
        .replace("    option redispatch 1\n", "")
        .replace("    retry-on conn-failure empty-response\n", "");
    assert!(no_retries.contains("retries 0") && !no_retries.contains("redispatch"));
    std::fs::write(&tpl, no_retries).unwrap();

    // 1. run:all on the swarm.
    let t = Instant::now();
    dops(&p, &bed, 900, &["run:all", "--wait", "--timeout=300"]);
    println!(
        "swarm: run:all --wait {:.1} s (builds included)",
        t.elapsed().as_secs_f64()
    );
    let placed = ps(&p, &bed);
    println!("swarm: placement {placed:?}");
    for name in [
        "dops-dns-master",
        "web-one",
        "web-two",
        "lb-master",
        "postgres-master",
    ] {
        let (state, node) = placed
            .get(name)
            .unwrap_or_else(|| panic!("{name}: {placed:?}"));
        assert_eq!(state, "UP", "{name}: {placed:?}");
        assert!(node.starts_with(BED), "{name} has no node: {placed:?}");
    }
    assert_ne!(placed["web-one"].1, placed["web-two"].1, "{placed:?}");
    // Every instance's DNS key is a swarm secret at its key file's path, never in its environment.
    for name in ["dops-dns-master", "web-one", "postgres-master"] {
        let service = format!("{}-{name}", p.name);
        let spec = docker_on(
            &bed,
            &[
                "service",
                "inspect",
                &service,
                "--format",
                "{{json .Spec.TaskTemplate.ContainerSpec}}",
            ],
        );
        assert!(
            spec.contains("\"Name\":\"/run/dops/dns.key\"") && spec.contains("\"Mode\":256"),
            "{service}: no key secret at /run/dops/dns.key, 0400: {spec}"
        );
        assert!(
            spec.contains(&format!("\"SecretName\":\"{service}-dnskey-")),
            "{spec}"
        );
        assert!(
            spec.contains("DNS_KEY_FILE=/run/dops/dns.key") && !spec.contains("DNS_KEY="),
            "{service}: {spec}"
        );
    }
    let pg_node = placed["postgres-master"].1.clone();
    let nodes = String::from_utf8_lossy(&dops(&p, &bed, 60, &["nodes"]).stdout).to_string();
    let pg_line = nodes
        .lines()
        .find(|l| l.starts_with(&pg_node))
        .unwrap_or_else(|| panic!("{nodes}"));
    assert!(pg_line.contains("postgres-master"), "{nodes}");

    // 2. through the balancer on its node: both web answer.
    let site: SocketAddr = format!("{}:80", bed.node_ip(&placed["lb-master"].1))
        .parse()
        .unwrap();
    let load = Load::start(site, 2);
    until_some(
        30.0,
        POLL,
        "web one and two served through the balancer",
        || (load.first("one").is_some() && load.first("two").is_some()).then_some(()),
    );

    // 3. a third web instance joins.
    let r0 = now();
    dops(&p, &bed, 120, &["run:web,instance=three", "--wait"]);
    let up = now();
    let served = until_some(15.0, POLL, "web three served", || {
        load.first_since("three", r0)
    });
    println!(
        "swarm: web three UP after {:.1} s, served {:.2} s after UP",
        up - r0,
        served - up
    );

    // 4. a change rolled out, start-first, one at a time.
    set_web_env(&p, ", \"RELEASE\": \"2\"", ", \"RELEASE\": \"2\"");
    let r0 = now();
    let out = dops(&p, &bed, 400, &["run:web"]);
    let r1 = now();
    std::thread::sleep(Duration::from_millis(1500));
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    let at = |needle: &str| {
        log.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{log}"))
    };
    let (one, two) = (p.container("web", "one"), p.container("web", "two"));
    assert!(
        at(&format!("updated service {one} (UP)")) < at(&format!("{two}: updating (start-first)")),
        "one at a time:\n{log}"
    );
    let failed = load.failures_between(r0, now());
    println!(
        "swarm: roll-out of web one and two (start-first, retries off) {:.1} s, {} failed",
        r1 - r0,
        failed.len()
    );
    assert!(failed.is_empty(), "failed during the roll-out: {failed:?}");

    // 5. a failing release: rolled back by Swarm, reported as a failure.
    set_web_env(
        &p,
        ", \"RELEASE\": \"3\", \"WEB_PORT\": \"bad\"",
        ", \"RELEASE\": \"3\"",
    );
    let r0 = now();
    let out = dops_status(&p, &bed, 400, &["run:web"]);
    let r1 = now();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("{one} did not come up")), "{err}");
    assert!(err.contains("rolled back"), "{err}");
    assert!(
        err.contains("httpd: bad port 'bad'"),
        "the failed task's log: {err}"
    );
    assert!(
        !err.contains(&format!("{two}: updating")),
        "the roll-out stopped at web one:\n{err}"
    );
    std::thread::sleep(Duration::from_millis(1000));
    let failed = load.failures_between(r0, now());
    println!(
        "swarm: failing release rolled back in {:.1} s, {} failed",
        r1 - r0,
        failed.len()
    );
    assert!(failed.is_empty(), "failed during the rollback: {failed:?}");
    let r0 = now();
    until_some(10.0, POLL, "web one still served", || {
        load.first_since("one", r0)
    });
    set_web_env(&p, ", \"RELEASE\": \"2\"", ", \"RELEASE\": \"2\"");

    // 6. clean web one: no failed request.
    let c0 = now();
    dops(&p, &bed, 120, &["clean:web,instance=one"]);
    let c1 = now();
    std::thread::sleep(Duration::from_millis(1500));
    let failed = load.failures_between(c0, now());
    assert!(failed.is_empty(), "failed during clean: {failed:?}");
    let last_one = load.last("one").unwrap_or(0.0);
    assert!(last_one <= c1 + 0.5, "web one served after clean");
    println!("swarm: clean:web,instance=one {:.1} s, 0 failed", c1 - c0);

    // 7. postgres' data survives rerun, on its node.
    let marker = format!("swarm-{}", std::process::id());
    let id = psql(
        &p,
        &bed,
        &format!("insert into visits (instance, path) values ('swarm', '/{marker}') returning id"),
    );
    assert!(!id.is_empty());
    let t = Instant::now();
    dops(&p, &bed, 300, &["rerun:postgres", "--wait"]);
    let rerun_s = t.elapsed().as_secs_f64();
    let back = psql(
        &p,
        &bed,
        &format!("select id from visits where path = '/{marker}'"),
    );
    assert_eq!(back, id, "the row written before rerun");
    assert_eq!(ps(&p, &bed)["postgres-master"].1, pg_node, "postgres moved");
    println!("swarm: rerun:postgres {rerun_s:.1} s, row {id} still there on {pg_node}");

    // 8. kill a worker node running web instances (not the manager, not postgres' node).
    let placed = ps(&p, &bed);
    let manager = bed.get("DOPS_SWARM_NODE1").to_string();
    let victim = ["web-two", "web-three"]
        .iter()
        .map(|w| placed[*w].1.clone())
        .find(|n| *n != manager && *n != pg_node)
        .unwrap_or_else(|| panic!("no web instance on a killable worker: {placed:?}"));
    let moved: Vec<&str> = placed
        .iter()
        .filter(|(_, (_, n))| *n == victim)
        .map(|(name, _)| name.as_str())
        .collect();
    let k0 = now();
    let killed = Command::new("docker")
        .args(["kill", &victim])
        .env_remove("DOCKER_HOST")
        .output()
        .unwrap();
    assert!(killed.status.success(), "{killed:?}");
    let back = until_some(
        90.0,
        POLL,
        "the killed node's instances UP elsewhere",
        || {
            let now_placed = ps(&p, &bed);
            moved
                .iter()
                .all(|m| {
                    now_placed
                        .get(*m)
                        .is_some_and(|(s, n)| s == "UP" && *n != victim)
                })
                .then_some(now_placed)
        },
    );
    let up_again = now();
    // The balancer (perhaps moved too) serves the web instances of the dead node again.
    let site: SocketAddr = format!("{}:80", bed.node_ip(&back["lb-master"].1))
        .parse()
        .unwrap();
    let load2 = Load::start(site, 2);
    for m in &moved {
        if let Some(inst) = m.strip_prefix("web-") {
            until_some(30.0, POLL, &format!("{m} served again"), || {
                load2.first_since(inst, up_again)
            });
        }
    }
    println!(
        "swarm: node {victim} killed: {moved:?} UP on other nodes after {:.1} s, served again after {:.1} s",
        up_again - k0,
        now() - k0
    );
    let _ = load2.finish();
    let hits = load.finish();
    println!("swarm: load before the kill: {}", summary(&hits));

    dops(&p, &bed, 300, &["clean:all", "--purge", "--yes"]);
    let secrets = docker_on(
        &bed,
        &[
            "secret",
            "ls",
            "--filter",
            &format!("label=io.dops.project={}", p.name),
            "--format",
            "{{.Name}}",
        ],
    );
    assert!(secrets.trim().is_empty(), "key secrets left: {secrets}");
    println!(
        "swarm: the whole story took {:.1} s",
        t_all.elapsed().as_secs_f64()
    );
}
