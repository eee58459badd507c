//! The DNS server's keys and signed answers, in-process on 127.0.0.1: instance keys limited to
//! their own names (what is refused, how it shows), signed answers too big for UDP, BADTIME with
//! the server's clock, the response cache following the registry, zone transfers for the
//! project key only, several listen addresses, and `dops dns:records --server` / `dns serve
//! --listen` on the real binary.

// dns_common (the in-process server helpers) and support (the CLI test builder) both include
// support/eventually.rs.
#![allow(clippy::duplicate_mod)]

mod dns_common;
mod support;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use dns_common::*;
use dops::dns::records;
use dops::init::register::Policy;
use dops::tsig_key::{self, InstanceIdentity, TsigKey, UpdatePolicy};
use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_proto::rr::{RData, Record, RecordType};

/// A server that knows the project key and every instance key derived from it (what `dops dns
/// serve` runs with).
fn start_project(project: &TsigKey) -> dops::dns::DnsServer {
    let mut c = config(project);
    c.credentials = dops::commands::dns::credentials(project.clone());
    start(c)
}

fn instance_key(project: &TsigKey, svc: &str, inst: &str, policy: UpdatePolicy) -> TsigKey {
    tsig_key::instance_key(project, &InstanceIdentity::new(svc, inst, policy)).unwrap()
}

fn refused(srv: &dops::dns::DnsServer) -> Vec<String> {
    srv.log()
        .events()
        .into_iter()
        .filter(|e| e.starts_with("refused"))
        .collect()
}

/// Send a signed message over UDP; the answer and whether its TSIG verifies.
fn signed_exchange(
    server: SocketAddr,
    mut m: Message,
    key: &TsigKey,
    time: u64,
) -> (Message, bool) {
    let mut verifier = m.finalize(&key.signer().unwrap(), time).unwrap().unwrap();
    let raw = udp(server, &m.to_vec().unwrap()).expect("an answer");
    let ok = verifier.verify(&raw).is_ok();
    (Message::from_vec(&raw).unwrap(), ok)
}

