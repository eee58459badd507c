//! Issue 14, remote engines: dops talks to the engine `DOCKER_HOST` (or a docker context) names,
//! over TCP and over verified TLS, and says which one with `-v`.
//!
//! The engine is a dockerd of the test's own in its own network namespace
//! (`support::SecondEngine`), listening there on its socket and on `tcp://127.0.0.1:2376` with
//! TLS (certificates made by `openssl` for the test). dops reaches the TLS port from inside that
//! namespace (`nsenter --net`); plain TCP goes through a small forwarder of the test's, on the
//! host's loopback, to the engine's socket. A container created on that engine by the `docker`
//! CLI proves which engine answered: the shared one does not have it.
//!
//! One test, one engine: starting a dockerd is the expensive part.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use support::{stderr, stdout, SecondEngine, TestProject};

/// `openssl`, panicking with its output unless it succeeds.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian: apt-get install openssl)");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// A CA, the engine's certificate for 127.0.0.1 and a client certificate signed by it, and a
/// second CA that signed nothing: `<dir>/{ca,server-cert,server-key}.pem`,
/// `<dir>/client/{ca,cert,key}.pem`, `<dir>/other/{ca,cert,key}.pem`.
fn certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let ca = |name: &str| {
        let mut a = vec!["req", "-x509", "-days", "2", "-subj"];
        let subj = format!("/CN=dops test {name}");
        let (key, cert) = (format!("{name}-key.pem"), format!("{name}.pem"));
        a.push(&subj);
        a.extend(ec);
        a.extend(["-keyout", &key, "-out", &cert]);
        openssl(dir, &a);
    };
    ca("ca");
    ca("other-ca");
    let signed = |name: &str, cn: &str, ext: &str| {
        std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
        let (key, csr, cert) = (
            format!("{name}-key.pem"),
            format!("{name}.csr"),
            format!("{name}-cert.pem"),
        );
        let subj = format!("/CN={cn}");
        let mut a = vec!["req", "-subj", &subj];
        a.extend(ec);
        a.extend(["-keyout", &key, "-out", &csr]);
        openssl(dir, &a);
        let extfile = format!("{name}.ext");
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-days",
                "2",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-out",
                &cert,
                "-extfile",
                &extfile,
            ],
        );
    };
    signed(
        "server",
        "127.0.0.1",
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    );
    signed("client", "client", "extendedKeyUsage=clientAuth\n");
    for (sub, ca) in [("client", "ca.pem"), ("other", "other-ca.pem")] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(dir.join(ca), d.join("ca.pem")).unwrap();
        std::fs::copy(dir.join("client-cert.pem"), d.join("cert.pem")).unwrap();
        std::fs::copy(dir.join("client-key.pem"), d.join("key.pem")).unwrap();
    }
}

/// Plain TCP on the host's loopback, forwarded to a unix socket: at most `limit` connections.
fn forward_tcp_to(socket: PathBuf, limit: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(limit) {
            let Ok(tcp) = conn else { break };
            let Ok(unix) = UnixStream::connect(&socket) else {
                break;
            };
            let pipe = |mut from: Box<dyn Read + Send>,
                        mut to: Box<dyn Write + Send>,
                        end: Box<dyn FnOnce() + Send>| {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    end();
                });
            };
            let (t2, u2) = (tcp.try_clone().unwrap(), unix.try_clone().unwrap());
            let (t3, u3) = (tcp.try_clone().unwrap(), unix.try_clone().unwrap());
            pipe(
                Box::new(tcp),
                Box::new(unix),
                Box::new(move || {
                    let _ = u3.shutdown(Shutdown::Write);
                }),
            );
            pipe(
                Box::new(u2),
                Box::new(t2),
                Box::new(move || {
                    let _ = t3.shutdown(Shutdown::Write);
                }),
            );
        }
    });
    port
}

