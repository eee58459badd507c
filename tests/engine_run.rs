//! Real-engine tests of `dops run`, `rerun` and `clean`: names, labels and the network;
//! persistence (seed on first use, data kept across clean + run and rerun, purge only with
//! --yes); TCP and UDP publishing on 127.0.0.1; duplicate-run protection (sequential and
//! concurrent); --replace; --wait; orphans.

mod engine_support;
mod support;

use engine_support::{containers_of, engine_project, free_port, free_udp_port, inspect};
use support::{docker, stderr, stdout, TestProject};

fn busybox_service(p: &TestProject, service: &str, extra: &str) {
    p.write(
        &format!("services/{service}/Dockerfile"),
        &format!("FROM dops-test/busybox\n{extra}CMD [\"sleep\",\"3600\"]\n"),
    );
}

fn sh(p: &TestProject, service: &str, instance: &str, script: &str) -> String {
    let out = docker(&["exec", &p.container(service, instance), "sh", "-c", script]);
    stdout(&out)
}

/// After `clean`: no container of the project is left and its network is gone.
#[track_caller]
fn assert_no_container_and_no_network(p: &TestProject) {
    assert!(containers_of(&p.name).is_empty());
    assert_eq!(
        inspect("{{.Name}}", &p.name),
        "",
        "network removed when empty"
    );
}

#[test]
fn run_creates_named_labelled_instances_on_the_project_network_and_clean_removes_them() {
    let p = engine_project("run-basic");
    busybox_service(&p, "web", "");
    p.write(
        "run.conf",
        "[{\"service\": \"web\", \"instance\": \"one\"}, {\"service\": \"web\", \"instance\": \"two\"}]\n",
    );
    p.dops_ok(&["run:all", "--wait", "--timeout", "60"]);
    let one = p.container("web", "one");
    assert_eq!(
        containers_of(&p.name),
        vec![one.clone(), p.container("web", "two")]
    );
    assert_eq!(inspect("{{.State.Status}}", &one), "running");
    assert_eq!(inspect("{{.Config.Hostname}}", &one), "web-one");
    assert_eq!(
        inspect("{{index .Config.Labels \"io.dops.instance_type\"}}", &one),
        "standard"
    );
    assert_eq!(inspect("{{.HostConfig.NetworkMode}}", &one), p.name);
    assert_eq!(
        inspect("{{index .Labels \"io.dops.project\"}}", &p.name),
        p.name,
        "the network is labelled"
    );
    // Instances reach each other by hostname on the project network.
    let ping = docker(&["exec", &one, "ping", "-c", "1", "-W", "2", "web-two"]);
    assert!(ping.status.success(), "{}", stderr(&ping));
    // The environment the engine gives every instance.
    let env = sh(&p, "web", "one", "echo $SERVICE $INSTANCE $INSTANCE_TYPE");
    assert_eq!(env.trim(), "web one standard");

    let out = p.dops_ok(&["clean:all"]);
    assert!(stderr(&out).contains("removed network"), "{}", stderr(&out));
    assert_no_container_and_no_network(&p);
}

