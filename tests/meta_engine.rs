//! Real-engine tests of the image metadata (issue 8): a parent and a child dops service built at
//! two different git commits, the real dops-init injected; then the real `dops` binary:
//! `examine` shows both images in order with their commits, `validate:all` fails naming the
//! failing instance, `update` runs UPDATE, `status` shows the monitor blob; and inside a
//! container `container --examine` reads the same chain from `/dops/meta`.

mod engine_support;
mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use dops::engine;
use dops::labels;
use dops::plan::{ContainerSpec, Plan, Step};
use engine_support::{build_step, fixed_env, quiet_apply_context, standard_instance_spec};
use support::{docker, eventually, git, stdout, Running, TestProject};

fn spec(p: &TestProject, service: &str, instance: &str) -> ContainerSpec {
    standard_instance_spec(
        p,
        service,
        instance,
        vec![
            fixed_env("SERVICE", service),
            fixed_env("INSTANCE", instance),
            fixed_env("DOPS_INIT_MONITOR_INTERVAL", "0.3"),
        ],
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn parent_and_child_metadata_validate_update_and_status() {
    // The real init: the `container` personality and the monitor loop are what is under test.
    let p = TestProject::new("meta-chain");
    let name = p.name.clone();
    p.write(".gitignore", ".dops/\n");
    p.write(
        "services/base/Dockerfile",
        "FROM dops-test/busybox\nCOPY 10-base.json /dops/init.d/10-base.json\n",
    );
    p.write(
        "services/base/10-base.json",
        r#"{"methods": {"validate": "echo base-validate", "update": "echo updated-by-base"}}"#,
    );
    git(&p.dir, &["init", "-q"]);
    git(&p.dir, &["add", "."]);
    git(&p.dir, &["commit", "-q", "-m", "base"]);
    let base_commit = git(&p.dir, &["rev-parse", "HEAD"]);

    let eng = engine::connect().await.expect("engine");
    let plan = Plan {
        project: name.clone(),
        steps: vec![Step::Build(build_step(&p, "base", &[]))],
    };
    engine::apply(&eng, &plan, &quiet_apply_context(&p.dir))
        .await
        .expect("build base");

    // The child, at a second commit.
    p.write(
        "services/app/Dockerfile",
        &format!(
            "FROM {name}/base\nCOPY 50-app.json /dops/init.d/50-app.json\nCOPY monitor /ww/usr/monitor\nCMD [\"sleep\",\"3600\"]\n"
        ),
    );
    p.write(
        "services/app/50-app.json",
        r#"{"methods": {"validate": "echo checking $INSTANCE; test \"$INSTANCE\" != two || { echo 'port 80 closed' >&2; exit 4; }", "monitor": "/ww/usr/monitor"}}"#,
    );
    p.write(
        "services/app/monitor",
        "#!/bin/sh\necho '{\"rps\": 42, \"instance\": \"'$INSTANCE'\"}'\n",
    );
    std::fs::set_permissions(
        p.path("services/app/monitor"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    git(&p.dir, &["add", "."]);
    git(&p.dir, &["commit", "-q", "-m", "app"]);
    let app_commit = git(&p.dir, &["rev-parse", "HEAD"]);
    assert_ne!(base_commit, app_commit);

    let (one, two) = (spec(&p, "app", "one"), spec(&p, "app", "two"));
    let plan = Plan {
        project: name.clone(),
        steps: vec![
            Step::EnsureNetwork {
                name: name.clone(),
                labels: BTreeMap::from([(labels::PROJECT.to_string(), name.clone())]),
            },
            Step::Build(build_step(&p, "app", &["base"])),
            Step::Run(Box::new(one.clone())),
            Step::Run(Box::new(two.clone())),
        ],
    };
    engine::apply(&eng, &plan, &quiet_apply_context(&p.dir))
        .await
        .expect("build and run app");

    // Labels on the image: OCI keys and the methods.
    let label = |key: &str| {
        stdout(&docker(&[
            "inspect",
            "--format",
            &format!("{{{{index .Config.Labels \"{key}\"}}}}"),
            &format!("{name}/app"),
        ]))
        .trim()
        .to_string()
    };
    assert_eq!(label("org.opencontainers.image.revision"), app_commit);
    assert_eq!(
        label("org.opencontainers.image.title"),
        format!("{name}/app")
    );
    assert_eq!(
        label("org.opencontainers.image.base.name"),
        format!("{name}/base")
    );
    assert_eq!(label("io.dops.git.dirty"), "false");
    assert_eq!(label("io.dops.meta.level"), "1");
    assert_eq!(label("io.dops.method.update"), "echo updated-by-base");
    assert_eq!(
        label("io.dops.method.validate"),
        "echo checking $INSTANCE; test \"$INSTANCE\" != two || { echo 'port 80 closed' >&2; exit 4; }"
    );

    // Host: examine the child shows base then app, each with its own commit.
    let out = p.dops_ok(&["examine:app"]);
    let s = stdout(&out);
    let b = s
        .find(&format!("Metadata for image {name}/base"))
        .unwrap_or_else(|| panic!("{s}"));
    let a = s
        .find(&format!("Metadata for image {name}/app"))
        .unwrap_or_else(|| panic!("{s}"));
    assert!(b < a, "{s}");
    assert!(s[b..a].contains(&format!("Git Hash: {base_commit}")), "{s}");
    assert!(s[a..].contains(&format!("Git Hash: {app_commit}")), "{s}");
    assert!(s[b..a].contains("Service Name: base"), "{s}");
    assert!(s[b..a].contains("Base Image: dops-test/busybox"), "{s}");
    assert!(s[a..].contains("Service Name: app"), "{s}");
    assert!(s[a..].contains(&format!("Base Image: {name}/base")), "{s}");
    assert!(s.contains("Container supports UPDATE method using command echo updated-by-base"));

    let out = p.dops_ok(&["examine:app,instance=two", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let chain = v[0]["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[0]["git"]["commit"], base_commit.as_str());
    assert_eq!(chain[1]["git"]["commit"], app_commit.as_str());
    assert_eq!(chain[0]["service"], "base");
    assert_eq!(chain[1]["service"], "app");
    assert_eq!(v[0]["runtime"]["container"], two.name.as_str());
    assert!(v[0]["runtime"]["created"][1].as_i64().unwrap() > 1_700_000_000);

    // Inside: `container --examine` reads /dops/meta (one file per image, in ancestry order).
    let out = docker(&[
        "exec",
        &one.name,
        "/dops/bin/container",
        "--metadata",
        "--all",
    ]);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let commits: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["git"]["commit"].as_str().unwrap())
        .collect();
    assert_eq!(commits, [base_commit.as_str(), app_commit.as_str()]);
    let ls = stdout(&docker(&["exec", &one.name, "ls", "/dops/meta"]));
    assert_eq!(ls, format!("00-{name}-base.json\n01-{name}-app.json\n"));
    let out = docker(&["exec", &one.name, "/dops/bin/container", "--examine"]);
    let s = text(&out.stdout);
    assert!(s.starts_with("Container started at "), "{s}");
    assert!(s.contains(&format!("Git Hash: {app_commit}")));

    // validate:all fails and names the failing instance; the other passes.
    let out = p.dops(&["validate:all"]);
    let s = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{s}\n{}", text(&out.stderr));
    assert!(s.contains(&format!("PASS  {}", one.name)), "{s}");
    assert!(s.contains(&format!("FAIL  {}  exit 4", two.name)), "{s}");
    assert!(s.contains("| port 80 closed"), "{s}");
    assert!(
        s.ends_with(&format!(
            "validate: 1 passed, 1 failed, 0 skipped (failed: {})\n",
            two.name
        )),
        "{s}"
    );
    // Only the passing instance: exit 0.
    let out = p.dops(&["validate:app,instance=one", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["results"][0]["output"], "checking one\n");

    // update runs UPDATE (inherited from the parent) everywhere.
    let out = p.dops_ok(&["update:app"]);
    let s = stdout(&out);
    assert!(s.contains("| updated-by-base"), "{s}");
    assert!(
        s.ends_with("update: 2 passed, 0 failed, 0 skipped\n"),
        "{s}"
    );

    // status: the monitor blob from the init's monitor loop, via the bind-mounted state file.
    let deadline = Instant::now() + Duration::from_secs(30);
    let rows = loop {
        let out = p.dops_ok(&["status", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let ready = v.as_array().is_some_and(|rows| {
            rows.len() == 2
                && rows
                    .iter()
                    .all(|r| r["lifecycle"]["last_stats"]["rps"] == 42)
        });
        if ready {
            break v;
        }
        assert!(Instant::now() < deadline, "no monitor blob in time: {v:#}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(rows[0]["container"], one.name.as_str());
    assert_eq!(rows[0]["lifecycle"]["state"], "UP");
    assert_eq!(rows[1]["lifecycle"]["last_stats"]["instance"], "two");
    let s = stdout(&p.dops_ok(&["status:app"]));
    assert!(s.starts_with("INSTANCE "), "{s}");
    assert!(s.contains("{\"rps\":42,\"instance\":\"one\"}"), "{s}");
    let line = s.lines().find(|l| l.starts_with(&two.name)).unwrap();
    assert!(line.contains(" UP "), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_without_running_instances_and_examine_of_nothing() {
    let p = TestProject::new("meta-none");
    let out = p.dops(&["validate:all"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("no running instance of all"), "{err}");
    let out = p.dops(&["examine:ghost"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("nothing to examine for ghost"),
        "{}",
        text(&out.stderr)
    );
    let out = p.dops_ok(&["status"]);
    assert_eq!(
        stdout(&out),
        "no instances (hint: start some with `dops run:all`)\n"
    );
}

/// `dops build --cause`, the CI environment, and a project that is not a git checkout.
#[test]
fn build_cause_and_ci_through_the_cli() {
    let p = TestProject::new("meta-cause");
    p.write("host.conf", "{\"DNS\": false}\n");
    p.write(
        "services/web/Dockerfile",
        "FROM dops-test/busybox\nCMD [\"sleep\",\"3600\"]\n",
    );
    let label = |key: &str| {
        stdout(&docker(&[
            "inspect",
            "--format",
            &format!("{{{{index .Config.Labels \"{key}\"}}}}"),
            &format!("{}/web", p.name),
        ]))
        .trim()
        .to_string()
    };
    p.dops_ok(&["build:web", "--cause", "nightly"]);
    assert_eq!(label("io.dops.build.cause"), "nightly");
    assert_eq!(
        label("org.opencontainers.image.revision"),
        "",
        "not a git checkout"
    );
    let s = stdout(&p.dops_ok(&["examine:web"]));
    assert!(s.contains("Build Cause: nightly"), "{s}");
    assert!(s.contains("Git Hash: not a git checkout"), "{s}");
    assert!(
        s.contains("Container declares no management methods"),
        "{s}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_dops"))
        .args(["build:web", "--no-cache"])
        .current_dir(&p.dir)
        .env("CI", "true")
        .env("DOPS_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(label("io.dops.build.cause"), "ci");
    assert_eq!(label("io.dops.build.ci"), "true");
    let v: serde_json::Value =
        serde_json::from_slice(&p.dops_ok(&["examine:web", "--json"]).stdout).unwrap();
    assert_eq!(v[0]["chain"][0]["cause"], "ci");
    assert_eq!(v[0]["chain"][0]["level"], 0);
    assert_eq!(v[0]["chain"][0]["git"], serde_json::Value::Null);
}

/// `status --watch` redraws until Ctrl-C (SIGINT), then exits 0.
#[test]
fn status_watch_redraws_until_interrupted() {
    let p = TestProject::new("meta-watch");
    let mut watch = Running::start(&p.dir, &["status", "--watch"]);
    let text = |w: &Running| -> String {
        w.lines()
            .into_iter()
            .map(|(_, l)| l + "\n")
            .collect::<String>()
    };
    // Frames come every 2 s after the first snapshot; a loaded machine may take a while to
    // start, so the test waits for two rather than sleeping a fixed time.
    assert!(
        eventually(Duration::from_secs(20), || text(&watch)
            .matches("\x1b[H\x1b[2J")
            .count()
            >= 2),
        "not redrawn: {:?} {}",
        text(&watch),
        watch.stderr()
    );
    let started = Instant::now();
    assert_eq!(watch.interrupt(libc::SIGINT), Some(0), "{}", watch.stderr());
    assert!(started.elapsed() < Duration::from_secs(5));
    let s = text(&watch);
    assert!(
        s.contains(&format!("dops status: project {}", p.name)),
        "{s:?}"
    );
    assert!(s.contains("no instances"), "{s:?}");
}
