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

fn addrs(dns: SocketAddr, name: &str) -> Vec<Ipv4Addr> {
    let mut v = lookup_a(dns, name, Duration::from_millis(500)).unwrap_or_default();
    v.sort();
    v
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
