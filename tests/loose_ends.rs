//! Issue 14's loose ends on the real engine, each with its own project: `/entrypoints` run by
//! image ancestry; build metadata that describes the build asked for (a new commit, a new
//! cause), while a build that changes nothing keeps the image.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{docker, git, stdout, TestProject};

const NO_DNS: &str = "{\"DNS\": false}\n";

fn inspect(format: &str, what: &str) -> String {
    stdout(&docker(&["inspect", "--format", format, what]))
        .trim()
        .to_string()
}

fn label(image: &str, key: &str) -> String {
    inspect(&format!("{{{{index .Config.Labels \"{key}\"}}}}"), image)
}

#[test]
fn entrypoints_run_parents_first_by_image_ancestry_not_by_name() {
    let p = TestProject::new("le-ep");
    p.write("host.conf", NO_DNS);
    // Name order would run the child's entrypoint-app.sh before the parent's entrypoint-base.sh.
    p.write(
        "services/base/Dockerfile",
        "FROM dops-test/busybox\nCOPY entrypoint-base.sh /entrypoints/entrypoint-base.sh\n",
    );
    p.write(
        "services/base/entrypoint-base.sh",
        "#!/bin/sh\necho base >> /tmp/order\n",
    );
    p.write(
        "services/app/Dockerfile",
        &format!(
            "FROM {}/base\nCOPY entrypoint-app.sh /entrypoints/entrypoint-app.sh\nCOPY 0-app.sh /entrypoints/0-app.sh\nCMD [\"sleep\", \"3600\"]\n",
            p.name
        ),
    );
    p.write(
        "services/app/entrypoint-app.sh",
        "#!/bin/sh\necho app >> /tmp/order\n",
    );
    p.write(
        "services/app/0-app.sh",
        "#!/bin/sh\necho 0-app >> /tmp/order\n",
    );
    p.write(
        "run.conf",
        "[{\"service\": \"app\", \"instance\": \"one\"}]\n",
    );
    p.dops_ok(&["run:all", "--wait", "--timeout", "60"]);
    let order = docker(&["exec", &p.container("app", "one"), "cat", "/tmp/order"]);
    assert_eq!(
        stdout(&order).lines().collect::<Vec<_>>(),
        ["base", "0-app", "app"],
        "the parent's first, then the child's in name order"
    );
    // The record dops-init read: each image's entry points, in its metadata.
    let examine = stdout(&docker(&[
        "exec",
        &p.container("app", "one"),
        "/dops/bin/container",
        "--metadata",
        "--all",
    ]));
    let chain: serde_json::Value = serde_json::from_str(&examine).unwrap();
    assert_eq!(
        chain[0]["entrypoints"],
        serde_json::json!(["entrypoint-base.sh"])
    );
    assert_eq!(
        chain[1]["entrypoints"],
        serde_json::json!(["0-app.sh", "entrypoint-app.sh", "entrypoint-base.sh"])
    );
}

#[test]
fn build_metadata_describes_the_build_asked_for() {
    let p = TestProject::new("le-meta");
    p.write("host.conf", NO_DNS);
    p.write(".gitignore", ".dops/\n");
    p.write(
        "services/web/Dockerfile",
        "FROM dops-test/busybox\nCMD [\"sleep\", \"3600\"]\n",
    );
    p.write(
        "run.conf",
        "[{\"service\": \"web\", \"instance\": \"one\"}]\n",
    );
    let image = format!("{}/web", p.name);

    // Outside git.
    p.dops_ok(&["build:web"]);
    let first = inspect("{{.Id}}", &image);
    assert_eq!(label(&image, "org.opencontainers.image.revision"), "");
    let created = label(&image, "org.opencontainers.image.created");
    // Nothing changed: the same image (its instances are kept).
    p.dops_ok(&["build:web"]);
    assert_eq!(
        inspect("{{.Id}}", &image),
        first,
        "an unchanged build keeps the image"
    );

    // Commit, build again, nothing changed in the service: the new build's record.
    git(&p.dir, &["init", "-q"]);
    git(&p.dir, &["add", "."]);
    git(&p.dir, &["commit", "-q", "-m", "first"]);
    let commit = git(&p.dir, &["rev-parse", "HEAD"]);
    std::thread::sleep(Duration::from_millis(1100)); // build times have whole seconds
    p.dops_ok(&["build:web"]);
    assert_ne!(inspect("{{.Id}}", &image), first);
    assert_eq!(label(&image, "org.opencontainers.image.revision"), commit);
    assert_eq!(label(&image, "io.dops.git.dirty"), "false");
    let created2 = label(&image, "org.opencontainers.image.created");
    assert!(created2 > created, "{created2} after {created}");
    let report = stdout(&p.dops_ok(&["examine:web"]));
    assert!(report.contains(&format!("Git Hash: {commit}")), "{report}");
    assert!(
        report.contains(&format!("Build Time: {created2}")),
        "{report}"
    );

    // A new cause is a new record too; and in the container, `container --metadata` says it.
    p.dops_ok(&["build:web", "--cause", "release-2"]);
    assert_eq!(label(&image, "io.dops.build.cause"), "release-2");
    p.dops_ok(&["run:all", "--wait", "--timeout", "60"]);
    let meta = stdout(&docker(&[
        "exec",
        &p.container("web", "one"),
        "/dops/bin/container",
        "--metadata",
    ]));
    let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
    assert_eq!(meta["git"]["commit"], commit.as_str());
    assert_eq!(meta["cause"], "release-2");
    let kept = inspect("{{.Id}}", &image);
    p.dops_ok(&["build:web", "--cause", "release-2"]);
    assert_eq!(
        inspect("{{.Id}}", &image),
        kept,
        "the same build again: kept"
    );
}

