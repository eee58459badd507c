//! The demo project's files (demo/): run.conf, the service folders, the dops-init declarations,
//! the hooks, and the load balancer's handlebars template. No Docker here: these checks are
//! about the files `dops install_demo` copies out; the real-engine story test runs them.

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("demo")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// run.conf: JSON whose lines starting with `#` are comments.
fn run_conf() -> Vec<Value> {
    let text: String = read(&demo().join("run.conf"))
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let v: Value = serde_json::from_str(&text).expect("run.conf is JSON once comments are removed");
    v.as_array().expect("run.conf is a JSON list").clone()
}

fn services() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(demo().join("services"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// The merged `/dops/init.d` declaration of a service (its `dops/*.json`, in name order).
fn initd(service: &str) -> Value {
    let dir = demo().join("services").join(service).join("dops");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} declares nothing", dir.display());
    let mut merged = serde_json::Map::new();
    for f in files {
        let v: Value = serde_json::from_str(&read(&f))
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", f.display()));
        let obj = v
            .as_object()
            .unwrap_or_else(|| panic!("{} is not an object", f.display()));
        for (k, v) in obj {
            merged.insert(k.clone(), v.clone());
        }
    }
    Value::Object(merged)
}

/// `COPY src... dst` lines of a Dockerfile: (sources, destination).
fn copies(dockerfile: &str) -> Vec<(Vec<String>, String)> {
    dockerfile
        .lines()
        .filter_map(|l| l.trim().strip_prefix("COPY "))
        .map(|rest| {
            let mut words: Vec<String> = rest.split_whitespace().map(str::to_string).collect();
            let dst = words.pop().expect("COPY has a destination");
            (words, dst)
        })
        .collect()
}

#[test]
fn run_conf_declares_the_platform() {
    let entries = run_conf();
    let mut seen = BTreeSet::new();
    for e in &entries {
        let service = e["service"].as_str().expect("every entry names a service");
        let instance = e["instance"]
            .as_str()
            .expect("every entry names an instance");
        assert!(
            seen.insert((service.to_string(), instance.to_string())),
            "{service}/{instance} is declared twice"
        );
        assert!(
            demo()
                .join("services")
                .join(service)
                .join("Dockerfile")
                .is_file(),
            "run.conf names service {service} but demo/services/{service}/Dockerfile is missing"
        );
    }
    let of = |s: &str| -> Vec<&Value> { entries.iter().filter(|e| e["service"] == s).collect() };
    assert_eq!(of("web").len(), 2, "two web instances by default");
    let lb = of("lb");
    assert_eq!(lb.len(), 1);
    assert_eq!(
        lb[0]["instance_type"], "published",
        "the balancer reaches 127.0.0.1"
    );
    let pg = of("postgres");
    assert_eq!(pg.len(), 1);
    assert_eq!(pg[0]["instance"], "master");
    assert_eq!(
        pg[0]["instance_type"], "persistent",
        "the database keeps /data"
    );
}

#[test]
fn every_service_builds_from_the_base_image_and_copies_existing_files() {
    assert_eq!(services(), vec!["lb", "postgres", "web"]);
    for s in services() {
        let ctx = demo().join("services").join(&s);
        let df = read(&ctx.join("Dockerfile"));
        let from = df
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("FROM "))
            .unwrap_or_else(|| panic!("{s}: no FROM"));
        assert_eq!(from, "FROM dops/base:bookworm", "{s}");
        assert!(
            !df.contains("ENTRYPOINT"),
            "{s}: the base image's ENTRYPOINT (dops-init) must stay"
        );
        let cps = copies(&df);
        assert!(
            cps.iter().any(|(_, dst)| dst.starts_with("/dops/init.d/")),
            "{s}: no /dops/init.d declaration copied"
        );
        for (srcs, _) in cps {
            for src in srcs {
                assert!(
                    ctx.join(&src).exists(),
                    "{s}: COPY {src}: not in the context"
                );
            }
        }
    }
}

#[test]
fn programs_and_methods_are_declared() {
    let web = initd("web");
    assert!(web["programs"]["web"]["command"].is_array());
    assert_eq!(web["methods"]["monitor"], "/ww/usr/monitor");

    let lb = initd("lb");
    let haproxy = &lb["programs"]["haproxy"];
    let cmd: Vec<&str> = haproxy["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        cmd,
        [
            "haproxy",
            "-W",
            "-db",
            "-f",
            "/usr/local/etc/haproxy/haproxy.cfg"
        ],
        "master-worker mode, in the foreground"
    );
    assert_eq!(haproxy["reload_signal"], "SIGUSR2", "graceful reload");
    let watch = &lb["watches"]["web"];
    assert_eq!(watch["dns"], "web.local.zone");
    assert_eq!(watch["port"], 3000);
    assert_eq!(watch["template"], "/config/haproxy.cfg.hb");
    assert_eq!(watch["output"], "/usr/local/etc/haproxy/haproxy.cfg");
    assert_eq!(watch["reload"]["program"], "haproxy");
    assert_eq!(watch["validate"][0], "haproxy");
    // The paths the watch uses are where the Dockerfile puts the files.
    let df = read(&demo().join("services/lb/Dockerfile"));
    let dsts: Vec<String> = copies(&df).into_iter().map(|(_, d)| d).collect();
    assert!(dsts.contains(&"/config/haproxy.cfg.hb".to_string()));
    assert!(dsts.contains(&"/usr/local/etc/haproxy/haproxy.cfg".to_string()));

    let pg = initd("postgres");
    let server = &pg["programs"]["postgres"];
    assert_eq!(server["user"], "postgres");
    assert_eq!(server["stopsignal"], "SIGINT", "fast clean shutdown");
    assert!(pg["methods"]["validate"].is_string());
    assert!(pg["methods"]["monitor"].is_string());
}

