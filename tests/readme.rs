//! The README matches the program (issue 14): its plan example is what dops prints, and its
//! run.conf key list names every key run.conf takes.

use std::path::Path;
use std::process::Command;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// The fenced block that starts with `first_line`.
fn block(text: &str, first_line: &str) -> String {
    let start = text
        .find(&format!("```\n{first_line}\n"))
        .unwrap_or_else(|| panic!("no README block starting with {first_line:?}"));
    let body = &text[start + 4..];
    body[..body.find("```").unwrap()].to_string()
}

#[test]
fn the_plan_example_is_the_real_output() {
    let example = block(&readme(), "$ dops plan:web,instance=one");
    let (out_expected, err_expected): (Vec<&str>, Vec<&str>) = example
        .lines()
        .skip(1)
        .partition(|l| !l.starts_with("dops: warning:"));
    // The demo installed into /home/me/demo as the README shows it: a folder named demo.
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home/me");
    std::fs::create_dir_all(&home).unwrap();
    let dops = env!("CARGO_BIN_EXE_dops");
    let out = Command::new(dops)
        .args(["install_demo", "demo"])
        .current_dir(&home)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // No engine (what runs elsewhere must not change the plan) and the README's host name
    // (its own UTS namespace, as root; else the host name is replaced in the text).
    let plan = format!("DOCKER_HOST=unix:///nonexistent.sock {dops} plan:web,instance=one");
    let named = Command::new("unshare")
        .args(["--uts", "sh", "-c", &format!("hostname myhost && {plan}")])
        .current_dir(home.join("demo"))
        .output();
    let (out, renamed) = match named {
        Ok(o) if o.status.success() => (o, false),
        _ => (
            Command::new("sh")
                .args(["-c", &plan])
                .current_dir(home.join("demo"))
                .output()
                .unwrap(),
            true,
        ),
    };
    assert!(out.status.success(), "{out:?}");
    let mut got =
        String::from_utf8_lossy(&out.stdout).replace(&home.display().to_string(), "/home/me");
    let mut want = out_expected.join("\n") + "\n";
    if renamed {
        // Without a namespace of its own: the host name may change the column widths.
        let host = nix_hostname();
        got = got.replace(&format!("HOST_HOSTNAME={host}"), "HOST_HOSTNAME=myhost");
        let squeeze = |s: &str| {
            s.lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join("\n")
        };
        got = squeeze(&got);
        want = squeeze(&want);
    }
    assert_eq!(got, want, "README's plan example vs dops' output");
    let err = String::from_utf8_lossy(&out.stderr);
    for line in err_expected {
        assert!(err.lines().any(|l| l == line), "{line:?} not in:\n{err}");
    }
}

fn nix_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn the_run_conf_key_list_is_complete() {
    let text = readme();
    let start = text.find("run.conf keys: ").expect("the run.conf key list");
    let list = &text[start..start + text[start..].find("\n\n").unwrap()];
    let missing: Vec<&str> = dops::project::runconf::all_keys()
        .filter(|k| !list.contains(&format!("`{k}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "README's run.conf keys lack {missing:?}:\n{list}"
    );
}
