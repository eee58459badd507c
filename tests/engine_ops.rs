//! Real-engine tests of the operating verbs: ps (table, --json, --all), shell (exit codes),
//! logs (prefixes, -f across a restart), getip, info; exit code 3 when the engine is unreachable.

mod engine_support;
mod support;

use std::io::Read;
use std::time::{Duration, Instant};

use engine_support::{engine_project, inspect, NO_DNS};
use support::{docker, eventually, stderr, stdout, TestProject};

fn project_with_two(tag: &str) -> TestProject {
    let p = engine_project(tag);
    p.write(
        "services/web/Dockerfile",
        "FROM dops-test/busybox\nCMD [\"sh\",\"-c\",\"echo hello from $INSTANCE; exec sleep 3600\"]\n",
    );
    p.write(
        "run.conf",
        "[{\"service\": \"web\", \"instance\": \"one\"}, {\"service\": \"web\", \"instance\": \"two\"}]\n",
    );
    p.dops_ok(&["run:all", "--wait", "--timeout", "60"]);
    p
}

#[test]
fn ps_lists_instances_with_lifecycle_ip_and_json() {
    let p = project_with_two("ops-ps");
    let table = stdout(&p.dops_ok(&["ps"]));
    let header = table.lines().next().unwrap();
    for col in [
        "SERVICE", "INSTANCE", "TYPE", "STATE", "IP", "PORTS", "UPTIME",
    ] {
        assert!(header.contains(col), "{table}");
    }
    let one = table
        .lines()
        .find(|l| l.contains(" one "))
        .expect("row one");
    assert!(
        one.contains("web") && one.contains("standard") && one.contains("UP"),
        "{table}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&stdout(&p.dops_ok(&["ps", "--json"]))).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let ip = inspect(
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        &p.container("web", "one"),
    );
    assert_eq!(rows[0]["instance"], "one");
    assert_eq!(rows[0]["state"], "UP");
    assert_eq!(rows[0]["ip"], ip.as_str());

    // --all: every dops project, with a PROJECT column.
    let other = project_with_two("ops-ps-other");
    let all = stdout(&p.dops_ok(&["ps", "--all"]));
    assert!(all.lines().next().unwrap().contains("PROJECT"), "{all}");
    assert!(all.contains(&p.name) && all.contains(&other.name), "{all}");
    // Without --all, only this project.
    let mine = stdout(&p.dops_ok(&["ps"]));
    assert!(!mine.contains(&other.name));

    // getip agrees with the engine.
    let got = stdout(&p.dops_ok(&["getip:web,instance=one"]));
    assert_eq!(got.trim(), ip);
}

