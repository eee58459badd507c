//! The server: hickory-server with [`DnsHandler`] on UDP and TCP (same port), a lease-expiry
//! ticker and the records file writer.
//!
//! [`start`] runs it on its own thread (tests, benchmarks: `127.0.0.1:0` works and the bound
//! address is returned); [`serve`] runs it in the foreground until SIGTERM/SIGINT
//! (`dops dns serve`).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use hickory_proto::rr::Name;
use hickory_server::Server;

use super::forward::Forwarder;
use super::handler::DnsHandler;
use super::key::TsigKey;
use super::records::{self, RecordsFile};
use super::registry::Registry;
use super::tsig::TsigGuard;
use super::{DnsError, DnsLog};

/// Everything the server runs with.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// UDP and TCP listen address (port 0: any free port, the same for both).
    pub listen: SocketAddr,
    /// The zone, e.g. `local.zone`.
    pub zone: String,
    /// The project's TSIG key: the only key accepted for updates.
    pub key: TsigKey,
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
    /// Tokio worker threads.
    pub threads: usize,
}

impl DnsConfig {
    /// Defaults: `0.0.0.0:53`, TTL 2 s, lease 6 s, no upstream, TSIG window 300 s.
    pub fn new(zone: &str, key: TsigKey) -> DnsConfig {
        DnsConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 53)),
            zone: zone.to_string(),
            key,
            ttl: 2,
            lease: Duration::from_secs(6),
            upstreams: Vec::new(),
            upstream_timeout: Duration::from_secs(2),
            records_file: None,
            self_ip: None,
            tsig_window: 300,
            threads: 2,
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

/// A server running on its own thread; stops when dropped.
pub struct DnsServer {
    addr: SocketAddr,
    registry: Arc<RwLock<Registry>>,
    log: DnsLog,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), DnsError>>>,
}

impl DnsServer {
    /// The UDP and TCP address (same port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
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
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| DnsError::Runtime("server thread panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

struct Sockets {
    udp: std::net::UdpSocket,
    tcp: std::net::TcpListener,
}

/// Bind UDP and TCP on the same port (port 0: pick one free for both).
fn bind(addr: SocketAddr) -> Result<Sockets, DnsError> {
    let err = |addr, source| DnsError::Bind { addr, source };
    let mut last = None;
    for _ in 0..20 {
        let udp = std::net::UdpSocket::bind(addr).map_err(|e| err(addr, e))?;
        let bound = udp.local_addr().map_err(|e| err(addr, e))?;
        match std::net::TcpListener::bind(bound) {
            Ok(tcp) => {
                udp.set_nonblocking(true).map_err(|e| err(bound, e))?;
                tcp.set_nonblocking(true).map_err(|e| err(bound, e))?;
                return Ok(Sockets { udp, tcp });
            }
            Err(e) if addr.port() == 0 => last = Some(e),
            Err(e) => return Err(err(bound, e)),
        }
    }
    Err(err(
        addr,
        last.unwrap_or_else(|| std::io::Error::other("no free port")),
    ))
}

struct Parts {
    zone: Name,
    handler: DnsHandler,
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
        TsigGuard::new(&config.key, config.tsig_window)?,
        Forwarder::new(config.upstreams.clone(), config.upstream_timeout),
        config.self_ip,
        log.clone(),
    )?;
    Ok(Parts {
        zone,
        handler,
        registry,
        log,
    })
}

async fn run(
    config: DnsConfig,
    sockets: Sockets,
    parts: Parts,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), DnsError> {
    let Parts {
        zone,
        handler,
        registry,
        log,
    } = parts;
    let udp = tokio::net::UdpSocket::from_std(sockets.udp)
        .map_err(|e| DnsError::Runtime(e.to_string()))?;
    let tcp = tokio::net::TcpListener::from_std(sockets.tcp)
        .map_err(|e| DnsError::Runtime(e.to_string()))?;
    let mut server = Server::new(handler);
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(10), 64);
    let token = server.shutdown_token().clone();

    // Lease expiry: every 100 ms.
    let (reg, lg) = (registry.clone(), log.clone());
    let expiry = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            let gone = match reg.write() {
                Ok(mut r) => r.expire(Instant::now()),
                Err(_) => Vec::new(),
            };
            lg.expired(&gone);
        }
    });
    // Records file: every second.
    let writer = config.records_file.clone().map(|path| {
        let reg = registry.clone();
        let (zone, ttl, lease) = (zone.to_ascii(), config.ttl, config.lease);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let records = match reg.read() {
                    Ok(r) => r.snapshot(Instant::now()),
                    Err(_) => continue,
                };
                let file = RecordsFile {
                    zone: zone.clone(),
                    written_at_ms: records::now_ms(),
                    ttl,
                    lease_ms: lease.as_millis() as u64,
                    records,
                };
                let p = path.clone();
                let res = tokio::task::spawn_blocking(move || records::write(&p, &file)).await;
                if let Ok(Err(e)) = res {
                    tracing::warn!(path = %path.display(), error = %e, "cannot write the records file");
                }
            }
        })
    });
    tokio::spawn(async move {
        stop.await;
        token.cancel();
    });
    tracing::info!(zone = %zone, "dops dns serving");
    let result = server
        .block_until_done()
        .await
        .map_err(|e| DnsError::Runtime(e.to_string()));
    expiry.abort();
    if let Some(w) = writer {
        w.abort();
    }
    result
}

fn runtime(threads: usize) -> Result<tokio::runtime::Runtime, DnsError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name("dops-dns")
        .enable_all()
        .build()
        .map_err(|e| DnsError::Runtime(e.to_string()))
}

/// Start the server on its own thread; returns once it is listening.
pub fn start(config: DnsConfig) -> Result<DnsServer, DnsError> {
    let parts = parts(&config)?;
    let sockets = bind(config.listen)?;
    let addr = sockets
        .udp
        .local_addr()
        .map_err(|e| DnsError::Runtime(e.to_string()))?;
    let (registry, log) = (parts.registry.clone(), parts.log.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let rt = runtime(config.threads)?;
    let thread = std::thread::Builder::new()
        .name("dops-dns".into())
        .spawn(move || {
            rt.block_on(run(config, sockets, parts, async move {
                let _ = stop_rx.await;
            }))
        })
        .map_err(|e| DnsError::Runtime(e.to_string()))?;
    Ok(DnsServer {
        addr,
        registry,
        log,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

/// Run the server in the foreground until SIGTERM or SIGINT.
pub fn serve(config: DnsConfig) -> Result<(), DnsError> {
    let parts = parts(&config)?;
    let sockets = bind(config.listen)?;
    if let Ok(a) = sockets.udp.local_addr() {
        tracing::info!(addr = %a, "listening on udp and tcp");
    }
    let rt = runtime(config.threads)?;
    rt.block_on(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| DnsError::Runtime(e.to_string()))?;
        let stop = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            tracing::info!("stopping");
        };
        run(config, sockets, parts, stop).await
    })
}
