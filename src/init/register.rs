//! DNS registration: the client side dops-init uses to put its instance into the dops DNS.
//!
//! Blocking std sockets, hickory-proto messages, TSIG hmac-sha256 with the project key
//! (`DNS_KEY`). No tokio, no getaddrinfo: we talk to IPs only (the binary is static).
//!
//! What one registration sends (one RFC 2136 UPDATE for zone `DNS_ZONE`):
//! - APPEND: add `<service>.<zone> A|AAAA <ip>`; add `<service>-<instance>.<zone> A|AAAA <ip>`;
//!   with `DNS_PORT`: add `_<port>._tcp.<service>.<zone> SRV 0 0 <port> <service>-<instance>.<zone>`.
//! - REPLACE: the same, preceded by "delete RRset" of `<service>.<zone>` (and of the SRV name) in
//!   the same message: the server then answers only this instance for the service name until it
//!   withdraws or its lease runs out (see `dns::registry`). Later refreshes are plain adds.
//! - HIDE: nothing is sent; the instance only resolves.
//!
//! Refresh: the same adds every lease/3 (lease: `DNS_LEASE` seconds, default 6). Withdraw: delete
//! exactly those records (class NONE), so other instances of the service are untouched.
//!
//! `DNS_SERVICE_IP` may be a name (a swarm): it is resolved again before every message (see
//! `dns_server`). Without `SERVICE_IP`, the address registered is the one this container sends
//! from toward the server (on a swarm a task has several interfaces).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::{A, AAAA, SRV};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::dns_server::{source_toward, ServerAddr};
pub use super::dns_wire::lookup_a;
use super::dns_wire::send_update;
pub use super::register_error::RegisterError;
use crate::tsig_key::TsigKey;

/// How a registration treats the service name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Policy {
    /// Join the service's round-robin set (default).
    Append,
    /// Be the only address of the service name (hot swap).
    Replace,
    /// Never register; only resolve.
    Hide,
}

impl std::str::FromStr for Policy {
    type Err = RegisterError;
    fn from_str(s: &str) -> Result<Policy, RegisterError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "" | "APPEND" => Ok(Policy::Append),
            "REPLACE" => Ok(Policy::Replace),
            "HIDE" => Ok(Policy::Hide),
            other => Err(RegisterError::BadEnv {
                var: "DNS_UPDATE_POLICY",
                why: format!("{other:?} is not APPEND, REPLACE or HIDE"),
            }),
        }
    }
}

/// One instance's registration parameters.
#[derive(Debug, Clone)]
pub struct Registrar {
    pub service: String,
    pub instance: String,
    pub ip: IpAddr,
    pub port: Option<u16>,
    pub zone: String,
    pub key: TsigKey,
    pub policy: Policy,
    /// The server's address (the last one resolved when `server_name` is set).
    pub server: SocketAddr,
    /// The server's name, resolved again before every message; None: `server` is fixed.
    pub server_name: Option<String>,
    /// No `SERVICE_IP`: register the address this container reaches the server from (found at
    /// each first registration); `ip` holds it.
    pub ip_from_route: bool,
    /// The server's lease; refreshes go out every lease/3.
    pub lease: Duration,
    /// Per-attempt answer timeout.
    pub timeout: Duration,
}

/// The variables a registration reads.
const ENV: [&str; 9] = [
    "DNS_SERVICE_IP",
    "DNS_KEY",
    "DNS_ZONE",
    "DNS_PORT",
    "DNS_LEASE",
    "DNS_UPDATE_POLICY",
    "SERVICE_IP",
    "SERVICE",
    "INSTANCE",
];

