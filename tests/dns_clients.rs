//! Real clients against the server: `nsupdate -y hmac-sha256:NAME:SECRET` and `dig` from Debian's
//! bind9-dnsutils. The server runs in-process on a free loopback port (the same `serve` code the
//! `dops dns serve` command runs, on a thread).

mod dns_common;

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use dns_common::*;
use dops::tsig_key::TsigKey;

fn nsupdate(key: Option<&TsigKey>, tcp: bool, script: &str) -> (bool, String) {
    let mut cmd = Command::new("nsupdate");
    if let Some(k) = key {
        cmd.arg("-y").arg(k.to_env());
    }
    if tcp {
        cmd.arg("-v");
    }
    cmd.args(["-t", "3"]);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nsupdate is installed (bind9-dnsutils)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn dig(server: SocketAddr, args: &[&str]) -> String {
    let out = Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string(), "+time=2", "+tries=1"])
        .args(args)
        .output()
        .expect("dig is installed (bind9-dnsutils)");
    assert!(out.status.success(), "dig {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn short(server: SocketAddr, args: &[&str]) -> Vec<String> {
    let mut a = args.to_vec();
    a.push("+short");
    let mut v: Vec<String> = dig(server, &a)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v
}

fn script(server: SocketAddr, body: &str) -> String {
    format!(
        "server {} {}\nzone local.zone\n{body}\nsend\n",
        server.ip(),
        server.port()
    )
}

#[test]
fn nsupdate_with_the_key_adds_and_dig_resolves() {
    let key = key();
    let srv = start(config(&key));
    let s = srv.addr();
    let (ok, out) = nsupdate(
        Some(&key),
        false,
        &script(
            s,
            "update add web.local.zone 60 A 10.9.0.1\nupdate add web-one.local.zone 60 A 10.9.0.1\nupdate add _80._tcp.web.local.zone 60 SRV 0 0 80 web-one.local.zone.",
        ),
    );
    assert!(ok, "nsupdate failed: {out}");
    let (ok, out) = nsupdate(
        Some(&key),
        true, // over TCP
        &script(s, "update add web.local.zone 60 A 10.9.0.2"),
    );
    assert!(ok, "nsupdate -v failed: {out}");

    assert_eq!(short(s, &["web.local.zone", "A"]), ["10.9.0.1", "10.9.0.2"]);
    assert_eq!(short(s, &["+tcp", "web-one.local.zone", "A"]), ["10.9.0.1"]);
    assert_eq!(
        short(s, &["_80._tcp.web.local.zone", "SRV"]),
        ["0 0 80 web-one.local.zone."]
    );
    assert_eq!(short(s, &["-x", "10.9.0.1"]), ["web-one.local.zone."]);
    let full = dig(s, &["web.local.zone", "A"]);
    assert!(full.contains("status: NOERROR"), "{full}");
    assert!(full.contains(" aa "), "authoritative: {full}");
    assert!(full.contains("\t2\tIN\tA"), "ttl 2: {full}");
    let soa = dig(s, &["local.zone", "SOA"]);
    assert!(
        soa.contains("ns.local.zone. hostmaster.local.zone."),
        "{soa}"
    );
    let nx = dig(s, &["nope.local.zone", "A"]);
    assert!(nx.contains("status: NXDOMAIN"), "{nx}");
    // a signed query (dig -y) gets a signed answer dig accepts
    let signed = dig(s, &["-y", &key.to_env(), "web.local.zone", "A"]);
    assert!(signed.contains("status: NOERROR"), "{signed}");
    assert!(!signed.contains("tsig verify failure"), "{signed}");

    // REPLACE the standard way: delete the RRset and add, in one UPDATE
    let (ok, out) = nsupdate(
        Some(&key),
        false,
        &script(
            s,
            "update delete web.local.zone A\nupdate add web.local.zone 60 A 10.9.0.3",
        ),
    );
    assert!(ok, "{out}");
    assert_eq!(short(s, &["web.local.zone", "A"]), ["10.9.0.3"]);
    // a plain add of an old address is held back while the replacement lives
    let (ok, out) = nsupdate(
        Some(&key),
        false,
        &script(s, "update add web.local.zone 60 A 10.9.0.1"),
    );
    assert!(ok, "{out}");
    assert_eq!(short(s, &["web.local.zone", "A"]), ["10.9.0.3"]);
    // deleting the replacement releases it
    let (ok, out) = nsupdate(
        Some(&key),
        false,
        &script(s, "update delete web.local.zone A 10.9.0.3"),
    );
    assert!(ok, "{out}");
    assert_eq!(short(s, &["web.local.zone", "A"]), ["10.9.0.1"]);

    // prerequisites: "name is not in use" fails for an existing name
    let (ok, out) = nsupdate(
        Some(&key),
        false,
        &script(
            s,
            "prereq nxdomain web.local.zone\nupdate add web.local.zone 60 A 10.9.0.9",
        ),
    );
    assert!(!ok && out.contains("YXDOMAIN"), "{out}");
}

