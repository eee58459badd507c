//! The DNS server in-process on 127.0.0.1:0: query types, rotation, forwarding to a local fake
//! upstream, leases, APPEND/REPLACE/HIDE, TSIG accept/reject (incl. replayed and tampered), the
//! records file, and the Registrar (src/init/register.rs) against it.

mod dns_common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use dns_common::*;
use dops::init::register::{self, Policy};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};

#[test]
fn query_types_soa_ns_a_srv_ptr_nxdomain_nodata_tcp() {
    let key = key();
    let mut c = config(&key);
    c.self_ip = Some("127.0.0.1".parse().unwrap());
    let srv = start(c);
    let s = srv.addr();
    let mut one = registrar(s, &key, "web", "one", [10, 0, 0, 1]);
    one.port = Some(8080);
    one.register(true).unwrap();
    registrar(s, &key, "web", "two", [10, 0, 0, 2])
        .register(true)
        .unwrap();

    let m = query(s, "web.local.zone", RecordType::A);
    assert!(m.metadata.authoritative);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        addrs(&m),
        [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)]
    );
    assert!(m.answers.iter().all(|r| r.ttl == 2), "low ttl");
    assert_eq!(a(s, "web-one.local.zone"), [Ipv4Addr::new(10, 0, 0, 1)]);
    assert_eq!(a(s, "WEB-TWO.Local.Zone"), [Ipv4Addr::new(10, 0, 0, 2)]);

    let m = query(s, "_8080._tcp.web.local.zone", RecordType::SRV);
    match &m.answers[..] {
        [r] => match &r.data {
            RData::SRV(v) => {
                assert_eq!(v.port, 8080);
                assert_eq!(v.target, name("web-one.local.zone"));
            }
            other => panic!("not srv: {other:?}"),
        },
        other => panic!("one srv expected: {other:?}"),
    }
    let mut extra = m.clone();
    extra.answers = m.additionals.clone();
    assert_eq!(
        addrs(&extra),
        [Ipv4Addr::new(10, 0, 0, 1)],
        "srv target address in additionals"
    );

    let m = query(s, "1.0.0.10.in-addr.arpa", RecordType::PTR);
    match &m.answers[..] {
        [r] => assert_eq!(r.data.to_string(), "web-one.local.zone."),
        other => panic!("one ptr expected: {other:?}"),
    }

    let m = query(s, "local.zone", RecordType::SOA);
    assert!(matches!(m.answers[0].data, RData::SOA(_)));
    let m = query(s, "local.zone", RecordType::NS);
    assert_eq!(m.answers[0].data.to_string(), "ns.local.zone.");
    assert_eq!(a(s, "ns.local.zone"), [Ipv4Addr::new(127, 0, 0, 1)]);
    assert_eq!(a(s, "dns.local.zone"), [Ipv4Addr::new(127, 0, 0, 1)]);

    let m = query(s, "nope.local.zone", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(
        matches!(m.authorities[0].data, RData::SOA(_)),
        "soa for negative caching"
    );
    let m = query(s, "web.local.zone", RecordType::AAAA);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    // empty non-terminal: exists, no data
    let m = query(s, "_tcp.web.local.zone", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);

    let m = query_tcp(s, "web.local.zone", RecordType::A);
    assert_eq!(addrs(&m).len(), 2);

    // Registrar::lookup_a (what dops-init watches use)
    let got = register::lookup_a(s, "web.local.zone", Duration::from_secs(1)).unwrap();
    assert_eq!(got.len(), 2);
    assert!(
        register::lookup_a(s, "nope.local.zone", Duration::from_secs(1))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn answers_rotate_on_every_answer() {
    let key = key();
    let srv = start(config(&key));
    let s = srv.addr();
    for i in 1..=3u8 {
        registrar(s, &key, "api", &format!("i{i}"), [10, 0, 1, i])
            .register(true)
            .unwrap();
    }
    let firsts: Vec<String> = (0..6)
        .map(|_| {
            query(s, "api.local.zone", RecordType::A).answers[0]
                .data
                .to_string()
        })
        .collect();
    for w in firsts.windows(2) {
        assert_ne!(
            w[0], w[1],
            "consecutive answers start with the same address: {firsts:?}"
        );
    }
    let mut uniq = firsts.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), 3, "{firsts:?}");
}