#[test]
fn an_instance_key_changes_only_its_own_names() {
    let project = key();
    let srv = start_project(&project);
    let s = srv.addr();

    // APPEND, with an SRV record: its three names
    let one_key = instance_key(&project, "web", "one", UpdatePolicy::Append);
    assert_eq!(one_key.name, "web.one.append.dops-key");
    let mut one = registrar(s, &one_key, "web", "one", [10, 1, 0, 1]);
    one.port = Some(8080);
    one.register(true).unwrap();
    assert_eq!(a(s, "web.local.zone"), [Ipv4Addr::new(10, 1, 0, 1)]);
    assert_eq!(a(s, "web-one.local.zone"), [Ipv4Addr::new(10, 1, 0, 1)]);
    assert_eq!(
        query(s, "_8080._tcp.web.local.zone", RecordType::SRV)
            .answers
            .len(),
        1
    );
    let two_key = instance_key(&project, "web", "two", UpdatePolicy::Append);
    registrar(s, &two_key, "web", "two", [10, 1, 0, 2])
        .register(true)
        .unwrap();
    assert_eq!(a(s, "web.local.zone").len(), 2);

    // REPLACE with its own REPLACE key: the hot swap works
    let new_key = instance_key(&project, "web", "new", UpdatePolicy::Replace);
    let mut new = registrar(s, &new_key, "web", "new", [10, 1, 0, 9]);
    new.policy = Policy::Replace;
    new.register(true).unwrap();
    assert_eq!(a(s, "web.local.zone"), [Ipv4Addr::new(10, 1, 0, 9)]);
    new.withdraw().unwrap();
    // the others come back with their next refresh (a plain add)
    one.register(false).unwrap();
    registrar(s, &two_key, "web", "two", [10, 1, 0, 2])
        .register(false)
        .unwrap();
    assert_eq!(a(s, "web.local.zone").len(), 2);

    // an APPEND key may not replace: REFUSED, and logged with the reason
    let mut sneaky = registrar(s, &one_key, "web", "one", [10, 1, 0, 1]);
    sneaky.policy = Policy::Replace;
    let e = sneaky.register(true).unwrap_err();
    assert!(
        e.to_string().contains("refused the update: Query Refused"),
        "{e}"
    );
    assert_eq!(a(s, "web.local.zone").len(), 2, "nothing deleted");

    // other services' names, the server's own names, the apex: REFUSED, signed, nothing changed
    for name in [
        "db.local.zone",
        "web-two.local.zone",
        "ns.local.zone",
        "dns.local.zone",
        "local.zone",
    ] {
        let (ans, authentic) = signed_exchange(
            s,
            update_msg(vec![add_a(name, [10, 1, 0, 66])]),
            &one_key,
            now(),
        );
        assert_eq!(ans.metadata.response_code, ResponseCode::Refused, "{name}");
        assert!(
            authentic,
            "the refusal of {name} is signed with the instance key"
        );
        assert!(
            !a(s, name).contains(&Ipv4Addr::new(10, 1, 0, 66)),
            "{name} changed"
        );
    }
    // an SRV record pointing at someone else
    let srv_other = Record::from_rdata(
        name("_80._tcp.web.local.zone"),
        6,
        RData::SRV(hickory_proto::rr::rdata::SRV::new(
            0,
            0,
            80,
            name("db-1.local.zone"),
        )),
    );
    let (ans, _) = signed_exchange(s, update_msg(vec![srv_other]), &one_key, now());
    assert_eq!(ans.metadata.response_code, ResponseCode::Refused);

    let log = refused(&srv);
    assert!(
        log.iter().any(|l| l.contains(
            "key web.one.append.dops-key. may not add db.local.zone. A: not a name of web-one"
        )),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("ns.local.zone. A: a name of the dns server itself")),
        "{log:#?}"
    );
    assert!(
        log.iter().any(|l| l.contains("needs the REPLACE policy")),
        "{log:#?}"
    );

    // a key claiming another policy with the APPEND secret, or derived from another project:
    // NOTAUTH/BADSIG
    let mut forged = one_key.clone();
    forged.name = "web.one.replace.dops-key".into();
    let (ans, _) = signed_exchange(
        s,
        update_msg(vec![add_a("web.local.zone", [10, 1, 0, 77])]),
        &forged,
        now(),
    );
    assert_eq!(ans.metadata.response_code, ResponseCode::NotAuth);
    assert_eq!(ans.signature().unwrap().data.error, Some(TsigError::BadSig));
    let elsewhere = instance_key(&key(), "web", "one", UpdatePolicy::Append);
    let (ans, _) = signed_exchange(
        s,
        update_msg(vec![add_a("web.local.zone", [10, 1, 0, 78])]),
        &elsewhere,
        now(),
    );
    assert_eq!(ans.metadata.response_code, ResponseCode::NotAuth);

    // HIDE: its key registers nothing
    let hide_key = instance_key(&project, "web", "hidden", UpdatePolicy::Hide);
    let (ans, _) = signed_exchange(
        s,
        update_msg(vec![add_a("web-hidden.local.zone", [10, 1, 0, 5])]),
        &hide_key,
        now(),
    );
    assert_eq!(ans.metadata.response_code, ResponseCode::Refused);

    // the project key keeps every right
    let (ans, authentic) = signed_exchange(
        s,
        update_msg(vec![add_a("db.local.zone", [10, 1, 1, 1])]),
        &project,
        now(),
    );
    assert_eq!(ans.metadata.response_code, ResponseCode::NoError);
    assert!(authentic);
    assert_eq!(a(s, "db.local.zone"), [Ipv4Addr::new(10, 1, 1, 1)]);
}

#[test]
fn signed_answers_too_big_for_udp_are_truncated_with_a_valid_mac() {
    let project = key();
    let srv = start_project(&project);
    let s = srv.addr();
    // 60 addresses: about 1 KB of answers, more than 512 bytes
    let adds: Vec<Record> = (1..=60)
        .map(|i| add_a("big.local.zone", [10, 2, 0, i]))
        .collect();
    let raw = signed(update_msg(adds), &project, now());
    assert_eq!(rcode(&udp(s, &raw).unwrap()), ResponseCode::NoError);

    // unsigned: TC, the records that fit
    let m = query(s, "big.local.zone", RecordType::A);
    assert!(m.metadata.truncation);
    assert!(!m.answers.is_empty() && m.answers.len() < 60);

    // signed, no EDNS (512 bytes): only the question and a TSIG, TC, NOERROR, a MAC that verifies
    let (m, authentic) = signed_exchange(
        s,
        query_msg("big.local.zone", RecordType::A),
        &project,
        now(),
    );
    assert!(m.metadata.truncation, "TC");
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty(), "{:?}", m.answers);
    assert_eq!(m.queries.len(), 1);
    assert!(m.signature().is_some());
    assert!(authentic, "the truncated answer's MAC verifies");

    // with an instance key too
    let k = instance_key(&project, "web", "one", UpdatePolicy::Append);
    let (m, authentic) = signed_exchange(s, query_msg("big.local.zone", RecordType::A), &k, now());
    assert!(m.metadata.truncation && authentic);

    // signed with EDNS 4096: everything, signed
    let mut q = query_msg("big.local.zone", RecordType::A);
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    q.set_edns(edns);
    let (m, authentic) = signed_exchange(s, q, &project, now());
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 60);
    assert!(authentic);

    // signed over TCP: everything, signed
    let mut q = query_msg("big.local.zone", RecordType::A);
    let mut verifier = q
        .finalize(&project.signer().unwrap(), now())
        .unwrap()
        .unwrap();
    let raw = tcp(s, &q.to_vec().unwrap()).unwrap();
    assert!(verifier.verify(&raw).is_ok());
    assert_eq!(Message::from_vec(&raw).unwrap().answers.len(), 60);
}