#[test]
fn nsupdate_without_or_with_another_key_is_refused_and_logged() {
    let key = key();
    let srv = start(config(&key));
    let s = srv.addr();
    let (ok, out) = nsupdate(
        None,
        false,
        &script(s, "update add x.local.zone 60 A 10.9.1.1"),
    );
    assert!(!ok, "unsigned update accepted: {out}");
    assert!(out.contains("REFUSED"), "{out}");

    let mut other = TsigKey::generate("dops-key");
    other.name = key.name.clone();
    let (ok, out) = nsupdate(
        Some(&other),
        false,
        &script(s, "update add y.local.zone 60 A 10.9.1.2"),
    );
    assert!(!ok, "update with another secret accepted: {out}");
    assert!(out.contains("NOTAUTH"), "{out}");

    let stranger = TsigKey::generate("stranger");
    let (ok, out) = nsupdate(
        Some(&stranger),
        false,
        &script(s, "update add z.local.zone 60 A 10.9.1.3"),
    );
    assert!(!ok, "update with another key accepted: {out}");

    for n in ["x", "y", "z"] {
        assert!(short(s, &[&format!("{n}.local.zone"), "A"]).is_empty());
    }
    let refused = srv
        .log()
        .events()
        .into_iter()
        .filter(|e| e.starts_with("refused"))
        .count();
    assert!(refused >= 3, "{:?}", srv.log().events());
}

#[test]
fn dig_sees_a_lease_run_out() {
    let key = key();
    let mut c = config(&key);
    // Long enough for nsupdate to end and dig to ask on a loaded machine.
    c.lease = Duration::from_millis(3000);
    let srv = start(c);
    let s = srv.addr();
    let (ok, out) = nsupdate(
        Some(&key),
        false,
        &script(s, "update add short.local.zone 60 A 10.9.2.1"),
    );
    assert!(ok, "{out}");
    assert_eq!(short(s, &["short.local.zone"]), ["10.9.2.1"]);
    std::thread::sleep(Duration::from_millis(3500));
    assert!(short(s, &["short.local.zone"]).is_empty());
}

