//! The real `dops-init` binary invoked as `container` (a symlink, as in images) against a fake
//! image root (`DOPS_INIT_ROOT`) holding a two-image metadata chain and init.d fragments.

use std::path::PathBuf;
use std::process::{Command, Output};

use dops::meta::{BuildMeta, GitInfo, Methods, SCHEMA};

struct Root {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    link: PathBuf,
}

fn meta(level: u32, service: &str, commit: &str, methods: Methods) -> BuildMeta {
    BuildMeta {
        schema: SCHEMA,
        level,
        project: "pkg".into(),
        service: service.into(),
        image: format!("pkg/{service}"),
        tags: vec![format!("pkg/{service}:latest")],
        build_time: "2026-11-23T10:00:00Z".into(),
        build_time_epoch: 1_795_341_600,
        build_host: "builder".into(),
        git: Some(GitInfo {
            commit: commit.into(),
            dirty: false,
            source: None,
            describe: None,
        }),
        cause: "ci".into(),
        ci: true,
        dops_version: "0.1.0".into(),
        base_image: None,
        methods,
        entrypoints: vec![],
        ancestors: vec![],
    }
}

fn setup(initd: &[(&str, &str)]) -> Root {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let meta_dir = root.join("dops/meta");
    std::fs::create_dir_all(&meta_dir).unwrap();
    let base = meta(
        0,
        "base",
        "aaaa",
        Methods {
            validate: Some("true".into()),
            ..Methods::default()
        },
    );
    let app = meta(
        1,
        "app",
        "bbbb",
        Methods {
            validate: Some("exit 9".into()),
            ..Methods::default()
        },
    );
    for m in [&base, &app] {
        std::fs::write(meta_dir.join(m.json_file_name()), m.to_json()).unwrap();
    }
    if !initd.is_empty() {
        let dir = root.join("dops/init.d");
        std::fs::create_dir_all(&dir).unwrap();
        for (name, content) in initd {
            std::fs::write(dir.join(name), content).unwrap();
        }
    }
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("container");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_dops-init"), &link).unwrap();
    Root {
        _tmp: tmp,
        root,
        link,
    }
}

impl Root {
    fn container(&self, args: &[&str]) -> Output {
        Command::new(&self.link)
            .args(args)
            .env("DOPS_INIT_ROOT", &self.root)
            .env("OUT", self.root.join("out.txt"))
            .output()
            .expect("run container")
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const INITD: &[(&str, &str)] = &[
    (
        "10-base.json",
        r#"{"methods": {"validate": "echo base-validate", "update": "echo updating; echo \"$DOPS_METHOD\" > \"$OUT\""}}"#,
    ),
    (
        "50-app.json",
        r#"{"methods": {"validate": "echo app-validate >&2; exit 3", "monitor": "echo '{\"rps\": 12}'"}}"#,
    ),
];

#[test]
fn metadata_prints_this_image_or_the_chain() {
    let r = setup(INITD);
    let out = r.container(&["--metadata"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["service"], "app");
    assert_eq!(v["git"]["commit"], "bbbb");
    assert_eq!(v["level"], 1);

    let out = r.container(&["--metadata", "--all"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let commits: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["git"]["commit"].as_str().unwrap())
        .collect();
    assert_eq!(commits, ["aaaa", "bbbb"]);
}

#[test]
fn examine_shows_methods_and_every_image_in_order() {
    let r = setup(INITD);
    let out = r.container(&["--examine"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let s = text(&out.stdout);
    assert!(s.contains(
        "   Container supports VALIDATE method using command echo app-validate >&2; exit 3\n"
    ));
    assert!(s.contains("   Container supports MONITOR method using command echo"));
    let base = s.find("Metadata for image pkg/base").expect(&s);
    let app = s.find("Metadata for image pkg/app").expect(&s);
    assert!(base < app, "{s}");
    assert!(s[base..app].contains("Git Hash: aaaa"));
    assert!(s[app..].contains("Git Hash: bbbb"));
    assert!(s[app..].contains("VALIDATE: exit 9"), "{s}");
    // Not started under a real PID 1 of ours: no start line with a custom root.
    assert!(!s.contains("Container started at"));

    let out = r.container(&["--examine", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["chain"][1]["service"], "app");
    assert_eq!(v["methods"]["validate"], "echo app-validate >&2; exit 3");
}

#[test]
fn validate_passes_the_method_exit_code_through() {
    let r = setup(INITD);
    let out = r.container(&["--validate"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(text(&out.stderr), "app-validate\n");

    let ok = setup(&[("10-a.json", r#"{"methods": {"validate": "echo fine"}}"#)]);
    let out = ok.container(&["--validate"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "fine\n");
}

#[test]
fn update_and_monitor_run_their_commands() {
    let r = setup(INITD);
    let out = r.container(&["--update"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(text(&out.stdout), "updating\n");
    assert_eq!(
        std::fs::read_to_string(r.root.join("out.txt")).unwrap(),
        "update\n"
    );
    let out = r.container(&["--monitor"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rps"], 12);
}

#[test]
fn missing_method_is_a_config_error_with_a_hint() {
    let r = setup(INITD);
    let out = r.container(&["--start"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "container: no START method declared (hint: add \"methods\": {\"start\": \"<command>\"} to a /dops/init.d/*.json fragment)\n"
    );
}

#[test]
fn without_initd_the_build_metadata_methods_apply() {
    let r = setup(&[]);
    let out = r.container(&["--validate"]);
    assert_eq!(out.status.code(), Some(9), "{out:?}");
}

#[test]
fn broken_initd_is_reported_by_file() {
    let r = setup(&[("20-bad.json", r#"{"methods": {"validate": 5}}"#)]);
    let out = r.container(&["--validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("20-bad.json: \"methods\" must be an object"));
}

#[test]
fn subcommand_form_and_not_a_dops_image() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dops-init"))
        .args(["container", "--metadata"])
        .env("DOPS_INIT_ROOT", tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("no dops metadata in")
            && err.contains("hint: this image was not built by dops"),
        "{err}"
    );
}
