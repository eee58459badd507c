//! The server: hickory-server with [`DnsHandler`] on UDP and TCP (same port), a lease-expiry
//! ticker and the records file writer.
//!
//! [`start`] runs it on its own threads (tests, benchmarks: `127.0.0.1:0` works and the bound
//! address is returned); [`serve`] runs it in the foreground until SIGTERM/SIGINT
//! (`dops dns serve`). It listens on every address of [`DnsConfig::listen`] (UDP and TCP on the
//! same port for each).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use hickory_proto::rr::Name;
use hickory_server::Server;

use super::error::DnsError;
use super::forward::Forwarder;
use super::handler::DnsHandler;
use super::log::DnsLog;
use super::records::{self, RecordsFile};
use super::registry::Registry;
use super::tsig::{Credentials, SharedKey, TsigGuard};
use super::udp;

/// Everything the server runs with.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// UDP and TCP listen addresses, at least one (port 0: any free port, the same for UDP and
    /// TCP of that address).
    pub listen: Vec<SocketAddr>,
    /// The zone, e.g. `local.zone`.
    pub zone: String,
    /// The keys accepted, with what each may change.
    pub credentials: Credentials,
    /// TTL of every answer, seconds.
    pub ttl: u32,
    /// How long a registration lives unless refreshed.
    pub lease: Duration,
    /// Where names outside the zone go.
    pub upstreams: Vec<SocketAddr>,
    pub upstream_timeout: Duration,
    /// Where to write the records snapshot every second (None: nowhere).
    pub records_file: Option<PathBuf>,
    /// The server's own address, answered for `ns.<zone>` and `dns.<zone>`.
    pub self_ip: Option<IpAddr>,
    /// Largest accepted TSIG clock difference, seconds.
    pub tsig_window: u64,
    /// Serving threads, each with its own UDP socket on the port (SO_REUSEPORT). Default: half
    /// the CPUs this process may use, at least one ([`default_threads`]).
    pub threads: usize,
}

impl DnsConfig {
    /// Defaults: `0.0.0.0:53`, TTL 2 s, lease 6 s, no upstream, TSIG window 300 s; `key` is
    /// the only key accepted, with every right (set `credentials` for more).
    pub fn new(zone: &str, key: impl Into<SharedKey>) -> DnsConfig {
        DnsConfig {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 53))],
            zone: zone.to_string(),
            credentials: Credentials::single(key.into()),
            ttl: 2,
            lease: Duration::from_secs(6),
            upstreams: Vec::new(),
            upstream_timeout: Duration::from_secs(2),
            records_file: None,
            self_ip: None,
            tsig_window: 300,
            threads: default_threads(),
        }
    }

    fn zone_name(&self) -> Result<Name, DnsError> {
        let mut z =
            Name::from_ascii(self.zone.trim_end_matches('.')).map_err(|e| DnsError::BadConfig {
                what: "zone".into(),
                why: format!("{:?}: {e}", self.zone),
            })?;
        z.set_fqdn(true);
        if z.is_root() {
            return Err(DnsError::BadConfig {
                what: "zone".into(),
                why: "the root zone cannot be served".into(),
            });
        }
        Ok(z.to_lowercase())
    }
}

/// Half the CPUs this process may use (cgroup quotas included), at least 1, at most 4: the other
/// half is left to whoever sends the queries. On 2 CPUs one serving thread answers more than two
/// (bench/dns.sh: a second thread competes with the clients for the CPUs and loses more than it
/// adds), as for dnsmasq and BIND.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| (n.get() / 2).clamp(1, 4))
        .unwrap_or(1)
}

/// A server running on its own thread; stops when dropped.
pub struct DnsServer {
    addrs: Vec<SocketAddr>,
    registry: Arc<RwLock<Registry>>,
    log: DnsLog,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    threads: Vec<std::thread::JoinHandle<Result<(), DnsError>>>,
}

impl DnsServer {
    /// The first UDP and TCP address (same port).
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Every address listened on, in `DnsConfig::listen` order.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    pub fn registry(&self) -> &Arc<RwLock<Registry>> {
        &self.registry
    }

    /// Refusals, updates and expiries the server logged.
    pub fn log(&self) -> &DnsLog {
        &self.log
    }

    /// Stop and wait for the thread.
    pub fn stop(mut self) -> Result<(), DnsError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), DnsError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(true);
        }
        let mut result = Ok(());
        for t in self.threads.drain(..) {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err(DnsError::Runtime("server thread panicked".into())),
            }
        }
        result
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

struct Sockets {
    /// One UDP socket per worker thread, all on the same port (SO_REUSEPORT: the kernel spreads
    /// the queries over them).
    udp: Vec<std::net::UdpSocket>,
    tcp: std::net::TcpListener,
}