#[test]
fn badtime_answers_carry_the_server_time() {
    let project = key();
    let srv = start_project(&project);
    let s = srv.addr();
    for skew in [-3600i64, 3600] {
        let t = (now() as i64 + skew) as u64;
        let mut m = update_msg(vec![add_a("late.local.zone", [10, 3, 0, 1])]);
        m.finalize(&project.signer().unwrap(), t).unwrap();
        let raw = udp(s, &m.to_vec().unwrap()).unwrap();
        let before = now();
        let ans = Message::from_vec(&raw).unwrap();
        assert_eq!(ans.metadata.response_code, ResponseCode::NotAuth);
        let sig = ans.signature().unwrap();
        assert_eq!(sig.data.error, Some(TsigError::BadTime));
        assert_eq!(sig.data.time, t, "time signed: the request's");
        assert_eq!(sig.data.other.len(), 6, "other data: the server's time");
        let mut b = [0u8; 8];
        b[2..].copy_from_slice(&sig.data.other);
        let server_time = u64::from_be_bytes(b);
        assert!(
            server_time.abs_diff(before) <= 5,
            "server time {server_time}, now {before}"
        );
        assert_eq!(sig.data.mac.len(), 32, "signed");
        // the MAC verifies: request MAC, response, TSIG variables (RFC 8945 §5.3.2)
        let signer = project.signer().unwrap();
        let (tbv, _) = hickory_proto::rr::rdata::tsig::signed_bitmessage_to_buf(
            &raw,
            Some(&m.signature().unwrap().data.mac),
            true,
        )
        .unwrap();
        assert!(signer.verify(&tbv, &sig.data.mac).is_ok());
    }
    assert!(a(s, "late.local.zone").is_empty());
}

#[test]
fn cached_answers_follow_the_registry() {
    let project = key();
    let mut c = config(&project);
    c.lease = Duration::from_millis(700);
    let srv = start(c);
    let s = srv.addr();
    let add = |ip: [u8; 4]| {
        let raw = signed(
            update_msg(vec![add_a("api.local.zone", ip)]),
            &project,
            now(),
        );
        assert_eq!(rcode(&udp(s, &raw).unwrap()), ResponseCode::NoError);
    };
    for i in 1..=3 {
        add([10, 4, 0, i]);
    }
    // the same request bytes again and again (another id each time): the cache answers, with
    // that id, and the round robin goes on
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut firsts = Vec::new();
    for id in 0..9u16 {
        let mut q = query_msg("api.local.zone", RecordType::A);
        q.metadata.id = id;
        sock.send_to(&q.to_vec().unwrap(), s).unwrap();
        let mut buf = [0u8; 4096];
        let (n, _) = sock.recv_from(&mut buf).unwrap();
        let m = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(m.metadata.id, id);
        assert_eq!(addrs(&m).len(), 3);
        firsts.push(m.answers[0].data.to_string());
    }
    for w in firsts.windows(2) {
        assert_ne!(w[0], w[1], "consecutive answers start alike: {firsts:?}");
    }
    // a change shows at once
    add([10, 4, 0, 4]);
    assert_eq!(a(s, "api.local.zone").len(), 4);
    let raw = signed(
        update_msg(vec![{
            let mut r = add_a("api.local.zone", [10, 4, 0, 1]);
            r.dns_class = hickory_proto::rr::DNSClass::NONE;
            r.ttl = 0;
            r
        }]),
        &project,
        now(),
    );
    assert_eq!(rcode(&udp(s, &raw).unwrap()), ResponseCode::NoError);
    assert!(!a(s, "api.local.zone").contains(&Ipv4Addr::new(10, 4, 0, 1)));
    // another letter case is its own request, with its own case in the question
    let m = query(s, "API.Local.Zone", RecordType::A);
    assert_eq!(m.queries[0].name().to_ascii(), "API.Local.Zone.");
    assert_eq!(addrs(&m).len(), 3);
    // a lease running out: never answered after it (the cache holds answers only until the
    // earliest lease end), and gone soon
    let t = Instant::now();
    add([10, 4, 1, 1]);
    let gone = loop {
        let got = a(s, "api.local.zone");
        let el = t.elapsed();
        if !got.contains(&Ipv4Addr::new(10, 4, 1, 1)) {
            break el;
        }
        assert!(el < Duration::from_secs(3), "never expired");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(
        gone >= Duration::from_millis(650),
        "expired early: {gone:?}"
    );
}

#[test]
fn forwarded_answers_are_never_cached() {
    let up = UdpSocket::bind("127.0.0.1:0").unwrap();
    up.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let up_addr = up.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        for n in 0..3u8 {
            let (len, from) = up.recv_from(&mut buf).unwrap();
            let q = Message::from_vec(&buf[..len]).unwrap();
            let mut r = Message::response(q.metadata.id, q.metadata.op_code);
            r.add_queries(q.queries.clone());
            r.add_answer(Record::from_rdata(
                q.queries[0].name().clone(),
                300,
                RData::A(Ipv4Addr::new(192, 0, 2, n).into()),
            ));
            up.send_to(&r.to_vec().unwrap(), from).unwrap();
        }
    });
    let key = key();
    let mut c = config(&key);
    c.upstreams = vec![up_addr];
    let srv = start(c);
    let got: Vec<Vec<Ipv4Addr>> = (0..3).map(|_| a(srv.addr(), "example.org")).collect();
    assert_eq!(
        got,
        [0u8, 1, 2]
            .iter()
            .map(|n| vec![Ipv4Addr::new(192, 0, 2, *n)])
            .collect::<Vec<_>>(),
        "every query went upstream"
    );
    h.join().unwrap();
}