/// A user of this machine for one test, in the `docker` group; deleted when dropped.
struct TempUser {
    name: String,
}

impl TempUser {
    fn create(tag: &str) -> TempUser {
        let name = format!("dt{tag}{}", std::process::id());
        let out = Command::new("useradd")
            .args(["--no-create-home", "--home-dir", "/nonexistent"])
            .args(["--shell", "/usr/sbin/nologin", "--groups", "docker", &name])
            .output()
            .expect("useradd (the real-engine tests run as root)");
        assert!(out.status.success(), "useradd: {out:?}");
        TempUser { name }
    }

    /// dops as this user (runuser: no password, no login shell), in `dir`.
    fn dops(&self, dir: &Path, args: &[&str]) -> std::process::Output {
        Command::new("runuser")
            .args(["-u", &self.name, "--", env!("CARGO_BIN_EXE_dops")])
            .args(args)
            .current_dir(dir)
            .env("DOPS_LOG", "warn")
            .env("DOPS_INIT_BIN", support::test_init())
            .env_remove("DOCKER_HOST")
            .output()
            .expect("runuser")
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}

/// dops works for a user in the `docker` group (not root): ps, build, run --wait, status,
/// clean. Seeding a persistent folder with files of other owners needs root: said so.
#[test]
fn a_member_of_the_docker_group_uses_dops_without_root() {
    let socket = std::fs::metadata("/var/run/docker.sock").expect("the local engine's socket");
    let docker_gid = Command::new("getent")
        .args(["group", "docker"])
        .output()
        .map(|o| {
            stdout(&o)
                .split(':')
                .nth(2)
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default();
    assert_eq!(
        std::os::unix::fs::MetadataExt::gid(&socket).to_string(),
        docker_gid,
        "the engine's socket belongs to the docker group"
    );
    let user = TempUser::create("nr");
    let p = TestProject::new("le-nonroot");
    p.write("host.conf", NO_DNS);
    p.write(
        "services/web/Dockerfile",
        "FROM dops-test/busybox\nRUN mkdir -p /data && echo seeded > /data/f && chown 1234:1234 /data/f\nCMD [\"sleep\", \"3600\"]\n",
    );
    p.write(
        "run.conf",
        "[{\"service\": \"web\", \"instance\": \"one\"},\n {\"service\": \"web\", \"instance\": \"db\", \"instance_type\": \"persistent\", \"autorun\": false}]\n",
    );
    // The user's own project folder.
    let parent = p.dir.parent().unwrap();
    std::fs::set_permissions(parent, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let chown = Command::new("chown")
        .args(["-R", &user.name])
        .arg(&p.dir)
        .status()
        .unwrap();
    assert!(chown.success());

    let ok = |args: &[&str]| {
        let out = user.dops(&p.dir, args);
        assert!(
            out.status.success(),
            "dops {args:?} as {}: {out:?}",
            user.name
        );
        out
    };
    ok(&["ps"]);
    ok(&["run:all", "--wait", "--timeout", "60"]);
    let status = stdout(&ok(&["status"]));
    assert!(status.contains("UP"), "{status}");
    ok(&["clean:all"]);
    // A persistent folder seeded with files of another owner: root only, and the error says so.
    let out = user.dops(
        &p.dir,
        &["run:web,instance=db", "--wait", "--timeout", "60"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        support::stderr(&out)
            .contains("only root can give files to another user; run this command as root"),
        "{}",
        support::stderr(&out)
    );
}
