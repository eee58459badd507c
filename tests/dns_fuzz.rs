//! Malformed packets against the running server (UDP and TCP): a bounded mutation loop over valid
//! seeds (queries, signed and unsigned updates, signed queries). No panic anywhere in the server
//! (a panic hook watches every thread), and the server keeps answering.
//!
//! Duration: `DOPS_DNS_FUZZ_SECS` (default 15). The long run (5 minutes and more) is cargo-fuzz
//! on the handler itself: tests/fuzz-dns.

mod dns_common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dns_common::*;
use hickory_proto::op::{Edns, Message};
use hickory_proto::rr::{DNSClass, Record, RecordType};
use rand::Rng;

fn seeds(key: &dops::tsig_key::TsigKey) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    let mut q = query_msg("web.local.zone", RecordType::A);
    let mut e = Edns::new();
    e.set_max_payload(1232);
    q.set_edns(e);
    v.push(q.to_vec().unwrap());
    v.push(
        query_msg("_80._tcp.web.local.zone", RecordType::SRV)
            .to_vec()
            .unwrap(),
    );
    v.push(
        query_msg("1.0.0.10.in-addr.arpa", RecordType::PTR)
            .to_vec()
            .unwrap(),
    );
    v.push(query_msg("example.org", RecordType::AAAA).to_vec().unwrap());
    v.push(query_msg("local.zone", RecordType::ANY).to_vec().unwrap());
    v.push(signed(
        query_msg("web.local.zone", RecordType::A),
        key,
        now(),
    ));
    let mut del = Record::update0(name("web.local.zone"), 0, RecordType::A);
    del.dns_class = DNSClass::ANY;
    let mut pre = Record::update0(name("web.local.zone"), 0, RecordType::ANY);
    pre.dns_class = DNSClass::NONE;
    let mut m = update_msg(vec![del, add_a("web.local.zone", [10, 0, 0, 1])]);
    m.add_answer(pre);
    v.push(signed(m, key, now()));
    v.push(signed(
        update_msg(vec![add_a("web-one.local.zone", [10, 0, 0, 1])]),
        key,
        now(),
    ));
    v.push(
        update_msg(vec![add_a("x.local.zone", [10, 0, 0, 2])])
            .to_vec()
            .unwrap(),
    );
    v
}

fn mutate(rng: &mut impl Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut p = seeds[rng.random_range(0..seeds.len())].clone();
    let rounds = rng.random_range(1..=4);
    for _ in 0..rounds {
        match rng.random_range(0..9) {
            0 if !p.is_empty() => {
                let i = rng.random_range(0..p.len());
                p[i] ^= 1 << rng.random_range(0..8);
            }
            1 if !p.is_empty() => {
                let i = rng.random_range(0..p.len());
                p[i] = rng.random();
            }
            2 if p.len() >= 12 => {
                // header counts: the classic source of trouble
                let i = 4 + 2 * rng.random_range(0..4);
                let v: u16 = if rng.random_bool(0.5) {
                    rng.random_range(0..8)
                } else {
                    rng.random()
                };
                p[i..i + 2].copy_from_slice(&v.to_be_bytes());
            }
            3 => {
                let n = rng.random_range(0..=p.len());
                p.truncate(n);
            }
            4 => {
                let n = rng.random_range(1..64);
                p.extend((0..n).map(|_| rng.random::<u8>()));
            }
            5 if p.len() > 14 => {
                // compression pointer somewhere
                let i = rng.random_range(12..p.len() - 1);
                p[i] = 0xC0 | (rng.random::<u8>() & 0x3F);
                p[i + 1] = rng.random();
            }
            6 => {
                let other = &seeds[rng.random_range(0..seeds.len())];
                let cut = rng.random_range(0..=p.len().min(other.len()));
                p.truncate(cut);
                p.extend_from_slice(&other[cut..]);
            }
            7 if p.len() > 2 => {
                let a = rng.random_range(0..p.len());
                let b = rng.random_range(a..p.len());
                let chunk = p[a..b].to_vec();
                let at = rng.random_range(0..=p.len());
                p.splice(at..at, chunk);
            }
            _ => {
                let n = rng.random_range(0..600);
                p = (0..n).map(|_| rng.random::<u8>()).collect();
            }
        }
    }
    p
}

#[test]
fn malformed_packets_never_panic_the_server() {
    let secs: u64 = std::env::var("DOPS_DNS_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let panicked = Arc::new(AtomicBool::new(false));
    let flag = panicked.clone();
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        flag.store(true, Ordering::SeqCst);
        default(info);
    }));

    let key = key();
    let mut c = config(&key);
    c.upstreams = vec!["127.0.0.1:9".parse().unwrap()]; // nothing there: forwarding fails fast
    c.upstream_timeout = Duration::from_millis(50);
    let srv = start(c);
    let s: SocketAddr = srv.addr();
    let seeds = seeds(&key);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rng = rand::rng();
    let (mut udp_sent, mut tcp_sent, mut probes) = (0u64, 0u64, 0u64);
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        for _ in 0..64 {
            let p = mutate(&mut rng, &seeds);
            let _ = sock.send_to(&p, s);
            udp_sent += 1;
        }
        // some over TCP (framing with the right and with a wrong length)
        if let Ok(mut tcp) = TcpStream::connect(s) {
            for _ in 0..4 {
                let p = mutate(&mut rng, &seeds);
                let len = if rng.random_bool(0.9) {
                    p.len() as u16
                } else {
                    rng.random()
                };
                let mut framed = len.to_be_bytes().to_vec();
                framed.extend_from_slice(&p);
                if tcp.write_all(&framed).is_err() {
                    break;
                }
                tcp_sent += 1;
            }
        }
        // drain answers, then prove the server is alive
        sock.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 4096];
        while sock.recv_from(&mut buf).is_ok() {}
        sock.set_nonblocking(false).unwrap();
        let alive = eventually(Duration::from_secs(2), || {
            let m = query_msg("local.zone", RecordType::SOA);
            udp(s, &m.to_vec().unwrap())
                .and_then(|r| Message::from_vec(&r).ok())
                .is_some_and(|r| r.metadata.id == m.metadata.id)
        });
        assert!(alive, "server stopped answering after {udp_sent} packets");
        probes += 1;
        assert!(!panicked.load(Ordering::SeqCst), "a server task panicked");
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(!panicked.load(Ordering::SeqCst), "a server task panicked");
    eprintln!(
        "dns fuzz: {udp_sent} udp + {tcp_sent} tcp malformed packets in {:.1}s, {probes} liveness probes, no panic",
        t.elapsed().as_secs_f64()
    );
}