impl Registrar {
    /// From the environment the engine gives every instance; `None` without `DNS_SERVICE_IP`.
    pub fn from_env() -> Result<Option<Registrar>, RegisterError> {
        for var in ENV {
            if crate::host_env::var(var).is_err() {
                return Err(RegisterError::BadEnv {
                    var,
                    why: "not valid UTF-8".into(),
                });
            }
        }
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// Like [`Registrar::from_env`] with an explicit variable source (tests).
    pub fn from_vars(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Registrar>, RegisterError> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let Some(server) = get("DNS_SERVICE_IP") else {
            return Ok(None);
        };
        let (server, server_name) = match parse_server(&server)? {
            ServerAddr::Fixed(s) => (s, None),
            ServerAddr::Named { host, port } => (
                SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port),
                Some(host),
            ),
        };
        let need = |var: &'static str| get(var).ok_or(RegisterError::MissingEnv { var });
        let service = need("SERVICE")?.to_ascii_lowercase();
        let instance = need("INSTANCE")?.to_ascii_lowercase();
        let key = TsigKey::parse(&need("DNS_KEY")?).map_err(|e| RegisterError::BadEnv {
            var: "DNS_KEY",
            why: e.to_string(),
        })?;
        let zone = get("DNS_ZONE").unwrap_or_else(|| "local.zone".to_string());
        let policy: Policy = get("DNS_UPDATE_POLICY").unwrap_or_default().parse()?;
        let port = match get("DNS_PORT") {
            None => None,
            Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or(
                RegisterError::BadEnv {
                    var: "DNS_PORT",
                    why: format!("{p:?} is not a port number"),
                },
            )?),
        };
        let ip = match get("SERVICE_IP") {
            Some(ip) => Some(ip.parse::<IpAddr>().map_err(|_| RegisterError::BadEnv {
                var: "SERVICE_IP",
                why: format!("{ip:?} is not an ip address"),
            })?),
            None => None,
        };
        let lease = match get("DNS_LEASE") {
            None => Duration::from_secs(6),
            Some(s) => Duration::from_secs_f64(
                s.parse::<f64>()
                    .ok()
                    .filter(|v| *v > 0.0 && *v < 86_400.0)
                    .ok_or(RegisterError::BadEnv {
                        var: "DNS_LEASE",
                        why: format!("{s:?} is not a number of seconds"),
                    })?,
            ),
        };
        let r = Registrar {
            service,
            instance,
            ip: ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            port,
            zone,
            key,
            policy,
            server,
            server_name,
            ip_from_route: ip.is_none(),
            lease,
            timeout: Duration::from_millis(1000),
        };
        // Validate the names now rather than at the first registration.
        r.service_name()?;
        r.instance_name()?;
        Ok(Some(r))
    }

    fn zone_name(&self) -> Result<Name, RegisterError> {
        let mut z = Name::from_ascii(self.zone.trim_end_matches('.')).map_err(|e| {
            RegisterError::BadEnv {
                var: "DNS_ZONE",
                why: e.to_string(),
            }
        })?;
        z.set_fqdn(true);
        Ok(z)
    }

    fn under_zone(&self, label: &str, var: &'static str) -> Result<Name, RegisterError> {
        self.zone_name()?
            .prepend_label(label)
            .map_err(|e| RegisterError::BadEnv {
                var,
                why: e.to_string(),
            })
    }

    /// `<service>.<zone>.`
    pub fn service_name(&self) -> Result<Name, RegisterError> {
        self.under_zone(&self.service, "SERVICE")
    }

    /// `<service>-<instance>.<zone>.`
    pub fn instance_name(&self) -> Result<Name, RegisterError> {
        self.under_zone(&format!("{}-{}", self.service, self.instance), "INSTANCE")
    }

    fn srv_name(&self, port: u16) -> Result<Name, RegisterError> {
        let bad = |e: hickory_proto::ProtoError| RegisterError::BadEnv {
            var: "DNS_PORT",
            why: e.to_string(),
        };
        self.service_name()?
            .prepend_label("_tcp")
            .and_then(|n| n.prepend_label(format!("_{port}")))
            .map_err(bad)
    }

    /// The names this instance registers (without the trailing dot), for state.json.
    pub fn names(&self) -> Vec<String> {
        if self.policy == Policy::Hide {
            return Vec::new();
        }
        let mut out = Vec::new();
        for n in [self.service_name(), self.instance_name()]
            .into_iter()
            .chain(self.port.map(|p| self.srv_name(p)))
            .flatten()
        {
            out.push(n.to_ascii().trim_end_matches('.').to_string());
        }
        out
    }

    fn address(&self) -> RData {
        match self.ip {
            IpAddr::V4(v4) => RData::A(A(v4)),
            IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
        }
    }

    /// The records of this registration.
    fn records(&self) -> Result<Vec<Record>, RegisterError> {
        let ttl = self.lease.as_secs().max(1) as u32;
        let mut v = vec![
            Record::from_rdata(self.service_name()?, ttl, self.address()),
            Record::from_rdata(self.instance_name()?, ttl, self.address()),
        ];
        if let Some(port) = self.port {
            v.push(Record::from_rdata(
                self.srv_name(port)?,
                ttl,
                RData::SRV(SRV::new(0, 0, port, self.instance_name()?)),
            ));
        }
        Ok(v)
    }

    fn new_update(&self) -> Result<Message, RegisterError> {
        let mut msg = Message::new(rand::random(), MessageType::Query, OpCode::Update);
        let mut zone = Query::query(self.zone_name()?, RecordType::SOA);
        zone.set_query_class(DNSClass::IN);
        msg.add_query(zone);
        Ok(msg)
    }

    /// The UPDATE for a registration; `first`: the first one after being withdrawn (REPLACE then
    /// deletes the service's RRsets first).
    pub fn register_message(&self, first: bool) -> Result<Message, RegisterError> {
        let mut msg = self.new_update()?;
        let rtype = self.address().record_type();
        if first {
            // The instance name is single-valued: a restarted instance with a new address
            // replaces its old record.
            let mut del = Record::update0(self.instance_name()?, 0, rtype);
            del.dns_class = DNSClass::ANY;
            msg.add_authority(del);
        }
        if first && self.policy == Policy::Replace {
            let mut del = Record::update0(self.service_name()?, 0, rtype);
            del.dns_class = DNSClass::ANY;
            msg.add_authority(del);
            if let Some(port) = self.port {
                let mut del = Record::update0(self.srv_name(port)?, 0, RecordType::SRV);
                del.dns_class = DNSClass::ANY;
                msg.add_authority(del);
            }
        }
        for r in self.records()? {
            msg.add_authority(r);
        }
        Ok(msg)
    }

    /// The UPDATE that withdraws exactly this instance's records.
    pub fn withdraw_message(&self) -> Result<Message, RegisterError> {
        let mut msg = self.new_update()?;
        for mut r in self.records()? {
            r.dns_class = DNSClass::NONE;
            r.ttl = 0;
            msg.add_authority(r);
        }
        Ok(msg)
    }

    /// Resolve the server again (a name); at a first registration, find the address to
    /// register when no `SERVICE_IP` says it.
    fn endpoints(&mut self, first: bool) -> Result<(), RegisterError> {
        if let Some(host) = &self.server_name {
            self.server = ServerAddr::Named {
                host: host.clone(),
                port: self.server.port(),
            }
            .resolve(self.timeout)?;
        }
        if first && self.ip_from_route {
            self.ip = source_toward(self.server)
                .or_else(|| crate::local_addr::first_ipv4().map(IpAddr::V4))
                .ok_or(RegisterError::NoAddress)?;
        }
        Ok(())
    }

    /// Register (or refresh) now; waits for the server's signed answer.
    pub fn register(&mut self, first: bool) -> Result<(), RegisterError> {
        if self.policy == Policy::Hide {
            return Ok(());
        }
        self.endpoints(first)?;
        send_update(
            self.server,
            &self.key,
            self.register_message(first)?,
            self.timeout,
        )
    }

    /// Withdraw now.
    pub fn withdraw(&mut self) -> Result<(), RegisterError> {
        if self.policy == Policy::Hide {
            return Ok(());
        }
        self.endpoints(false)?;
        send_update(
            self.server,
            &self.key,
            self.withdraw_message()?,
            self.timeout,
        )
    }
}

