//! Helpers shared by the DNS tests: an in-process server on 127.0.0.1:0 and raw DNS exchanges.
#![allow(dead_code)]

#[path = "../support/eventually.rs"]
mod eventually;
#[allow(unused_imports)]
pub use eventually::eventually;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dops::dns::{DnsConfig, DnsServer};
use dops::init::register::{Policy, Registrar};
use dops::tsig_key::TsigKey;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

pub const ZONE: &str = "local.zone";

pub fn key() -> TsigKey {
    TsigKey::generate("dops-key")
}

pub fn config(key: &TsigKey) -> DnsConfig {
    let mut c = DnsConfig::new(ZONE, key.clone());
    c.listen = vec!["127.0.0.1:0".parse().unwrap()];
    c
}

pub fn start(c: DnsConfig) -> DnsServer {
    dops::dns::start(c).expect("dns server starts")
}

pub fn name(s: &str) -> Name {
    let mut n = Name::from_ascii(s).unwrap();
    n.set_fqdn(true);
    n
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Send raw bytes over UDP, wait for one answer.
pub fn udp(server: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.send_to(bytes, server).unwrap();
    let mut buf = vec![0u8; 65535];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

/// Send raw bytes over TCP (length-prefixed), read one answer.
pub fn tcp(server: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(server).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    s.write_all(&framed).ok()?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut body).ok()?;
    Some(body)
}

pub fn query_msg(qname: &str, t: RecordType) -> Message {
    let mut m = Message::new(rand::random(), MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name(qname), t));
    m
}

pub fn query(server: SocketAddr, qname: &str, t: RecordType) -> Message {
    let m = query_msg(qname, t);
    let raw = udp(server, &m.to_vec().unwrap()).expect("an answer");
    let a = Message::from_vec(&raw).unwrap();
    assert_eq!(a.metadata.id, m.metadata.id);
    a
}

pub fn query_tcp(server: SocketAddr, qname: &str, t: RecordType) -> Message {
    let m = query_msg(qname, t);
    let raw = tcp(server, &m.to_vec().unwrap()).expect("an answer");
    Message::from_vec(&raw).unwrap()
}

/// The A addresses of an answer, sorted.
pub fn addrs(m: &Message) -> Vec<Ipv4Addr> {
    let mut v: Vec<Ipv4Addr> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

pub fn a(server: SocketAddr, qname: &str) -> Vec<Ipv4Addr> {
    addrs(&query(server, qname, RecordType::A))
}

/// An UPDATE for the zone with these update records (authority section).
pub fn update_msg(records: Vec<Record>) -> Message {
    let mut m = Message::new(rand::random(), MessageType::Query, OpCode::Update);
    let mut z = Query::query(name(ZONE), RecordType::SOA);
    z.set_query_class(DNSClass::IN);
    m.add_query(z);
    for r in records {
        m.add_authority(r);
    }
    m
}

pub fn add_a(n: &str, ip: [u8; 4]) -> Record {
    Record::from_rdata(
        name(n),
        6,
        RData::A(hickory_proto::rr::rdata::A(Ipv4Addr::from(ip))),
    )
}

/// Sign with `key` at `time`, encode.
pub fn signed(mut m: Message, key: &TsigKey, time: u64) -> Vec<u8> {
    m.finalize(&key.signer().unwrap(), time).unwrap();
    m.to_vec().unwrap()
}

pub fn rcode(raw: &[u8]) -> ResponseCode {
    Message::from_vec(raw).unwrap().metadata.response_code
}

/// A registrar of `svc`-`inst` at `ip` with APPEND, a 6 s lease and a 1 s timeout.
pub fn registrar(
    server: SocketAddr,
    key: &TsigKey,
    svc: &str,
    inst: &str,
    ip: [u8; 4],
) -> Registrar {
    Registrar {
        service: svc.into(),
        instance: inst.into(),
        ip: Ipv4Addr::from(ip).into(),
        port: None,
        zone: ZONE.into(),
        key: key.clone(),
        policy: Policy::Append,
        server,
        server_name: None,
        ip_from_route: false,
        lease: Duration::from_secs(6),
        timeout: Duration::from_secs(1),
    }
}