#[test]
fn zone_transfer_for_the_project_key_only() {
    let project = key();
    let srv = start_project(&project);
    let s = srv.addr();
    let k = instance_key(&project, "web", "one", UpdatePolicy::Append);
    let mut r = registrar(s, &k, "web", "one", [10, 5, 0, 1]);
    r.port = Some(80);
    r.register(true).unwrap();
    let got = records::transfer(
        s,
        "local.zone",
        &project.clone().into(),
        Duration::from_secs(2),
    )
    .unwrap_or_else(|e| panic!("{e}: {:#?}", srv.log().events()));
    let rows: Vec<String> = got
        .iter()
        .map(|r| format!("{} {} {} {}", r.name, r.rtype, r.value, r.instance))
        .collect();
    assert_eq!(
        rows,
        [
            "_80._tcp.web.local.zone. SRV 0 0 80 web-one.local.zone. web-one",
            "web-one.local.zone. A 10.5.0.1 web-one",
            "web.local.zone. A 10.5.0.1 web-one",
        ]
    );
    // an instance key: REFUSED (and logged)
    let e =
        records::transfer(s, "local.zone", &k.clone().into(), Duration::from_secs(2)).unwrap_err();
    assert!(e.to_string().ends_with("failed: REFUSED (hint: is local.zone the zone it serves, and .dops/dns.key this project's key?)"), "{e}");
    assert!(refused(&srv)
        .iter()
        .any(|l| l.contains("zone transfer with an instance key")));
    // unsigned, or over UDP: REFUSED
    let axfr = query_msg("local.zone", RecordType::AXFR);
    let raw = tcp(s, &axfr.to_vec().unwrap()).unwrap();
    assert_eq!(rcode(&raw), ResponseCode::Refused);
    let (m, _) = signed_exchange(
        s,
        query_msg("local.zone", RecordType::AXFR),
        &project,
        now(),
    );
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn listens_on_every_address() {
    let key = key();
    let mut c = config(&key);
    c.listen = vec![
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    ];
    let srv = start(c);
    assert_eq!(srv.addrs().len(), 2);
    assert_ne!(srv.addrs()[0], srv.addrs()[1]);
    let raw = signed(
        update_msg(vec![add_a("both.local.zone", [10, 6, 0, 1])]),
        &key,
        now(),
    );
    assert_eq!(
        rcode(&udp(srv.addrs()[1], &raw).unwrap()),
        ResponseCode::NoError
    );
    for addr in srv.addrs() {
        assert_eq!(a(*addr, "both.local.zone"), [Ipv4Addr::new(10, 6, 0, 1)]);
        assert_eq!(
            addrs(&query_tcp(*addr, "both.local.zone", RecordType::A)).len(),
            1
        );
    }
}

#[test]
fn dns_records_server_asks_a_server_by_zone_transfer() {
    let project = key();
    let srv = start_project(&project);
    let s = srv.addr();
    let k = instance_key(&project, "web", "one", UpdatePolicy::Append);
    registrar(s, &k, "web", "one", [10, 7, 0, 1])
        .register(true)
        .unwrap();
    let server = s.to_string();
    support::Test::new("dns-records-server")
        .write(".dops/dns.key", &format!("{}\n", project.to_env()))
        .args(&["dns:records", "--server", &server, "--zone", "local.zone"])
        .stdout(
            "NAME                 TYPE  ADDRESS   INSTANCE\n\
             web-one.local.zone.  A     10.7.0.1  web-one\n\
             web.local.zone.      A     10.7.0.1  web-one\n",
        )
        .run();
    // the JSON form
    support::Test::new("dns-records-server-json")
        .write(".dops/dns.key", &format!("{}\n", project.to_env()))
        .args(&["--json", "dns:records", "--server", &server, "--zone", "local.zone"])
        .stdout_contains(
            "  {\n    \"name\": \"web.local.zone.\",\n    \"type\": \"A\",\n    \"value\": \"10.7.0.1\",\n    \"instance\": \"web-one\"\n  }",
        )
        .run();
    // another project's key: the server refuses it
    support::Test::new("dns-records-server-other-key")
        .write(".dops/dns.key", &format!("{}\n", key().to_env()))
        .args(&["dns:records", "--server", &server, "--zone", "local.zone"])
        .stderr_contains(&format!("zone transfer from {server} failed: NOTAUTH"))
        .status(1)
        .run();
    support::Test::new("dns-records-bad-server")
        .args(&["dns:records", "--server", "nowhere"])
        .stderr_contains("invalid --server \"nowhere\": expected ip or ip:port")
        .status(2)
        .run();
    // without --server: the records file, whose zone must be the one asked for
    let file = records::RecordsFile {
        zone: "local.zone.".into(),
        written_at_ms: records::now_ms(),
        ttl: 2,
        lease_ms: 6000,
        records: Vec::new(),
    };
    let body = serde_json::to_string(&file).unwrap();
    support::Test::new("dns-records-zone")
        .write(".dops/run/dops-dns-master/dns-records.json", &body)
        .args(&["dns:records", "--zone", "other.zone"])
        .stderr_contains("the project's dns serves local.zone, not other.zone")
        .status(1)
        .run();
}

/// Two free loopback ports (UDP and TCP both free on each).
fn free_ports() -> (u16, u16) {
    let p = || {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = u.local_addr().unwrap().port();
        std::net::TcpListener::bind(("127.0.0.1", port))
            .map(|_| port)
            .ok()
    };
    loop {
        if let (Some(a), Some(b)) = (p(), p()) {
            if a != b {
                return (a, b);
            }
        }
    }
}

#[test]
fn dns_serve_listens_on_every_listen_option() {
    let key = key();
    let (p1, p2) = free_ports();
    let dir = tempfile::tempdir().unwrap();
    let mut child = support::dops_command(dir.path())
        .args(["dns", "serve"])
        .args(["--listen", &format!("127.0.0.1:{p1}")])
        .args(["--listen", &format!("127.0.0.1:{p2}")])
        .env("DNS_KEY", key.to_env())
        .env("DNS_UPSTREAM", "127.0.0.1:9")
        .env("DNS_RECORDS_FILE", dir.path().join("records.json"))
        .env("SERVICE_IP", "127.0.0.1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addrs: Vec<SocketAddr> = [p1, p2]
        .iter()
        .map(|p| SocketAddr::from(([127, 0, 0, 1], *p)))
        .collect();
    let up = support::within(Duration::from_secs(10), || {
        addrs.iter().all(|s| {
            let q = query_msg("ns.local.zone", RecordType::A);
            udp_quick(*s, &q.to_vec().unwrap()).is_some()
        })
    });
    let answered: Vec<Vec<Ipv4Addr>> = addrs.iter().map(|s| a(*s, "dns.local.zone")).collect();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(up.is_some(), "dops dns serve answers on both addresses");
    assert_eq!(answered, vec![vec![Ipv4Addr::new(127, 0, 0, 1)]; 2]);
}

/// One UDP exchange with a short timeout.
fn udp_quick(server: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").ok()?;
    s.set_read_timeout(Some(Duration::from_millis(200))).ok()?;
    s.send_to(bytes, server).ok()?;
    let mut buf = vec![0u8; 4096];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}