fn parse_server(text: &str) -> Result<ServerAddr, RegisterError> {
    ServerAddr::parse(text).ok_or_else(|| RegisterError::BadEnv {
        var: "DNS_SERVICE_IP",
        why: format!("{text:?} is not an ip address, a host name, or either with :port"),
    })
}

/// What state.json says about DNS.
pub use crate::state_file::DnsState as DnsStatus;

enum Cmd {
    Set(bool),
    Stop(mpsc::Sender<()>),
}

/// The registration thread's handle.
pub struct RegistrationHandle {
    tx: mpsc::Sender<Cmd>,
    status: Arc<Mutex<DnsStatus>>,
    names: Vec<String>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Start the registration thread. It does nothing until `set_registered(true)`; it never blocks
/// the caller.
pub fn spawn(r: Registrar) -> RegistrationHandle {
    let (tx, rx) = mpsc::channel();
    let names = r.names();
    let status = Arc::new(Mutex::new(DnsStatus {
        registered: false,
        names: names.clone(),
        error: None,
    }));
    let st = status.clone();
    let thread = std::thread::Builder::new()
        .name("dns-register".into())
        .spawn(move || run(r, rx, st))
        .ok();
    RegistrationHandle {
        tx,
        status,
        names,
        thread,
    }
}

impl RegistrationHandle {
    /// UP → true; RESTARTING / maintenance → false (withdraws now).
    pub fn set_registered(&self, on: bool) {
        let _ = self.tx.send(Cmd::Set(on));
    }

    /// For state.json `"dns"`.
    pub fn status(&self) -> DnsStatus {
        self.status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|_| DnsStatus {
                registered: false,
                names: self.names.clone(),
                error: None,
            })
    }