#[test]
fn nsupdate_with_an_instance_key_changes_only_its_own_names() {
    use dops::tsig_key::{instance_key, InstanceIdentity, UpdatePolicy};
    let project = key();
    let mut c = config(&project);
    c.credentials = dops::commands::dns::credentials(project.clone());
    let srv = start(c);
    let s = srv.addr();
    let web_one = instance_key(
        &project,
        &InstanceIdentity::new("web", "one", UpdatePolicy::Append),
    )
    .unwrap();
    // its own names: the instance name, the service name, its SRV record
    let (ok, out) = nsupdate(
        Some(&web_one),
        false,
        &script(
            s,
            "update add web-one.local.zone 60 A 10.9.5.1\nupdate add web.local.zone 60 A 10.9.5.1\nupdate add _80._tcp.web.local.zone 60 SRV 0 0 80 web-one.local.zone.",
        ),
    );
    assert!(ok, "nsupdate with the instance key failed: {out}");
    assert_eq!(short(s, &["web.local.zone", "A"]), ["10.9.5.1"]);
    assert_eq!(
        short(s, &["_80._tcp.web.local.zone", "SRV"]),
        ["0 0 80 web-one.local.zone."]
    );
    // over TCP too
    let (ok, out) = nsupdate(
        Some(&web_one),
        true,
        &script(s, "update delete web.local.zone A 10.9.5.1"),
    );
    assert!(ok, "{out}");
    assert!(short(s, &["web.local.zone", "A"]).is_empty());
    // another service's name, the server's own names, the apex, someone else's SRV target, and
    // (APPEND) deleting the service's RRset: REFUSED
    for body in [
        "update add db.local.zone 60 A 10.9.5.2",
        "update add web-two.local.zone 60 A 10.9.5.2",
        "update add ns.local.zone 60 A 10.9.5.2",
        "update add dns.local.zone 60 A 10.9.5.2",
        "update add local.zone 60 A 10.9.5.2",
        "update add _80._tcp.web.local.zone 60 SRV 0 0 80 db-1.local.zone.",
        "update delete web.local.zone A",
    ] {
        let (ok, out) = nsupdate(Some(&web_one), false, &script(s, body));
        assert!(!ok, "accepted: {body}: {out}");
        assert!(out.contains("REFUSED"), "{body}: {out}");
    }
    assert!(short(s, &["db.local.zone", "A"]).is_empty());
    assert_eq!(
        short(s, &["ns.local.zone", "A"]),
        Vec::<String>::new(),
        "no self address configured, and none registered"
    );
    let refused: Vec<String> = srv
        .log()
        .events()
        .into_iter()
        .filter(|e| e.starts_with("refused") && e.contains("key web.one.append.dops-key."))
        .collect();
    assert_eq!(refused.len(), 7, "{refused:#?}");
    // a REPLACE instance's key replaces the standard way
    let web_new = instance_key(
        &project,
        &InstanceIdentity::new("web", "new", UpdatePolicy::Replace),
    )
    .unwrap();
    let (ok, out) = nsupdate(
        Some(&web_new),
        false,
        &script(
            s,
            "update delete web.local.zone A\nupdate add web.local.zone 60 A 10.9.5.9",
        ),
    );
    assert!(ok, "{out}");
    assert_eq!(short(s, &["web.local.zone", "A"]), ["10.9.5.9"]);
    // dig with an instance key: a signed answer dig accepts
    let signed = dig(s, &["-y", &web_one.to_env(), "web.local.zone", "A"]);
    assert!(signed.contains("status: NOERROR"), "{signed}");
    assert!(!signed.contains("tsig verify failure"), "{signed}");
}

#[test]
fn dig_accepts_a_signed_truncated_answer_then_retries_over_tcp() {
    let project = key();
    let srv = start(config(&project));
    let s = srv.addr();
    let adds: String = (1..=60)
        .map(|i| format!("update add big.local.zone 60 A 10.9.6.{i}\n"))
        .collect();
    let (ok, out) = nsupdate(Some(&project), false, &script(s, adds.trim_end()));
    assert!(ok, "{out}");
    // dig +noedns: 512 bytes; the signed TC answer verifies, dig retries over TCP and gets all
    let full = dig(
        s,
        &["+noedns", "-y", &project.to_env(), "big.local.zone", "A"],
    );
    assert!(full.contains("Truncated, retrying in TCP mode"), "{full}");
    assert!(!full.contains("tsig verify failure"), "{full}");
    assert!(!full.contains("expected a TSIG"), "{full}");
    assert_eq!(full.matches("\tIN\tA\t10.9.6.").count(), 60, "{full}");
    // +ignore: the UDP answer itself, TC and signed, no records
    let tc = dig(
        s,
        &[
            "+noedns",
            "+ignore",
            "-y",
            &project.to_env(),
            "big.local.zone",
            "A",
        ],
    );
    assert!(tc.contains(" tc"), "{tc}");
    assert!(tc.contains("ANSWER: 0"), "{tc}");
    assert!(!tc.contains("tsig verify failure"), "{tc}");
}