/// dops in `dir` with exactly the engine variables given (none inherited), optionally inside the
/// engine's network namespace.
fn dops(
    engine: &SecondEngine,
    in_netns: bool,
    dir: &Path,
    vars: &[(&str, &str)],
    args: &[&str],
) -> Output {
    let mut c = if in_netns {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/var/run/netns/{}", engine.netns))
            .arg(env!("CARGO_BIN_EXE_dops"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_dops"))
    };
    c.args(args)
        .current_dir(dir)
        .env("DOPS_INIT_BIN", support::test_init());
    for v in [
        "DOCKER_HOST",
        "DOCKER_TLS_VERIFY",
        "DOCKER_TLS",
        "DOCKER_CERT_PATH",
        "DOCKER_CONFIG",
        "DOCKER_CONTEXT",
        "DOPS_LOG",
    ] {
        c.env_remove(v);
    }
    for (k, v) in vars {
        c.env(k, v);
    }
    c.output().expect("run dops")
}

#[test]
fn dops_uses_the_engine_docker_host_or_a_context_names_over_tcp_and_tls() {
    let t0 = Instant::now();
    let phase = |what: &str| println!("remote: {what} after {:.1} s", t0.elapsed().as_secs_f64());
    let tmp = tempfile::tempdir().unwrap();
    let certs = tmp.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    certificates(&certs);
    let c = |f: &str| certs.join(f).display().to_string();
    let engine = SecondEngine::start_with(
        "remote",
        &[
            "-H",
            "tcp://127.0.0.1:2376",
            "--tlsverify",
            "--tlscacert",
            &c("ca.pem"),
            "--tlscert",
            &c("server-cert.pem"),
            "--tlskey",
            &c("server-key.pem"),
        ],
    );
    phase("the engine started");
    let docker2 = |args: &[&str]| {
        Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", engine.host())
            .output()
            .unwrap()
    };
    let p = TestProject::new("remote");
    p.write("host.conf", "{\"DNS\": false}\n");
    p.write(
        "services/web/Dockerfile",
        "FROM dops-test/busybox\nCMD [\"sleep\", \"3600\"]\n",
    );
    p.write(
        "run.conf",
        "[{\"service\": \"web\", \"instance\": \"one\"}]\n",
    );
    // Only the second engine has this container.
    let marker = p.container("marker", "one");
    let created = docker2(&[
        "create",
        "--name",
        &marker,
        "--label",
        &format!("io.dops.project={}", p.name),
        "--label",
        "io.dops.service=marker",
        "--label",
        "io.dops.instance=one",
        "dops-test/busybox",
    ]);
    assert!(created.status.success(), "{created:?}");
    let lists_marker = |out: &Output| {
        out.status.success() && stdout(out).contains(&format!("{}  marker   one", p.name))
    };

    // Verified TLS with a client certificate, from inside the engine's namespace; -v names it.
    let tls = [
        ("DOCKER_HOST", "tcp://127.0.0.1:2376"),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", &c("client")),
    ];
    let out = dops(&engine, true, &p.dir, &tls, &["-v", "ps", "--all"]);
    assert!(lists_marker(&out), "{out:?}");
    let expected = format!(
        "engine tcp://127.0.0.1:2376 (DOCKER_HOST, TLS verified against {}/ca.pem with a client certificate): Docker ",
        c("client")
    );
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
    phase("ps over TLS");
    // The whole path over TLS: a build (the context uploaded), a run, its state, a clean.
    let out = dops(
        &engine,
        true,
        &p.dir,
        &tls,
        &["run:all", "--wait", "--timeout", "60"],
    );
    assert!(out.status.success(), "{out:?}\n{}", engine.log());
    let ps = docker2(&["ps", "--format", "{{.Names}}"]);
    assert!(stdout(&ps).contains(&p.container("web", "one")), "{ps:?}");
    let out = dops(&engine, true, &p.dir, &tls, &["ps"]);
    assert!(stdout(&out).contains("UP"), "{out:?}");
    let out = dops(&engine, true, &p.dir, &tls, &["clean:web"]);
    assert!(out.status.success(), "{out:?}");
    phase("run:all --wait, ps, clean over TLS");

    // An engine certificate from another CA: refused, exit 3, the reason named.
    let out = dops(
        &engine,
        true,
        &p.dir,
        &[
            ("DOCKER_HOST", "tcp://127.0.0.1:2376"),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", &c("other")),
        ],
        &["ps"],
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        stderr(&out).contains("the docker engine is unreachable (tcp://127.0.0.1:2376: ")
            && stderr(&out).to_lowercase().contains("certificate"),
        "{}",
        stderr(&out)
    );
    // Plain HTTP to the TLS port: dockerd's answer, not the local socket.
    let out = dops(
        &engine,
        true,
        &p.dir,
        &[("DOCKER_HOST", "tcp://127.0.0.1:2376")],
        &["ps"],
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        stderr(&out).contains("tcp://127.0.0.1:2376"),
        "{}",
        stderr(&out)
    );

    // Plain TCP (through the forwarder on the host's loopback).
    let port = forward_tcp_to(engine.path().join("docker.sock"), 64);
    let plain = format!("tcp://127.0.0.1:{port}");
    let out = dops(
        &engine,
        false,
        &p.dir,
        &[("DOCKER_HOST", &plain)],
        &["-v", "ps", "--all"],
    );
    assert!(lists_marker(&out), "{out:?}");
    assert!(
        stderr(&out).contains(&format!("engine {plain} (DOCKER_HOST, plain TCP): Docker ")),
        "{}",
        stderr(&out)
    );

    // A context the docker CLI itself creates: by DOCKER_CONTEXT, then as the current one.
    let config = tmp.path().join("docker-config");
    let cli = |args: &[&str]| {
        let out = Command::new("docker")
            .arg("--config")
            .arg(&config)
            .args(args)
            .env_remove("DOCKER_HOST")
            .output()
            .unwrap();
        assert!(out.status.success(), "docker {args:?}: {out:?}");
    };
    cli(&[
        "context",
        "create",
        "dt-remote",
        "--docker",
        &format!("host={plain}"),
    ]);
    let cfg = config.display().to_string();
    let out = dops(
        &engine,
        false,
        &p.dir,
        &[("DOCKER_CONFIG", &cfg), ("DOCKER_CONTEXT", "dt-remote")],
        &["-v", "ps", "--all"],
    );
    assert!(lists_marker(&out), "{out:?}");
    assert!(
        stderr(&out).contains("(docker context dt-remote (DOCKER_CONTEXT), plain TCP)"),
        "{}",
        stderr(&out)
    );
    cli(&["context", "use", "dt-remote"]);
    let out = dops(
        &engine,
        false,
        &p.dir,
        &[("DOCKER_CONFIG", &cfg)],
        &["ps", "--all"],
    );
    assert!(lists_marker(&out), "{out:?}");

    // What dops cannot use: refused (exit 2), never the local socket.
    let out = dops(
        &engine,
        false,
        &p.dir,
        &[("DOCKER_HOST", "ssh://me@elsewhere")],
        &["ps"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).starts_with("dops: error: DOCKER_HOST: \"ssh://me@elsewhere\": ssh:// engines are not supported by dops\n"),
        "{}",
        stderr(&out)
    );
    phase("the rest");
    // The shared engine never saw the marker.
    let shared = support::docker(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!stdout(&shared).contains(&marker));
}