    /// STOPPED: withdraw now, waiting at most `timeout`.
    pub fn withdraw_and_stop(mut self, timeout: Duration) {
        let (ack_tx, ack_rx) = mpsc::channel();
        if self.tx.send(Cmd::Stop(ack_tx)).is_ok() && ack_rx.recv_timeout(timeout).is_ok() {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
        // On timeout the thread is left to finish its bounded attempt on its own.
    }
}

fn set_status(status: &Mutex<DnsStatus>, registered: bool, error: Option<String>) {
    if let Ok(mut s) = status.lock() {
        s.registered = registered;
        s.error = error;
    }
}

fn run(mut r: Registrar, rx: mpsc::Receiver<Cmd>, status: Arc<Mutex<DnsStatus>>) {
    let hide = r.policy == Policy::Hide;
    let refresh = (r.lease / 3).max(Duration::from_millis(100));
    let retry = Duration::from_millis(250).min(refresh);
    let mut want = false;
    let mut registered = false;
    let mut next = Instant::now();
    loop {
        let wait = if want && !hide {
            next.saturating_duration_since(Instant::now())
        } else {
            Duration::from_secs(3600)
        };
        match rx.recv_timeout(wait) {
            Ok(Cmd::Set(on)) => {
                want = on;
                if on {
                    next = Instant::now();
                } else if registered {
                    if let Err(e) = r.withdraw() {
                        tracing::warn!(error = %e, "dns withdraw failed (the lease will expire)");
                    }
                    registered = false;
                    set_status(&status, false, None);
                }
            }
            Ok(Cmd::Stop(ack)) => {
                if registered {
                    if let Err(e) = r.withdraw() {
                        tracing::warn!(error = %e, "dns withdraw failed (the lease will expire)");
                    }
                    set_status(&status, false, None);
                }
                let _ = ack.send(());
                return;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        if !want || hide || Instant::now() < next {
            continue;
        }
        match r.register(!registered) {
            Ok(()) => {
                if !registered {
                    tracing::info!(names = ?r.names(), "registered in dns");
                }
                registered = true;
                set_status(&status, true, None);
                next = Instant::now() + refresh;
            }
            Err(e) => {
                tracing::warn!(error = %e, "dns registration failed, retrying");
                set_status(&status, registered, Some(e.to_string()));
                next = Instant::now() + retry;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn from_vars_reads_the_contract_env() {
        assert!(Registrar::from_vars(vars(&[])).unwrap().is_none());
        let key = TsigKey::generate("dops-key").to_env();
        let r = Registrar::from_vars(vars(&[
            ("DNS_SERVICE_IP", "172.18.0.2"),
            ("SERVICE", "Web"),
            ("INSTANCE", "one"),
            ("DNS_KEY", &key),
            ("DNS_PORT", "8080"),
            ("SERVICE_IP", "172.18.0.5"),
            ("DNS_UPDATE_POLICY", "replace"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(r.server, "172.18.0.2:53".parse().unwrap());
        assert_eq!(r.policy, Policy::Replace);
        assert_eq!(
            r.names(),
            vec![
                "web.local.zone",
                "web-one.local.zone",
                "_8080._tcp.web.local.zone"
            ]
        );
        let first = r.register_message(true).unwrap();
        // delete instance A, delete service A, delete SRV, then 3 adds
        assert_eq!(first.authorities.len(), 6);
        let refresh = r.register_message(false).unwrap();
        assert_eq!(refresh.authorities.len(), 3);
        assert!(refresh
            .authorities
            .iter()
            .all(|r| r.dns_class == DNSClass::IN));
        let w = r.withdraw_message().unwrap();
        assert!(w.authorities.iter().all(|r| r.dns_class == DNSClass::NONE));
    }

    #[test]
    fn from_vars_errors() {
        let key = TsigKey::generate("dops-key").to_env();
        let base = [
            ("DNS_SERVICE_IP", "172.18.0.2"),
            ("SERVICE", "web"),
            ("INSTANCE", "one"),
            ("SERVICE_IP", "10.0.0.1"),
        ];
        let e = Registrar::from_vars(vars(&base)).unwrap_err();
        assert!(e.to_string().contains("DNS_KEY is required"), "{e}");
        let mut bad = base.to_vec();
        bad.push(("DNS_KEY", &key));
        bad.push(("DNS_UPDATE_POLICY", "SOMETIMES"));
        let e = Registrar::from_vars(vars(&bad)).unwrap_err();
        assert!(e.to_string().contains("DNS_UPDATE_POLICY"), "{e}");
        let mut hide = base.to_vec();
        hide.push(("DNS_KEY", &key));
        hide.push(("DNS_UPDATE_POLICY", "HIDE"));
        let r = Registrar::from_vars(vars(&hide)).unwrap().unwrap();
        assert!(r.names().is_empty());
    }
}
