//! dops/base:bookworm (base-images/debian, built by `./install.sh base-image`, which test.sh runs
//! before the tests): its configuration and its file system, checked on the real engine.
//! Read-only: the test starts one throwaway container (`--rm`) and changes no image.

use serde_json::Value;
use std::process::Command;

const IMAGE: &str = "dops/base:bookworm";

fn docker(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn inspect() -> Value {
    let (ok, out, err) = docker(&["image", "inspect", IMAGE]);
    assert!(
        ok,
        "{IMAGE} is missing ({}): build it with './install.sh base-image'",
        err.trim()
    );
    let v: Value = serde_json::from_str(&out).expect("docker image inspect prints JSON");
    v[0].clone()
}

#[test]
fn base_image_runs_dops_init_and_has_no_command() {
    let img = inspect();
    let cfg = &img["Config"];
    assert_eq!(
        cfg["Entrypoint"],
        serde_json::json!(["/dops/bin/dops-init"])
    );
    // A child's CMD (if any) is its main program: the base must not leave one behind.
    assert!(
        cfg["Cmd"].is_null() || cfg["Cmd"] == serde_json::json!([]),
        "Cmd = {}",
        cfg["Cmd"]
    );
    let labels = &cfg["Labels"];
    assert_eq!(labels["io.dops.base"], "bookworm");
    for key in ["io.dops.base.inputs", "io.dops.init.sha256"] {
        let v = labels[key].as_str().unwrap_or_default();
        assert_eq!(v.len(), 64, "label {key} is a sha256, got {v:?}");
    }
    let env: Vec<&str> = cfg["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(env
        .iter()
        .any(|e| e.starts_with("PATH=") && e.contains("/usr/bin")));
    assert!(cfg["ExposedPorts"].is_null(), "the base exposes nothing");
}

#[test]
fn base_image_has_the_dops_layout_and_no_ssh() {
    let sha = inspect()["Config"]["Labels"]["io.dops.init.sha256"]
        .as_str()
        .unwrap()
        .to_string();
    // One shell run inside the image prints one line per check: "ok NAME" or "FAIL NAME".
    let script = r#"
check() { name=$1; shift; if "$@" >/dev/null 2>&1; then echo "ok $name"; else echo "FAIL $name"; fi; }
check init-executable test -x /dops/bin/dops-init
for d in /dops/init.d /dops/meta /ww/usr /ww/etc /entrypoints /data /run/dops; do check "dir:$d" test -d "$d"; done
check defaults-json sh -c 'test "$(cat /ww/etc/defaults.json)" = "{}"'
check no-sshd sh -c '! test -e /usr/sbin/sshd'
check no-host-keys sh -c '! ls /etc/ssh/ssh_host_* 2>/dev/null | grep -q .'
check no-authorized-keys sh -c '! find / -xdev -name authorized_keys 2>/dev/null | grep -q .'
check apt-lists-clean sh -c '! ls /var/lib/apt/lists/ | grep -q _dists_'
check no-man-pages sh -c '! find /usr/share/man -type f 2>/dev/null | grep -q .'
check slim-dpkg-excludes grep -q 'path-exclude /usr/share/doc/' /etc/dpkg/dpkg.cfg.d/docker
check policy-rc-d sh -c '/usr/sbin/policy-rc.d; test $? = 101'
check apt-works sh -c 'command -v apt-get'
check bookworm grep -q '^12' /etc/debian_version
echo "sha $(sha256sum /dops/bin/dops-init | cut -d" " -f1)"
"#;
    let (ok, out, err) = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "/bin/sh",
        IMAGE,
        "-c",
        script,
    ]);
    assert!(ok, "the check container failed: {err}");
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(failed.is_empty(), "{failed:?}\n{out}");
    assert!(
        out.lines().filter(|l| l.starts_with("ok ")).count() >= 17,
        "{out}"
    );
    // The label names the binary that is in the image.
    assert!(
        out.lines().any(|l| l == format!("sha {sha}")),
        "io.dops.init.sha256 {sha} does not match /dops/bin/dops-init:\n{out}"
    );
}
