//! `dops import compose` on the real binary: the realistic Compose files under tests/compose/
//! (written the way projects publish them) each import, and `dops plan:all` passes on the
//! result; both spellings, `--strict`, `--force`, Compose's file lookup. No engine needed.

mod support;

use std::path::{Path, PathBuf};

use support::{dops_in, stderr, stdout, Test};

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compose");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn run_conf(dir: &Path) -> serde_json::Value {
    let text: String = std::fs::read_to_string(dir.join("run.conf"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_realistic_compose_file_imports_and_plan_all_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let all = fixtures();
    assert!(all.len() >= 12, "{all:?}");
    for dir in all {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let into = tmp.path().join(&name);
        let out = dops_in(
            &dir,
            &["import", "compose", "--into", into.to_str().unwrap()],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: import failed\n{}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(
            stdout(&out).starts_with("imported "),
            "{name}: {}",
            stdout(&out)
        );
        for line in stderr(&out).lines() {
            assert!(line.starts_with("dops: warning: "), "{name}: {line}");
        }
        let plan = dops_in(&into, &["plan:all"]);
        assert_eq!(
            plan.status.code(),
            Some(0),
            "{name}: plan:all failed\n{}{}",
            stdout(&plan),
            stderr(&plan)
        );
        assert!(
            !stderr(&plan).contains("error"),
            "{name}: {}",
            stderr(&plan)
        );
        assert!(
            stdout(&plan).starts_with(&format!("plan for project {name}: ")),
            "{name}: {}",
            stdout(&plan)
        );
        // nothing was written beside the fixture
        assert!(
            !dir.join(&name).join("run.conf").exists(),
            "{name}: wrote into the fixture"
        );
    }
}

#[test]
fn what_the_realistic_files_become() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compose");
    let import = |name: &str| {
        let into = tmp.path().join(name);
        let out = dops_in(
            &root.join(name),
            &["import", "compose", "--into", into.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        (into, stderr(&out))
    };
    // voting app: health conditions become "up", a profiled service is not autorun, start order
    let (dir, warnings) = import("voting-app");
    let rc = run_conf(&dir);
    let services: Vec<&str> = rc
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["service"].as_str().unwrap())
        .collect();
    assert_eq!(
        services,
        vec!["redis", "vote", "db", "result", "worker", "seed"]
    );
    let worker = rc
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["service"] == "worker")
        .unwrap();
    assert_eq!(
        worker["depends_on"],
        serde_json::json!([{"service": "redis", "condition": "up"}, {"service": "db", "condition": "up"}])
    );
    let seed = rc
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["service"] == "seed")
        .unwrap();
    assert_eq!(seed["group"], "seed");
    assert_eq!(seed["autorun"], false);
    assert!(
        warnings.contains("compose.yaml:94:1: networks: several networks (back-tier, front-tier)"),
        "{warnings}"
    );
    // vote builds its dev target: the stages after it are gone
    let vote = std::fs::read_to_string(dir.join("services/vote/Dockerfile")).unwrap();
    assert!(
        vote.contains("FROM base AS dev") && !vote.contains("AS final"),
        "{vote}"
    );
    assert!(dir.join("services/vote/dops-compose/healthcheck").is_file());
    // the build context is copied honouring .dockerignore
    assert!(dir.join("services/result/server.js").is_file());

    // nginx-flask-mysql: the secret file is mounted read-only from beside the Compose file
    let (dir, _) = import("nginx-flask-mysql");
    let rc = run_conf(&dir);
    let db = rc
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["service"] == "db")
        .unwrap();
    let vols: Vec<&str> = db["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        vols.contains(&"data/volumes/db-data:/var/lib/mysql"),
        "{vols:?}"
    );
    assert!(
        vols.iter()
            .any(|v| v.ends_with("nginx-flask-mysql/db/password.txt:/run/secrets/db-password:ro")),
        "{vols:?}"
    );

    // env files: .env and env_file interpolated, the environment wins over .env
    let (dir, _) = import("env-files");
    let rc = run_conf(&dir);
    let api = rc
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["service"] == "api")
        .unwrap();
    assert_eq!(api["env_vars"]["GREETING"], "Hello, EUR customers");
    assert_eq!(api["env_vars"]["TZ"], "Europe/Paris");
    assert_eq!(api["restart"], "unless-stopped");
    let df = std::fs::read_to_string(dir.join("services/api/Dockerfile")).unwrap();
    assert!(
        df.starts_with("FROM registry.example.com/billing/api:2024.06\n"),
        "{df}"
    );
    assert!(df.contains("# dops: expose 8000 as 8010\n"), "{df}");

    // replicas: one entry per replica
    let (dir, _) = import("replicas");
    let rc = run_conf(&dir);
    let whoami: Vec<&str> = rc
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["service"] == "whoami")
        .map(|e| e["instance"].as_str().unwrap())
        .collect();
    assert_eq!(whoami, vec!["1", "2", "3"]);
}

