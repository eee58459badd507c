//! The dops DNS in a real platform (a real dockerd, the real dops-init injected): `dops run`
//! starts dops-dns-master, instances register when UP; three instances → three addresses;
//! `docker kill` one → gone within the lease; `dops clean` one → gone at once; a REPLACE instance
//! hot-swaps the service name; `dops dns:records` lists what the server holds.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use dops::init::register::lookup_a;
use support::{docker, within, TestProject};

fn ip_of(container: &str) -> Ipv4Addr {
    let out = docker(&[
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        container,
    ]);
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no ip for {container}: {out:?}"))
}

/// The addresses the server answers for `name`, sorted. A lost or late answer is asked again
/// (up to five times): taken as "no address", it would pass a "gone" check for the wrong reason.
fn addrs(dns: SocketAddr, name: &str) -> Vec<Ipv4Addr> {
    let mut last = None;
    for _ in 0..5 {
        match lookup_a(dns, name, Duration::from_millis(1000)) {
            Ok(mut v) => {
                v.sort();
                return v;
            }
            Err(e) => last = Some(e),
        }
    }
    panic!("the DNS server at {dns} does not answer for {name}: {last:?}")
}

fn sorted(mut v: Vec<Ipv4Addr>) -> Vec<Ipv4Addr> {
    v.sort();
    v
}