fn udp_reuseport(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use nix::sys::socket::{
        bind, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, SockaddrStorage,
    };
    use std::os::fd::AsRawFd;
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket(family, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)?;
    setsockopt(&fd, sockopt::ReusePort, &true)?;
    // Deep receive buffers: bursts wait in the kernel instead of being dropped.
    const RCVBUF: usize = 4 << 20;
    if setsockopt(&fd, sockopt::RcvBufForce, &RCVBUF).is_err() {
        let _ = setsockopt(&fd, sockopt::RcvBuf, &RCVBUF);
    }
    bind(fd.as_raw_fd(), &SockaddrStorage::from(addr))?;
    let sock = std::net::UdpSocket::from(fd);
    sock.set_nonblocking(true)?;
    Ok(sock)
}

/// Bind UDP (`n` sockets) and TCP on the same port (port 0: pick one free for both).
///
/// The port is chosen with a plain socket first: an automatic bind of a SO_REUSEPORT socket may
/// land on a port another SO_REUSEPORT server of the same user already holds.
fn bind(addr: SocketAddr, n: usize) -> Result<Sockets, DnsError> {
    let err = |addr, source| DnsError::Bind { addr, source };
    let mut last = None;
    for _ in 0..20 {
        let probe = std::net::UdpSocket::bind(addr).map_err(|e| err(addr, e))?;
        let bound = probe.local_addr().map_err(|e| err(addr, e))?;
        let tcp = match std::net::TcpListener::bind(bound) {
            Ok(tcp) => tcp,
            Err(e) if addr.port() == 0 => {
                last = Some(e);
                continue;
            }
            Err(e) => return Err(err(bound, e)),
        };
        drop(probe);
        let mut udp = Vec::new();
        for _ in 0..n.max(1) {
            match udp_reuseport(bound) {
                Ok(s) => udp.push(s),
                Err(e) => {
                    last = Some(e);
                    break;
                }
            }
        }
        if udp.len() == n.max(1) {
            tcp.set_nonblocking(true).map_err(|e| err(bound, e))?;
            return Ok(Sockets { udp, tcp });
        }
        if addr.port() != 0 {
            return Err(err(
                bound,
                last.unwrap_or_else(|| std::io::Error::other("bind failed")),
            ));
        }
    }
    Err(err(
        addr,
        last.unwrap_or_else(|| std::io::Error::other("no free port")),
    ))
}

/// Bind every listen address.
fn bind_all(listen: &[SocketAddr], n: usize) -> Result<Vec<Sockets>, DnsError> {
    if listen.is_empty() {
        return Err(DnsError::BadConfig {
            what: "listen address".into(),
            why: "none given".into(),
        });
    }
    listen.iter().map(|a| bind(*a, n)).collect()
}

struct Parts {
    zone: Name,
    handler: Arc<DnsHandler>,
    registry: Arc<RwLock<Registry>>,
    log: DnsLog,
}

fn parts(config: &DnsConfig) -> Result<Parts, DnsError> {
    let zone = config.zone_name()?;
    let registry = Arc::new(RwLock::new(Registry::new(&zone, config.lease)));
    let log = DnsLog::default();
    let handler = DnsHandler::new(
        &zone,
        config.ttl,
        registry.clone(),
        TsigGuard::new(config.credentials.clone(), config.tsig_window),
        Forwarder::new(config.upstreams.clone(), config.upstream_timeout),
        config.self_ip,
        log.clone(),
    )?;
    Ok(Parts {
        zone,
        handler: Arc::new(handler),
        registry,
        log,
    })
}

/// The lease-expiry ticker (every 100 ms) and the records-file writer (every second, and at
/// once after a change).
fn housekeeping(config: &DnsConfig, parts: &Parts) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let (reg, lg) = (parts.registry.clone(), parts.log.clone());
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            let gone = match reg.write() {
                Ok(mut r) => r.expire(Instant::now()),
                Err(_) => Vec::new(),
            };
            lg.expired(&gone);
        }
    }));
    if let Some(path) = config.records_file.clone() {
        let reg = parts.registry.clone();
        let (zone, ttl, lease) = (parts.zone.to_ascii(), config.ttl, config.lease);
        tasks.push(tokio::spawn(async move {
            // Every second, and within 100 ms of a change (the zone's serial moved), so that
            // whoever watches the file (`dops events`, `dops ui`) sees a registration at once.
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let mut written: Option<(u32, Instant)> = None;
            loop {
                tick.tick().await;
                let records = match reg.read() {
                    Ok(r) => {
                        let now = Instant::now();
                        if written.is_some_and(|(serial, at)| {
                            serial == r.serial() && now.duration_since(at) < Duration::from_secs(1)
                        }) {
                            continue;
                        }
                        written = Some((r.serial(), now));
                        r.snapshot(now)
                    }
                    Err(_) => continue,
                };
                let file = RecordsFile {
                    zone: zone.clone(),
                    written_at_ms: records::now_ms(),
                    ttl,
                    lease_ms: lease.as_millis() as u64,
                    records,
                };
                if let Err(e) = records::write(&path, &file) {
                    tracing::warn!(path = %path.display(), error = %e, "cannot write the records file");
                }
            }
        }));
    }
    tasks
}