/// Every hook and script is executable (COPY keeps the mode) and parses with its shell.
#[test]
fn hooks_are_executable_shell_scripts() {
    let mut checked = 0;
    for s in services() {
        let ctx = demo().join("services").join(&s);
        let mut stack = vec![ctx.clone()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                let shell = match text.lines().next() {
                    Some("#!/bin/sh") => "sh",
                    Some("#!/bin/bash") | Some("#!/usr/bin/env bash") => "bash",
                    _ => continue,
                };
                let mode = std::fs::metadata(&p).unwrap().permissions().mode();
                assert!(mode & 0o111 != 0, "{} is not executable", p.display());
                let out = Command::new(shell).arg("-n").arg(&p).output().unwrap();
                assert!(
                    out.status.success(),
                    "{} does not parse: {}",
                    p.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
                checked += 1;
            }
        }
    }
    for hook in [
        "web/ww/monitor",
        "lb/ww/monitor",
        "postgres/ww/firstboot",
        "postgres/ww/monitor",
    ] {
        assert!(
            demo().join("services").join(hook).is_file(),
            "{hook} missing"
        );
    }
    assert!(checked >= 8, "only {checked} scripts found");
}

fn render_lb(addresses: Value) -> String {
    let template = read(&demo().join("services/lb/config/haproxy.cfg.hb"));
    let hb = handlebars::Handlebars::new();
    hb.render_template(&template, &json!({ "addresses": addresses }))
        .expect("the template renders")
}

fn server_lines(cfg: &str) -> Vec<String> {
    cfg.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("server "))
        .map(str::to_string)
        .collect()
}

#[test]
fn lb_template_renders_for_zero_one_and_three_servers() {
    // With no member, the rendering is the configuration the image starts with.
    let zero = render_lb(json!([]));
    assert_eq!(
        zero,
        read(&demo().join("services/lb/config/haproxy.cfg")),
        "config/haproxy.cfg must be the template rendered with no address"
    );
    assert!(server_lines(&zero).is_empty());
    assert!(zero.contains("bind :80") && zero.contains("bind :8404"));

    let one = render_lb(json!([{"host": "web-one", "ip": "172.18.0.3", "port": 3000}]));
    assert_eq!(server_lines(&one), ["server web-one 172.18.0.3:3000 check"]);

    let three = render_lb(json!([
        {"host": "web-one", "ip": "172.18.0.3", "port": 3000},
        {"host": "web-two", "ip": "172.18.0.4", "port": 3000},
        {"host": "web-three", "ip": "172.18.0.7", "port": 3000}
    ]));
    assert_eq!(
        server_lines(&three),
        [
            "server web-one 172.18.0.3:3000 check",
            "server web-two 172.18.0.4:3000 check",
            "server web-three 172.18.0.7:3000 check"
        ]
    );
    // The server lines sit in the backend, before the stats frontend.
    let backend = three.find("backend web").unwrap();
    let stats = three.find("frontend stats").unwrap();
    let first = three.find("server web-one").unwrap();
    assert!(backend < first && first < stats);
}

/// `dops install_demo` embeds the files without their modes and writes `#!` files 0755, the rest
/// 0644: that rule must give every file of demo/ the mode it has in the repository.
#[test]
fn scripts_and_only_scripts_are_executable() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&demo(), &mut files);
    for f in files {
        let exec = std::fs::metadata(&f).unwrap().permissions().mode() & 0o111 != 0;
        let script = std::fs::read(&f).unwrap().starts_with(b"#!");
        assert_eq!(
            exec,
            script,
            "{}: executable {exec}, starts with #! {script}",
            f.display()
        );
    }
}

/// The binary embeds exactly the files of demo/, with their content: a file added to demo/ is
/// embedded at the next build (build.rs: `rerun-if-changed=demo`), never left out of
/// `dops install_demo` by a stale build.
#[test]
fn the_binary_embeds_every_file_of_the_demo_folder() {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dops"))
        .args(["install_demo", "copy"])
        .current_dir(tmp.path())
        .env("DOPS_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (mut source, mut installed) = (BTreeSet::new(), BTreeSet::new());
    walk(&demo(), &demo(), &mut source);
    walk(
        &tmp.path().join("copy"),
        &tmp.path().join("copy"),
        &mut installed,
    );
    let names = |s: &BTreeSet<(String, Vec<u8>)>| -> Vec<String> {
        s.iter().map(|(n, _)| n.clone()).collect()
    };
    assert_eq!(names(&installed), names(&source));
    assert!(
        installed == source,
        "a demo file's content differs from demo/"
    );
    assert!(
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("build.rs"))
            .unwrap()
            .contains("cargo:rerun-if-changed=demo"),
        "build.rs reruns when demo/ changes"
    );
}