#[test]
fn three_instances_kill_clean_and_replace_hot_swap() {
    let p = TestProject::new("dns-engine");
    p.write(
        "services/web/Dockerfile",
        "FROM dops-test/busybox\nCMD [\"sleep\",\"3600\"]\n",
    );
    p.write(
        "run.conf",
        r#"[
  {"service": "web", "instance": "one"},
  {"service": "web", "instance": "two"},
  {"service": "web", "instance": "three"},
  {"service": "web", "instance": "new", "env_vars": {"DNS_UPDATE_POLICY": "REPLACE"}}
]
"#,
    );
    for i in ["one", "two", "three"] {
        p.dops_ok(&[
            &format!("run:web,instance={i}"),
            "--wait",
            "--timeout",
            "90",
        ]);
    }
    let dns = SocketAddr::new(ip_of(&p.container("dops-dns", "master")).into(), 53);
    let ips: Vec<Ipv4Addr> = ["one", "two", "three"]
        .iter()
        .map(|i| ip_of(&p.container("web", i)))
        .collect();

    // three instances: three addresses (registration happens when each reaches UP)
    assert!(
        within(Duration::from_secs(15), || addrs(dns, "web.local.zone")
            == sorted(ips.clone()))
        .is_some(),
        "web.local.zone: {:?}, want {:?}",
        addrs(dns, "web.local.zone"),
        ips
    );
    assert_eq!(addrs(dns, "web-two.local.zone"), vec![ips[1]]);
    // instances resolve the zone through their own resolver (Docker's, forwarding to dops-dns)
    let out = docker(&[
        "exec",
        &p.container("web", "one"),
        "nslookup",
        "web-three.local.zone",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&ips[2].to_string()),
        "nslookup in web-one: {out:?}"
    );
    // the key was generated for the project, private
    let key = std::fs::metadata(p.path(".dops/dns.key")).expect("project key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(key.permissions().mode() & 0o777, 0o600);

    // docker kill: no withdraw, the lease (6 s) runs out
    let out = docker(&["kill", &p.container("web", "two")]);
    assert!(out.status.success(), "{out:?}");
    let gone = within(Duration::from_secs(10), || {
        !addrs(dns, "web.local.zone").contains(&ips[1])
    })
    .expect("a killed instance disappears within the lease");
    assert!(gone <= Duration::from_millis(7_000), "gone after {gone:?}");
    eprintln!("docker kill -> gone after {gone:?} (lease 6 s)");

    // dops clean: withdrawn at once
    p.dops_ok(&["clean:web,instance=three"]);
    let gone = within(Duration::from_secs(3), || {
        !addrs(dns, "web.local.zone").contains(&ips[2])
    })
    .expect("a cleaned instance is withdrawn");
    assert!(
        gone <= Duration::from_millis(500),
        "withdrawn after {gone:?}"
    );
    assert_eq!(addrs(dns, "web.local.zone"), vec![ips[0]]);

    // dops dns:records lists what the server holds (the file the server writes every second)
    std::thread::sleep(Duration::from_millis(1500));
    let out = p.dops_ok(&["dns:records"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("web-one.local.zone.") && text.contains(&ips[0].to_string()),
        "{text}"
    );

    // REPLACE: the new instance takes the service name while "one" keeps running and refreshing
    p.dops_ok(&["run:web,instance=new", "--wait", "--timeout", "90"]);
    let new_ip = ip_of(&p.container("web", "new"));
    assert!(
        within(Duration::from_secs(10), || addrs(dns, "web.local.zone")
            == vec![new_ip])
        .is_some(),
        "after REPLACE: {:?}",
        addrs(dns, "web.local.zone")
    );
    std::thread::sleep(Duration::from_secs(3)); // several refreshes of "one"
    assert_eq!(addrs(dns, "web.local.zone"), vec![new_ip]);
    assert_eq!(addrs(dns, "web-one.local.zone"), vec![ips[0]]);
    // the replacing instance goes: "one" is answered again at once
    p.dops_ok(&["clean:web,instance=new"]);
    assert!(
        within(Duration::from_secs(2), || addrs(dns, "web.local.zone")
            == vec![ips[0]])
        .is_some(),
        "after cleaning the replacement: {:?}",
        addrs(dns, "web.local.zone")
    );
    p.dops_ok(&["clean:all"]);
}

/// Each instance registers with its own key, read from a 0400 file: `docker inspect` shows no
/// key, and the real server (in its container) refuses that key on another instance's name.
#[test]
fn instances_register_with_their_own_key_from_a_file() {
    use dops::tsig_key::{self, InstanceIdentity, TsigKey, UpdatePolicy};
    use std::os::unix::fs::PermissionsExt;

    let p = TestProject::new("dns-keys");
    p.write(
        "services/web/Dockerfile",
        "FROM dops-test/busybox\nCMD [\"sleep\",\"3600\"]\n",
    );
    p.write(
        "run.conf",
        r#"[{"service": "web", "instance": "one"}, {"service": "web", "instance": "two"}]"#,
    );
    p.dops_ok(&["run:all", "--wait", "--timeout", "90"]);
    let dns = SocketAddr::new(ip_of(&p.container("dops-dns", "master")).into(), 53);
    let one_ip = ip_of(&p.container("web", "one"));
    assert!(
        within(Duration::from_secs(15), || addrs(dns, "web-one.local.zone")
            == vec![one_ip])
        .is_some(),
        "web-one registers: {:?}",
        addrs(dns, "web-one.local.zone")
    );

    let project =
        TsigKey::parse(&std::fs::read_to_string(p.path(".dops/dns.key")).unwrap()).unwrap();
    let one_key = tsig_key::instance_key(
        &project,
        &InstanceIdentity::new("web", "one", UpdatePolicy::Append),
    )
    .unwrap();
    // the key file: 0400, the instance's own key (not the project's)
    let file = p.path(".dops/run/web-one/dns.key");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o400, "{}", file.display());
    assert_eq!(tsig_key::read_key_file(&file).unwrap(), one_key);
    let dns_file = p.path(".dops/run/dops-dns-master/dns.key");
    assert_eq!(tsig_key::read_key_file(&dns_file).unwrap(), project);
    let out = docker(&[
        "exec",
        &p.container("web", "one"),
        "stat",
        "-c",
        "%a %u",
        "/run/dops/dns.key",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "400 0",
        "inside: read-only, root's: {out:?}"
    );

    // docker inspect: no key in any container's environment
    let secrets: Vec<String> = [&project, &one_key]
        .iter()
        .map(|k| k.to_env().rsplit(':').next().unwrap().to_string())
        .collect();
    for c in [
        p.container("web", "one"),
        p.container("web", "two"),
        p.container("dops-dns", "master"),
    ] {
        let out = docker(&["inspect", "--format", "{{json .Config.Env}}", &c]);
        let env = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(env.contains("DNS_KEY_FILE=/run/dops/dns.key"), "{c}: {env}");
        assert!(!env.contains("DNS_KEY="), "{c}: {env}");
        for s in &secrets {
            assert!(!env.contains(s.as_str()), "{c} shows a secret: {env}");
        }
        let all = docker(&["inspect", &c]);
        for s in &secrets {
            assert!(
                !String::from_utf8_lossy(&all.stdout).contains(s.as_str()),
                "{c}: docker inspect shows a secret"
            );
        }
    }

    // the real server: web-one's key may change web-one's names, never web-two's nor ns/dns
    let nsupdate = |body: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new("nsupdate")
            .args(["-y", &one_key.to_env(), "-t", "3"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("nsupdate (bind9-dnsutils)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("server {}\nzone local.zone\n{body}\nsend\n", dns.ip()).as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    for body in [
        "update add web-two.local.zone 60 A 10.99.0.1",
        "update add ns.local.zone 60 A 10.99.0.1",
        "update add dns.local.zone 60 A 10.99.0.1",
    ] {
        let (ok, out) = nsupdate(body);
        assert!(!ok && out.contains("REFUSED"), "{body}: {out}");
    }
    assert!(!addrs(dns, "web-two.local.zone").contains(&Ipv4Addr::new(10, 99, 0, 1)));
    let (ok, out) = nsupdate("update add web-one.local.zone 60 TXT \"x\"");
    assert!(!ok && out.contains("REFUSED"), "only A/AAAA: {out}");
    let (ok, out) = nsupdate(&format!("update add web.local.zone 60 A {one_ip}"));
    assert!(ok, "its own service name: {out}");
    // the refusals are in the server's log
    let logs = docker(&["logs", &p.container("dops-dns", "master")]);
    let text =
        String::from_utf8_lossy(&logs.stderr).to_string() + &String::from_utf8_lossy(&logs.stdout);
    assert!(
        text.contains(
            "key web.one.append.dops-key. may not add web-two.local.zone. A: not a name of web-one"
        ),
        "{text}"
    );
    p.dops_ok(&["clean:all"]);
    // The key files went with their containers.
    assert!(!file.exists(), "{} left after clean", file.display());
    assert!(
        !dns_file.exists(),
        "{} left after clean",
        dns_file.display()
    );
}