#[test]
fn shell_runs_commands_and_returns_their_exit_code() {
    let p = project_with_two("ops-shell");
    let out = p.dops(&[
        "shell:web,instance=two",
        "--",
        "sh",
        "-c",
        "echo $INSTANCE; exit 42",
    ]);
    assert_eq!(out.status.code(), Some(42), "{}", stderr(&out));
    assert_eq!(stdout(&out), "two\n");
    let out = p.dops(&["ssh:web,instance=one", "--", "true"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // stderr stays stderr.
    let out = p.dops(&["shell:web,instance=one", "--", "sh", "-c", "echo oops >&2"]);
    assert_eq!(stderr(&out).trim(), "oops");
    // A stopped or missing instance is a clear error.
    let out = p.dops(&["shell:web,instance=nine", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no instance of web,instance=nine"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn logs_are_prefixed_by_instance_and_followed_across_a_restart() {
    let p = project_with_two("ops-logs");
    // The engine copies a container's output to its log as it comes: wait for both lines.
    let logs = || stdout(&p.dops_ok(&["logs:web"]));
    assert!(
        eventually(Duration::from_secs(10), || {
            let text = logs();
            text.contains("web-one | hello from one") && text.contains("web-two | hello from two")
        }),
        "{}",
        logs()
    );
    // One instance: no prefix.
    let text = stdout(&p.dops_ok(&["logs:web,instance=one"]));
    assert!(text.lines().any(|l| l == "hello from one"), "{text}");
    assert!(!text.contains("web-two"), "{text}");

    // -f follows the instance through a restart.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dops"))
        .args(["logs:web,instance=one", "-f"])
        .current_dir(&p.dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    docker(&["restart", "-t", "1", &p.container("web", "one")]);
    let mut stdout_pipe = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            match stdout_pipe.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if String::from_utf8_lossy(&buf)
                .matches("hello from one")
                .count()
                >= 2
            {
                break;
            }
        }
        String::from_utf8_lossy(&buf).into_owned()
    });
    // Bounded even when the second line never comes (the reader would block in read): killing
    // dops closes the pipe, which ends the reader.
    let waited = Instant::now();
    while !reader.is_finished() && waited.elapsed() < Duration::from_secs(40) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    let seen = reader.join().unwrap();
    assert_eq!(seen.matches("hello from one").count(), 2, "{seen}");
}

#[test]
fn info_shows_the_image_and_its_main_program() {
    let p = project_with_two("ops-info");
    let text = stdout(&p.dops_ok(&["info:web"]));
    assert!(
        text.contains(&format!("image     {}/web (sha256:", p.name)),
        "{text}"
    );
    assert!(
        text.contains("program   sh -c echo hello from $INSTANCE; exec sleep 3600"),
        "{text}"
    );
    assert!(text.contains("io.dops.service=web"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&p.dops_ok(&["info:web", "--json"]))).unwrap();
    assert_eq!(json[0]["instances"].as_array().unwrap().len(), 2);
}

#[test]
fn an_unreachable_engine_is_exit_code_3_with_a_hint() {
    let p = TestProject::new("ops-down");
    p.write("host.conf", NO_DNS);
    p.write("services/web/Dockerfile", "FROM dops-test/busybox\n");
    for args in [
        &["ps"][..],
        &["run:all"],
        &["build:all"],
        &["shell:web", "--", "true"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dops"))
            .args(args)
            .current_dir(&p.dir)
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("systemctl start docker"),
            "{}",
            stderr(&out)
        );
    }
}

/// Run a command line under a pseudo-terminal (util-linux `script`), feeding `input` slowly.
fn under_pty(dir: &std::path::Path, cmdline: &str, input: &str) -> (Option<i32>, String) {
    use std::io::Write;
    let mut child = std::process::Command::new("script")
        .args(["-qec", cmdline, "/dev/null"])
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux script");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let feeder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        for line in input.lines() {
            let _ = writeln!(stdin, "{line}");
            std::thread::sleep(Duration::from_millis(300));
        }
        std::thread::sleep(Duration::from_secs(2));
    });
    let out = child.wait_with_output().unwrap();
    let _ = feeder.join();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).replace('\r', ""),
    )
}

#[test]
fn shell_on_a_terminal_gets_a_real_tty_and_returns_the_exit_code() {
    let p = project_with_two("ops-tty");
    let dops = env!("CARGO_BIN_EXE_dops");
    let (code, out) = under_pty(
        &p.dir,
        &format!(
            "stty cols 91 rows 33; {dops} shell:web,instance=one -- sh -c 'tty; sleep 0.5; stty size; exit 7'"
        ),
        "",
    );
    assert_eq!(code, Some(7), "{out}");
    assert!(out.contains("/dev/pts/"), "a tty in the container: {out}");
    assert!(out.contains("33 91"), "the local terminal's size: {out}");
    // An interactive shell: what is typed runs there, `exit N` ends it with N.
    let (code, out) = under_pty(
        &p.dir,
        &format!("{dops} shell:web,instance=two"),
        "echo in-shell-$((6*7)) $INSTANCE\nexit 5\n",
    );
    assert_eq!(code, Some(5), "{out}");
    assert!(out.contains("in-shell-42 two"), "{out}");
}