/// One serving thread: its own single-threaded runtime and one UDP socket per listen address on
/// the shared port (thread 0 also runs hickory's `Server` for TCP, and the housekeeping tasks).
/// The kernel spreads UDP queries over the sockets (SO_REUSEPORT), so no work crosses threads.
fn serving_thread(
    index: usize,
    udp: Vec<std::net::UdpSocket>,
    tcp: Vec<std::net::TcpListener>,
    handler: Arc<DnsHandler>,
    extra: Option<(DnsConfig, Parts)>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<std::thread::JoinHandle<Result<(), DnsError>>, DnsError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DnsError::Runtime(e.to_string()))?;
    std::thread::Builder::new()
        .name(format!("dops-dns-{index}"))
        .spawn(move || {
            // The UDP loop keeps its recvmmsg/sendmmsg headers and its cache across awaits (not
            // Send): it runs as a local task of this thread.
            let local = tokio::task::LocalSet::new();
            rt.block_on(local.run_until(async move {
                let rt_err = |e: std::io::Error| DnsError::Runtime(e.to_string());
                let mut udp_tasks = Vec::new();
                for sock in udp {
                    let sock = Arc::new(tokio::net::UdpSocket::from_std(sock).map_err(rt_err)?);
                    udp_tasks.push(tokio::task::spawn_local(udp::serve(sock, handler.clone())));
                }
                let mut tcp_server = None;
                if !tcp.is_empty() {
                    let mut server = Server::new(Shared(handler));
                    for listener in tcp {
                        server.register_listener(
                            tokio::net::TcpListener::from_std(listener).map_err(rt_err)?,
                            Duration::from_secs(10),
                            64,
                        );
                    }
                    tcp_server = Some(server);
                }
                let tasks = match &extra {
                    Some((config, parts)) => housekeeping(config, parts),
                    None => Vec::new(),
                };
                while !*stop.borrow() {
                    if stop.changed().await.is_err() {
                        break;
                    }
                }
                for t in udp_tasks {
                    t.abort();
                }
                for t in tasks {
                    t.abort();
                }
                match tcp_server {
                    Some(mut s) => s
                        .shutdown_gracefully()
                        .await
                        .map_err(|e| DnsError::Runtime(e.to_string())),
                    None => Ok(()),
                }
            }))
        })
        .map_err(|e| DnsError::Runtime(e.to_string()))
}

/// The handler shared by the serving threads.
struct Shared(Arc<DnsHandler>);

impl hickory_server::server::RequestHandler for Shared {
    fn handle_request<'life0, 'life1, 'async_trait, R, T>(
        &'life0 self,
        request: &'life1 hickory_server::server::Request,
        response_handle: R,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = hickory_server::server::ResponseInfo>
                + Send
                + 'async_trait,
        >,
    >
    where
        R: hickory_server::server::ResponseHandler + 'async_trait,
        T: hickory_server::net::runtime::Time + 'async_trait,
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        self.0.handle_request::<R, T>(request, response_handle)
    }
}

/// Start the server on its own threads (`config.threads` of them); returns once it is
/// listening.
pub fn start(config: DnsConfig) -> Result<DnsServer, DnsError> {
    let parts = parts(&config)?;
    let n = config.threads.max(1);
    let sockets = bind_all(&config.listen, n)?;
    let addrs = sockets
        .iter()
        .map(|s| s.udp[0].local_addr())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| DnsError::Runtime(e.to_string()))?;
    let (registry, log, handler) = (
        parts.registry.clone(),
        parts.log.clone(),
        parts.handler.clone(),
    );
    // Thread i serves the i-th UDP socket of every address; thread 0 all the TCP listeners.
    let mut per_thread: Vec<Vec<std::net::UdpSocket>> = (0..n).map(|_| Vec::new()).collect();
    let mut tcp = Vec::new();
    for s in sockets {
        for (i, u) in s.udp.into_iter().enumerate() {
            per_thread[i].push(u);
        }
        tcp.push(s.tcp);
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut threads = Vec::new();
    let mut tcp = Some(tcp);
    let mut extra = Some((config, parts));
    for (i, udp) in per_thread.into_iter().enumerate() {
        threads.push(serving_thread(
            i,
            udp,
            tcp.take().unwrap_or_default(),
            handler.clone(),
            extra.take(),
            stop_rx.clone(),
        )?);
    }
    Ok(DnsServer {
        addrs,
        registry,
        log,
        stop: Some(stop_tx),
        threads,
    })
}

/// Run the server in the foreground until SIGTERM or SIGINT.
pub fn serve(config: DnsConfig) -> Result<(), DnsError> {
    let server = start(config)?;
    tracing::info!(addrs = ?server.addrs(), "listening on udp and tcp");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DnsError::Runtime(e.to_string()))?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| DnsError::Runtime(e.to_string()))?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("stopping");
        Ok::<(), DnsError>(())
    })?;
    server.stop()
}