/// A fake upstream resolver on 127.0.0.1: answers every A query with 192.0.2.7.
fn fake_upstream() -> (SocketAddr, std::thread::JoinHandle<usize>) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let addr = sock.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let mut served = 0;
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut r = Message::response(q.metadata.id, q.metadata.op_code);
            r.metadata.recursion_available = true;
            r.metadata.recursion_desired = q.metadata.recursion_desired;
            r.add_queries(q.queries.clone());
            let qn = q.queries[0].name().clone();
            if qn.to_ascii().starts_with("missing.") {
                r.metadata.response_code = ResponseCode::NXDomain;
            } else {
                r.add_answer(Record::from_rdata(
                    qn,
                    300,
                    RData::A(Ipv4Addr::new(192, 0, 2, 7).into()),
                ));
            }
            sock.send_to(&r.to_vec().unwrap(), from).unwrap();
            served += 1;
            if served == 2 {
                break;
            }
        }
        served
    });
    (addr, h)
}

#[test]
fn forwards_other_names_to_the_upstream() {
    let key = key();
    let (up, h) = fake_upstream();
    let mut c = config(&key);
    c.upstreams = vec![up];
    let srv = start(c);
    let m = query(srv.addr(), "example.org", RecordType::A);
    assert_eq!(addrs(&m), [Ipv4Addr::new(192, 0, 2, 7)]);
    assert!(!m.metadata.authoritative);
    assert!(m.metadata.recursion_available);
    let m = query(srv.addr(), "missing.example.org", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(h.join().unwrap(), 2);

    // without an upstream: refused, zone still served
    let srv2 = start(config(&key));
    let m = query(srv2.addr(), "example.org", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn leases_expire_refresh_and_withdraw() {
    let key = key();
    let mut c = config(&key);
    c.lease = Duration::from_millis(600);
    let srv = start(c);
    let s = srv.addr();
    // one registration, never refreshed: gone after the lease
    let mut once = registrar(s, &key, "tmp", "x", [10, 0, 2, 1]);
    once.lease = Duration::from_millis(600);
    let t = Instant::now();
    once.register(true).unwrap();
    assert_eq!(a(s, "tmp.local.zone").len(), 1);
    assert!(eventually(Duration::from_secs(3), || a(
        s,
        "tmp.local.zone"
    )
    .is_empty()));
    let gone_after = t.elapsed();
    assert!(
        gone_after >= Duration::from_millis(550),
        "expired too early: {gone_after:?}"
    );
    assert!(
        gone_after < Duration::from_millis(1200),
        "expired too late: {gone_after:?}"
    );
    // the ticker (every 100 ms) removes and logs it
    assert!(eventually(Duration::from_secs(1), || srv
        .log()
        .events()
        .iter()
        .any(|e| e.starts_with("expired tmp.local.zone."))));

    // the registration thread refreshes: alive well past the lease
    let mut kept = registrar(s, &key, "kept", "y", [10, 0, 2, 2]);
    kept.lease = Duration::from_millis(600);
    let h = register::spawn(kept);
    assert!(!h.status().registered);
    h.set_registered(true);
    assert!(eventually(Duration::from_secs(2), || h.status().registered));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(a(s, "kept.local.zone"), [Ipv4Addr::new(10, 0, 2, 2)]);
    assert_eq!(h.status().names, ["kept.local.zone", "kept-y.local.zone"]);
    // RESTARTING: withdrawn at once, not after the lease
    h.set_registered(false);
    assert!(eventually(Duration::from_millis(300), || a(
        s,
        "kept.local.zone"
    )
    .is_empty()));
    h.set_registered(true);
    assert!(eventually(Duration::from_secs(2), || a(
        s,
        "kept.local.zone"
    )
    .len()
        == 1));
    let t = Instant::now();
    h.withdraw_and_stop(Duration::from_secs(2));
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(a(s, "kept.local.zone").is_empty());
    assert!(a(s, "kept-y.local.zone").is_empty());
}

#[test]
fn append_replace_hide() {
    let key = key();
    let srv = start(config(&key));
    let s = srv.addr();
    let ha = register::spawn(registrar(s, &key, "app", "a", [10, 0, 3, 1]));
    let hb = register::spawn(registrar(s, &key, "app", "b", [10, 0, 3, 2]));
    ha.set_registered(true);
    hb.set_registered(true);
    assert!(eventually(Duration::from_secs(2), || a(
        s,
        "app.local.zone"
    )
    .len()
        == 2));

    // REPLACE: the service name points at the new instance only, though a and b keep refreshing
    let mut c = registrar(s, &key, "app", "c", [10, 0, 3, 3]);
    c.policy = Policy::Replace;
    c.lease = Duration::from_millis(900);
    let hc = register::spawn(c);
    hc.set_registered(true);
    assert!(eventually(Duration::from_secs(2), || a(
        s,
        "app.local.zone"
    ) == [Ipv4Addr::new(
        10, 0, 3, 3
    )]));
    std::thread::sleep(Duration::from_millis(2500)); // several refreshes of a, b and c
    assert_eq!(a(s, "app.local.zone"), [Ipv4Addr::new(10, 0, 3, 3)]);
    // the instance names stay
    assert_eq!(a(s, "app-a.local.zone"), [Ipv4Addr::new(10, 0, 3, 1)]);
    // the replacing instance stops: the others are answered again
    hc.withdraw_and_stop(Duration::from_secs(2));
    assert!(eventually(Duration::from_secs(3), || a(
        s,
        "app.local.zone"
    )
    .len()
        == 2));

    // HIDE: resolves, never registered
    let mut h = registrar(s, &key, "app", "hidden", [10, 0, 3, 9]);
    h.policy = Policy::Hide;
    let hh = register::spawn(h);
    hh.set_registered(true);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!hh.status().registered);
    assert!(hh.status().names.is_empty());
    assert!(a(s, "app-hidden.local.zone").is_empty());
    assert_eq!(a(s, "app.local.zone").len(), 2);
    for h in [ha, hb, hh] {
        h.withdraw_and_stop(Duration::from_secs(2));
    }
    assert!(a(s, "app.local.zone").is_empty());
}

#[test]
fn tsig_accepts_the_key_and_rejects_everything_else() {
    let key = key();
    let srv = start(config(&key));
    let s = srv.addr();

    // valid
    let raw = signed(
        update_msg(vec![add_a("ok.local.zone", [10, 0, 4, 1])]),
        &key,
        now(),
    );
    let ans = udp(s, &raw).unwrap();
    assert_eq!(rcode(&ans), ResponseCode::NoError);
    let ans_msg = Message::from_vec(&ans).unwrap();
    assert!(
        ans_msg.signature().is_some(),
        "the answer to a signed update is signed"
    );
    assert_eq!(a(s, "ok.local.zone"), [Ipv4Addr::new(10, 0, 4, 1)]);

    // replayed: exactly the same bytes again
    let ans = udp(s, &raw).unwrap();
    assert_eq!(rcode(&ans), ResponseCode::NotAuth);

    // unsigned
    let raw = update_msg(vec![add_a("unsigned.local.zone", [10, 0, 4, 2])])
        .to_vec()
        .unwrap();
    assert_eq!(rcode(&udp(s, &raw).unwrap()), ResponseCode::Refused);

    // same key name, another secret
    let mut other = dops::tsig_key::TsigKey::generate("dops-key");
    other.name = key.name.clone();
    let raw = signed(
        update_msg(vec![add_a("other.local.zone", [10, 0, 4, 3])]),
        &other,
        now(),
    );
    let ans = Message::from_vec(&udp(s, &raw).unwrap()).unwrap();
    assert_eq!(ans.metadata.response_code, ResponseCode::NotAuth);
    assert_eq!(ans.signature().unwrap().data.error, Some(TsigError::BadSig));

    // another key name
    let stranger = dops::tsig_key::TsigKey::generate("stranger-key");
    let raw = signed(
        update_msg(vec![add_a("stranger.local.zone", [10, 0, 4, 4])]),
        &stranger,
        now(),
    );
    let ans = Message::from_vec(&udp(s, &raw).unwrap()).unwrap();
    assert_eq!(ans.metadata.response_code, ResponseCode::NotAuth);
    assert_eq!(ans.signature().unwrap().data.error, Some(TsigError::BadKey));

    // tampered: change the address after signing (the last A rdata byte before the TSIG)
    let raw = signed(
        update_msg(vec![add_a("tamper.local.zone", [10, 0, 4, 5])]),
        &key,
        now(),
    );
    let mut bad = raw.clone();
    let pos = raw
        .windows(4)
        .position(|w| w == [10, 0, 4, 5])
        .expect("address in the message");
    bad[pos + 3] = 66;
    assert_eq!(rcode(&udp(s, &bad).unwrap()), ResponseCode::NotAuth);

    // signed too long ago, and in the future
    for t in [now() - 3600, now() + 3600] {
        let raw = signed(
            update_msg(vec![add_a("late.local.zone", [10, 0, 4, 6])]),
            &key,
            t,
        );
        let ans = Message::from_vec(&udp(s, &raw).unwrap()).unwrap();
        assert_eq!(ans.metadata.response_code, ResponseCode::NotAuth);
        assert_eq!(
            ans.signature().unwrap().data.error,
            Some(TsigError::BadTime)
        );
    }

    for n in ["unsigned", "other", "stranger", "tamper", "late"] {
        assert!(
            a(s, &format!("{n}.local.zone")).is_empty(),
            "{n} must not be registered"
        );
    }
    let refused: Vec<String> = srv
        .log()
        .events()
        .into_iter()
        .filter(|e| e.starts_with("refused"))
        .collect();
    assert!(
        refused.iter().any(|e| e.contains("unsigned update")),
        "{refused:?}"
    );
    assert!(
        refused.iter().any(|e| e.contains("replayed")),
        "{refused:?}"
    );
    assert!(
        refused.iter().any(|e| e.contains("bad tsig signature")),
        "{refused:?}"
    );
    assert!(
        refused.iter().any(|e| e.contains("unknown tsig key")),
        "{refused:?}"
    );
    assert!(
        refused.iter().any(|e| e.contains("time outside")),
        "{refused:?}"
    );

    // a Registrar with the wrong key gets a clear error
    let mut wrong = registrar(s, &other, "w", "1", [10, 0, 4, 7]);
    wrong.key = other.clone();
    let e = wrong.register(true).unwrap_err();
    assert!(e.to_string().contains("refused"), "{e}");

    // updates over TCP work too; updates for another zone are not ours
    let raw = signed(
        update_msg(vec![add_a("tcp.local.zone", [10, 0, 4, 8])]),
        &key,
        now(),
    );
    assert_eq!(rcode(&tcp(s, &raw).unwrap()), ResponseCode::NoError);
    assert_eq!(a(s, "tcp.local.zone"), [Ipv4Addr::new(10, 0, 4, 8)]);
    let raw = signed(
        update_msg(vec![add_a("x.other.zone", [10, 0, 4, 9])]),
        &key,
        now(),
    );
    assert_eq!(rcode(&udp(s, &raw).unwrap()), ResponseCode::NotZone);
    let _ = DNSClass::IN;
}

#[test]
fn records_file_lists_what_the_server_holds() {
    let key = key();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("dns-records.json");
    let mut c = config(&key);
    c.records_file = Some(path.clone());
    let srv = start(c);
    let mut r = registrar(srv.addr(), &key, "db", "main", [10, 0, 5, 1]);
    r.port = Some(5432);
    r.register(true).unwrap();
    assert!(eventually(Duration::from_secs(3), || {
        dops::dns::records::read(&path).is_ok_and(|f| f.records.len() == 3)
    }));
    let f = dops::dns::records::read(&path).unwrap();
    let cur = dops::dns::records::current(&f, dops::dns::records::now_ms());
    assert_eq!(cur.len(), 3);
    assert!(cur.iter().all(|v| v.instance == "db-main"), "{cur:?}");
    assert!(cur
        .iter()
        .all(|v| v.lease_left_ms > 3000 && v.lease_left_ms <= 6000));
    let table = dops::dns::records::render(&cur);
    assert!(
        table.contains("db.local.zone.") && table.contains("10.0.5.1"),
        "{table}"
    );
}