#[test]
fn persistent_data_is_seeded_once_and_survives_clean_run_and_rerun() {
    let p = engine_project("run-persist");
    busybox_service(
        &p,
        "db",
        "RUN mkdir -p /data/sub && echo from-image > /data/sub/seed.txt\n",
    );
    p.write(
        "run.conf",
        "[{\"service\": \"db\", \"instance\": \"one\", \"instance_type\": \"persistent\"}]\n",
    );
    p.dops_ok(&["run:all"]);
    // Seeded from the image on first use.
    let host = p.path("data/db-one/data");
    assert_eq!(
        std::fs::read_to_string(host.join("sub/seed.txt")).unwrap(),
        "from-image\n"
    );
    sh(
        &p,
        "db",
        "one",
        "echo precious > /data/mine.txt; echo changed > /data/sub/seed.txt",
    );

    // clean + run: the data is there, not re-seeded.
    p.dops_ok(&["clean:all"]);
    assert!(host.join("mine.txt").exists(), "clean keeps data");
    p.dops_ok(&["run:all"]);
    assert_eq!(
        sh(&p, "db", "one", "cat /data/mine.txt /data/sub/seed.txt"),
        "precious\nchanged\n"
    );

    // rerun: a new container, same data.
    let before = inspect("{{.Id}}", &p.container("db", "one"));
    p.dops_ok(&["rerun:db"]);
    assert_ne!(inspect("{{.Id}}", &p.container("db", "one")), before);
    assert_eq!(sh(&p, "db", "one", "cat /data/mine.txt"), "precious\n");

    // --purge needs a confirmation: without a terminal, --yes.
    let out = p.dops(&["clean:all", "--purge"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert!(
        host.join("mine.txt").exists(),
        "nothing deleted without confirmation"
    );
    p.dops_ok(&["clean:all", "--purge", "--yes"]);
    assert!(!p.path("data/db-one").exists(), "purged");
}

#[test]
fn tcp_and_udp_ports_are_published_on_localhost() {
    let p = engine_project("run-ports");
    let tcp = free_port();
    let udp = free_udp_port();
    let chosen = free_port();
    busybox_service(
        &p,
        "web",
        &format!("EXPOSE {tcp}\n# dops: expose {udp}/udp\n# dops: expose 7000 as {chosen}\n"),
    );
    p.write(
        "run.conf",
        "[{\"service\": \"web\", \"instance\": \"pub\", \"instance_type\": \"published\"}]\n",
    );
    p.dops_ok(&["run:all"]);
    let c = p.container("web", "pub");
    let ports = stdout(&docker(&["port", &c]));
    assert!(
        ports.contains(&format!("{tcp}/tcp -> 127.0.0.1:{tcp}")),
        "{ports}"
    );
    assert!(
        ports.contains(&format!("{udp}/udp -> 127.0.0.1:{udp}")),
        "{ports}"
    );
    assert!(
        ports.contains(&format!("7000/tcp -> 127.0.0.1:{chosen}")),
        "{ports}"
    );
    assert!(
        !ports.contains("0.0.0.0"),
        "bound to 127.0.0.1 only: {ports}"
    );

    // TCP traffic goes through to a listener in the container.
    docker(&[
        "exec",
        "-d",
        &c,
        "sh",
        "-c",
        &format!("nc -l -p {tcp} > /tmp/tcp.txt"),
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut got_tcp = String::new();
    while std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(300));
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", tcp)) {
            use std::io::Write;
            let _ = s.write_all(b"over-tcp\n");
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        got_tcp = stdout(&docker(&["exec", &c, "cat", "/tmp/tcp.txt"]));
        if got_tcp.contains("over-tcp") {
            break;
        }
    }
    assert!(got_tcp.contains("over-tcp"), "tcp: {got_tcp:?}");
    // The UDP port is held on 127.0.0.1 by the engine's proxy (busybox has no UDP listener to
    // receive with): binding it here fails.
    let taken = std::net::UdpSocket::bind(("127.0.0.1", udp));
    assert!(taken.is_err(), "udp {udp} is not published");

    // ps shows them.
    let ps = stdout(&p.dops_ok(&["ps"]));
    assert!(ps.contains(&format!("127.0.0.1:{udp}->{udp}/udp")), "{ps}");
}

#[test]
fn running_what_runs_says_so_and_concurrent_runs_make_no_duplicates() {
    let p = engine_project("run-dup");
    busybox_service(&p, "web", "");
    p.write(
        "run.conf",
        "[{\"service\": \"web\", \"instance\": \"one\"}]\n",
    );
    // Two commands at once (the first also builds): one container, both succeed.
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_dops"))
            .arg("run:web,instance=one")
            .current_dir(&p.dir)
            .env("DOPS_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn();
    let b = spawn();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(b.status.success(), "{}", stderr(&b));
    assert_eq!(containers_of(&p.name), vec![p.container("web", "one")]);
    let both = format!("{}{}", stderr(&a), stderr(&b));
    assert!(both.contains("is up to date"), "{both}");

    // Again: nothing to do, exit 0.
    let id = inspect("{{.Id}}", &p.container("web", "one"));
    let out = p.dops_ok(&["run:web,instance=one"]);
    assert!(stderr(&out).contains("is up to date"), "{}", stderr(&out));
    assert_eq!(inspect("{{.Id}}", &p.container("web", "one")), id);

    // --replace replaces it.
    p.dops_ok(&["run:web,instance=one", "--replace"]);
    let new_id = inspect("{{.Id}}", &p.container("web", "one"));
    assert_ne!(new_id, id);
    assert_eq!(containers_of(&p.name).len(), 1);
}

#[test]
fn the_lock_is_reported_while_another_command_holds_it() {
    let p = TestProject::new("run-lock");
    // Hold the lock the way a dops command does.
    let dir = p.dir.join(".dops");
    std::fs::create_dir_all(&dir).unwrap();
    let held = dops::engine::ProjectLock::try_acquire(&p.dir).unwrap();
    let err = dops::engine::ProjectLock::try_acquire(&p.dir).unwrap_err();
    assert!(err.to_string().contains("holds the project lock"), "{err}");
    drop(held);
    assert!(dops::engine::ProjectLock::try_acquire(&p.dir).is_ok());
}

#[test]
fn orphans_are_listed_and_removed_only_with_orphans() {
    let p = engine_project("run-orphans");
    busybox_service(&p, "web", "");
    busybox_service(&p, "old", "");
    p.write(
        "run.conf",
        "[{\"service\": \"web\", \"instance\": \"one\"}, {\"service\": \"old\", \"instance\": \"one\"}]\n",
    );
    p.dops_ok(&["run:all"]);
    // The project drops the "old" service.
    std::fs::remove_dir_all(p.path("services/old")).unwrap();
    p.write(
        "run.conf",
        "[{\"service\": \"web\", \"instance\": \"one\"}]\n",
    );
    let out = p.dops_ok(&["clean:all"]);
    let err = stderr(&out);
    assert!(
        err.contains(&p.container("old", "one")),
        "orphan listed:\n{err}"
    );
    assert!(err.contains("--orphans"), "{err}");
    assert_eq!(containers_of(&p.name), vec![p.container("old", "one")]);
    assert!(
        !inspect("{{.Name}}", &p.name).is_empty(),
        "network kept while used"
    );
    p.dops_ok(&["clean:all", "--orphans"]);
    assert_no_container_and_no_network(&p);
}

#[test]
fn wait_fails_when_an_instance_does_not_come_up() {
    let p = engine_project("run-wait");
    p.write(
        "services/bad/Dockerfile",
        "FROM dops-test/busybox\nCMD [\"sh\",\"-c\",\"exit 4\"]\n",
    );
    p.write(
        "run.conf",
        "[{\"service\": \"bad\", \"instance\": \"one\"}]\n",
    );
    let out = p.dops(&["run:all", "--wait", "--timeout", "30"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("did not come up"), "{}", stderr(&out));
}

#[test]
fn an_interactive_instance_gets_the_terminal_and_returns_its_exit_code() {
    let p = engine_project("run-interactive");
    p.write(
        "services/cli/Dockerfile",
        "FROM dops-test/busybox\nCMD [\"sh\",\"-c\",\"echo interactive-ok $INTERACTIVE; exit 3\"]\n",
    );
    p.write(
        "run.conf",
        "[{\"service\": \"cli\", \"instance\": \"one\"}]\n",
    );
    let out = p.dops(&["run:cli,instance=one,interactive=True"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("interactive-ok True"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        inspect("{{.Config.Tty}}", &p.container("cli", "one")),
        "true"
    );
}

#[test]
fn run_all_honours_sleep_autorun_and_groups() {
    let p = engine_project("run-order");
    busybox_service(&p, "web", "");
    p.write(
        "run.conf",
        "[\n {\"service\": \"web\", \"instance\": \"first\", \"sleep\": 2},\n {\"service\": \"web\", \"instance\": \"second\", \"group\": \"back\"},\n {\"service\": \"web\", \"instance\": \"manual\", \"autorun\": false, \"group\": \"back\"}\n]\n",
    );
    p.dops_ok(&["build:web"]);
    let start = std::time::Instant::now();
    p.dops_ok(&["run:all"]);
    assert!(
        start.elapsed().as_secs_f64() >= 2.0,
        "the sleep is honoured"
    );
    assert_eq!(
        containers_of(&p.name),
        vec![p.container("web", "first"), p.container("web", "second")],
        "autorun false is not started by run:all"
    );
    // The second started after the first's sleep.
    let started = |i: &str| inspect("{{.State.StartedAt}}", &p.container("web", i));
    assert!(started("first") < started("second"));
    p.dops_ok(&["clean:all"]);
    p.dops_ok(&["run:group=back"]);
    let mut names = containers_of(&p.name);
    names.sort();
    assert!(names.contains(&p.container("web", "second")), "{names:?}");
    assert!(!names.contains(&p.container("web", "first")), "{names:?}");
}
