//! `dops dns serve` (the server, as run in the `dops-dns-master` instance) and `dops dns:records`.
//!
//! The CLI layer fills the plain argument structs; anything left `None` comes from the
//! environment the engine gives the DNS instance (`DNS_ZONE`, `DNS_KEY`, `DNS_TTL`, `DNS_LEASE`,
//! `DNS_UPSTREAM`, `DNS_LISTEN`, `DNS_RECORDS_FILE`, `DNS_THREADS`, `SERVICE_IP`), then from
//! defaults.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::session::Session;
use crate::dns::forward::{is_self, parse_upstreams, upstreams_from_resolv_conf};
use crate::dns::records;
use crate::dns::{DnsConfig, DnsError, SharedKey};
use crate::output;
use crate::tsig_key::{self, TsigKey};

/// Arguments of `dops dns serve`.
#[derive(Debug, Clone, Default)]
pub struct ServeArgs {
    /// UDP+TCP listen address (`DNS_LISTEN`; default `0.0.0.0:53`).
    pub listen: Option<SocketAddr>,
    /// Zone (`DNS_ZONE`; default `local.zone`).
    pub zone: Option<String>,
    /// Key in the `hmac-sha256:name:base64` form (`DNS_KEY`).
    pub key: Option<String>,
    /// Or: a project folder whose `.dops/dns.key` to use (created if missing).
    pub project_dir: Option<PathBuf>,
    /// Answer TTL, seconds (`DNS_TTL`; default 2).
    pub ttl: Option<u32>,
    /// Lease, seconds (`DNS_LEASE`; default 6).
    pub lease: Option<f64>,
    /// Upstream resolvers (`DNS_UPSTREAM`, comma separated; default: resolv.conf).
    pub upstreams: Vec<String>,
    /// Records snapshot path (`DNS_RECORDS_FILE`; default `/run/dops/dns-records.json` when
    /// `/run/dops` exists).
    pub records_file: Option<PathBuf>,
    /// Own address for `ns.<zone>`/`dns.<zone>` (`SERVICE_IP`; default: first non-loopback IPv4).
    pub self_ip: Option<IpAddr>,
    /// Worker threads (default 2).
    pub threads: Option<usize>,
}

fn bad(what: &str, why: impl std::fmt::Display) -> DnsError {
    DnsError::BadConfig {
        what: what.to_string(),
        why: why.to_string(),
    }
}

fn bad_key(e: tsig_key::KeyError) -> DnsError {
    DnsError::Key(e.to_string())
}

/// The server checks updates against the project key's name and secret.
impl From<TsigKey> for SharedKey {
    fn from(k: TsigKey) -> SharedKey {
        SharedKey {
            name: k.name,
            secret: k.secret,
        }
    }
}

/// The variables [`serve_config`] reads.
const SERVE_ENV: &[&str] = &[
    "DNS_KEY",
    "DNS_LEASE",
    "DNS_LISTEN",
    "DNS_RECORDS_FILE",
    "DNS_THREADS",
    "DNS_TTL",
    "DNS_UPSTREAM",
    "DNS_ZONE",
    "SERVICE_IP",
];