const SMALL: &str =
    "services:\n  web:\n    image: busybox\n    ports: [\"8080:80\"]\n    mem_limit: 64m\n";

#[test]
fn both_spellings_write_the_same_project() {
    let t = Test::new("imp-spell")
        .write("app/compose.yaml", SMALL)
        .args(&["import:compose,file=app/compose.yaml,into=one"])
        .stdout_contains("imported ")
        .stderr("dops: warning: compose.yaml:5:5: services.web.mem_limit: not carried over: dops sets no resource limits\n")
        .run();
    let two = t.dir.join("two");
    let out = dops_in(
        &t.dir,
        &[
            "import",
            "compose",
            "--file",
            "app/compose.yaml",
            "--into",
            "two",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    for f in ["run.conf", "services/web/Dockerfile"] {
        assert_eq!(
            std::fs::read_to_string(t.dir.join("one").join(f)).unwrap(),
            std::fs::read_to_string(two.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn strict_refuses_and_writes_nothing() {
    let t = Test::new("imp-strict")
        .write("compose.yaml", SMALL)
        .args(&["import", "compose", "--strict", "--into", "out"])
        .stderr("dops: error: compose.yaml:5:5: services.web.mem_limit: not carried over: dops sets no resource limits\ndops: error: 1 thing(s) in compose.yaml do not carry over (--strict): nothing written\n")
        .status(2)
        .run();
    assert!(!t.dir.join("out").exists());
    // without findings, --strict imports
    Test::new("imp-strict-ok")
        .write("compose.yaml", "services:\n  web:\n    image: busybox\n")
        .args(&["import:compose,into=out,strict=true"])
        .stdout_contains("imported ")
        .run();
}

#[test]
fn an_existing_folder_needs_force_and_lookup_follows_compose() {
    // compose.yaml before docker-compose.yml; the default folder is beside it, named after the
    // Compose project (the `name` key here)
    let t = Test::new("imp-force")
        .write(
            "compose.yaml",
            "name: Shop\nservices:\n  web:\n    image: busybox\n",
        )
        .write(
            "docker-compose.yml",
            "services:\n  other:\n    image: busybox\n",
        )
        .args(&["import", "compose"])
        .stdout_contains("project shop, 1 service(s), 1 instance(s)")
        .run();
    assert!(t.dir.join("shop/services/web/Dockerfile").is_file());
    let again = dops_in(&t.dir, &["import", "compose"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already has files: the import would overwrite them"),
        "{}",
        stderr(&again)
    );
    let forced = dops_in(&t.dir, &["import", "compose", "--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
}

#[test]
fn no_compose_file_and_bad_files_are_usage_errors() {
    let t = Test::new("imp-none")
        .args(&["import", "compose"])
        .stderr_contains("no Compose file in ")
        .status(2)
        .run();
    drop(t);
    Test::new("imp-bad")
        .write("compose.yaml", "services:\n  web:\n    image: busybox\n    ports: [\"80:80/sctp\"]\n")
        .args(&["import", "compose"])
        .stderr("dops: error: compose.yaml:4:13: services.web.ports[0]: protocol \"sctp\": dops publishes tcp and udp\n")
        .status(2)
        .run();
    Test::new("imp-sub")
        .args(&["import:kompose"])
        .stderr("dops: error: unknown command 'import:kompose' (did you mean 'import:compose'?)\n")
        .status(2)
        .run();
}