/// Resolve the server configuration from the arguments, then `env`, then defaults.
pub fn serve_config(
    args: &ServeArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<DnsConfig, DnsError> {
    let env = |k: &str| {
        env(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let zone = args
        .zone
        .clone()
        .or_else(|| env("DNS_ZONE"))
        .unwrap_or_else(|| "local.zone".into());
    let key = match (&args.key, &args.project_dir) {
        (Some(k), _) => TsigKey::parse(k).map_err(bad_key)?,
        (None, Some(dir)) => tsig_key::load_or_create(dir).map_err(bad_key)?,
        (None, None) => match env("DNS_KEY") {
            Some(k) => TsigKey::parse(&k).map_err(bad_key)?,
            None => {
                return Err(bad(
                    "key",
                    "no key: set DNS_KEY=hmac-sha256:<name>:<base64 secret>",
                ));
            }
        },
    };
    let mut c = DnsConfig::new(&zone, key);
    if let Some(l) = args.listen {
        c.listen = l;
    } else if let Some(l) = env("DNS_LISTEN") {
        c.listen = l
            .parse::<SocketAddr>()
            .or_else(|_| l.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
            .map_err(|_| bad("listen address", format!("{l:?} is not ip:port")))?;
    }
    if let Some(t) = args.ttl {
        c.ttl = t;
    } else if let Some(t) = env("DNS_TTL") {
        c.ttl = t
            .parse()
            .map_err(|_| bad("ttl", format!("{t:?} is not a number of seconds")))?;
    }
    let lease = match (args.lease, env("DNS_LEASE")) {
        (Some(l), _) => Some(l),
        (None, Some(l)) => Some(
            l.parse::<f64>()
                .map_err(|_| bad("lease", format!("{l:?} is not a number of seconds")))?,
        ),
        _ => None,
    };
    if let Some(l) = lease {
        if !(l > 0.0 && l < 86_400.0) {
            return Err(bad(
                "lease",
                format!("{l} is not between 0 and 86400 seconds"),
            ));
        }
        c.lease = Duration::from_secs_f64(l);
    }
    let upstreams = if !args.upstreams.is_empty() {
        parse_upstreams(&args.upstreams.join(","))?
    } else if let Some(u) = env("DNS_UPSTREAM") {
        parse_upstreams(&u)?
    } else {
        upstreams_from_resolv_conf(Path::new("/etc/resolv.conf"))
    };
    c.records_file = args
        .records_file
        .clone()
        .or_else(|| env("DNS_RECORDS_FILE").map(PathBuf::from))
        .or_else(|| {
            Path::new("/run/dops")
                .is_dir()
                .then(|| Path::new("/run/dops").join(records::RECORDS_FILE))
        });
    c.self_ip = match args.self_ip {
        Some(ip) => Some(ip),
        None => match env("SERVICE_IP") {
            Some(ip) => Some(
                ip.parse()
                    .map_err(|_| bad("SERVICE_IP", format!("{ip:?} is not an ip address")))?,
            ),
            None => crate::local_addr::first_ipv4().map(IpAddr::V4),
        },
    };
    // Never forward to ourselves (a resolv.conf naming this server would loop).
    c.upstreams = upstreams
        .into_iter()
        .filter(|u| !is_self(*u, c.listen, c.self_ip))
        .collect();
    if let Some(t) = args.threads {
        c.threads = t.max(1);
    } else if let Some(t) = env("DNS_THREADS") {
        c.threads = t
            .parse::<usize>()
            .map_err(|_| bad("threads", format!("{t:?} is not a number")))?
            .clamp(1, 64);
    }
    Ok(c)
}

/// `dops dns serve`: run the server in the foreground until SIGTERM/SIGINT.
pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DOPS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hickory_server=warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    // What the server reads from its environment: refused when it does not decode.
    crate::host_env::check(SERVE_ENV)?;
    let config = serve_config(&args, |k| std::env::var(k).ok())?;
    tracing::info!(
        zone = %config.zone,
        listen = %config.listen,
        ttl = config.ttl,
        lease_s = config.lease.as_secs_f64(),
        upstreams = ?config.upstreams,
        key = %config.key.name,
        "starting dops dns"
    );
    crate::dns::serve(config)?;
    Ok(())
}

/// `dops dns:records`: the records the project's DNS holds (name, address, instance, lease left).
pub fn records(s: &Session) -> anyhow::Result<i32> {
    let path = records::host_path(s.dir());
    let file = records::read(&path)?;
    let now = records::now_ms();
    let current = records::current(&file, now);
    if s.global.json {
        output::json(&current);
    } else {
        if records::is_stale(&file, now) {
            output::note(&format!(
                "warning: the records file is {}s old: is dops-dns-master running?",
                now.saturating_sub(file.written_at_ms) / 1000
            ));
        }
        output::out(&records::render(&current));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_env_and_args() {
        let key = TsigKey::generate("dops-key").to_env();
        let env = |k: &str| match k {
            "DNS_KEY" => Some(key.clone()),
            "DNS_ZONE" => Some("corp.zone".into()),
            "DNS_TTL" => Some("5".into()),
            "DNS_LEASE" => Some("1.5".into()),
            "DNS_UPSTREAM" => Some("9.9.9.9".into()),
            "SERVICE_IP" => Some("10.1.2.3".into()),
            "DNS_RECORDS_FILE" => Some("/tmp/x.json".into()),
            _ => None,
        };
        let c = serve_config(&ServeArgs::default(), env).unwrap();
        assert_eq!(c.zone, "corp.zone");
        assert_eq!(c.ttl, 5);
        assert_eq!(c.lease, Duration::from_millis(1500));
        assert_eq!(c.upstreams, vec!["9.9.9.9:53".parse().unwrap()]);
        assert_eq!(c.self_ip, Some("10.1.2.3".parse().unwrap()));
        assert_eq!(c.listen, "0.0.0.0:53".parse().unwrap());
        let args = ServeArgs {
            zone: Some("other.zone".into()),
            listen: Some("127.0.0.1:5353".parse().unwrap()),
            ..ServeArgs::default()
        };
        let c = serve_config(&args, env).unwrap();
        assert_eq!(c.zone, "other.zone");
        assert_eq!(c.listen.port(), 5353);
        let e = serve_config(&ServeArgs::default(), |_| None).unwrap_err();
        assert!(e.to_string().contains("DNS_KEY"), "{e}");
    }
}
