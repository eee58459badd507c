//! `dops dns serve` (the server, as run in the `dops-dns-master` instance) and `dops dns:records`.
//!
//! The CLI layer fills the plain argument structs; anything left `None` comes from the
//! environment the engine gives the DNS instance (`DNS_ZONE`, `DNS_KEY_FILE` or `DNS_KEY`,
//! `DNS_TTL`, `DNS_LEASE`, `DNS_UPSTREAM`, `DNS_LISTEN`, `DNS_RECORDS_FILE`, `DNS_THREADS`,
//! `SERVICE_IP`), then from defaults.
//!
//! This is the edge that gives the server its keys ([`credentials`]): the project key with the
//! whole zone, and every instance key derived from it (`tsig_key`) with that instance's names.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::session::Session;
use crate::dns::forward::{is_self, parse_upstreams, upstreams_from_resolv_conf};
use crate::dns::records;
use crate::dns::{Credential, Credentials, DnsConfig, DnsError, Scope, ServicePolicy, SharedKey};
use crate::output;
use crate::tsig_key::{self, Holder, TsigKey, UpdatePolicy};

/// Arguments of `dops dns serve`.
#[derive(Debug, Clone, Default)]
pub struct ServeArgs {
    /// UDP+TCP listen addresses (`DNS_LISTEN`, comma separated; default `0.0.0.0:53`).
    pub listen: Vec<SocketAddr>,
    /// Zone (`DNS_ZONE`; default `local.zone`).
    pub zone: Option<String>,
    /// The project key in the `hmac-sha256:name:base64` form (else `DNS_KEY_FILE`, a file
    /// holding it, or `DNS_KEY`).
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
    /// Worker threads (`DNS_THREADS`; default half the CPUs, at least 1, at most 4).
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

/// The project key as the server sees it: a name and a secret.
impl From<TsigKey> for SharedKey {
    fn from(k: TsigKey) -> SharedKey {
        SharedKey {
            name: k.name,
            secret: k.secret,
        }
    }
}

/// The keys the server accepts: the project key (the whole zone) and every instance key derived
/// from it (that instance's names, as its policy allows). Nothing is listed: a key name is
/// parsed and its secret derived when a request names it.
pub fn credentials(project: TsigKey) -> Credentials {
    Credentials::new(move |name| {
        let (secret, holder) = tsig_key::credential(&project, name)?;
        let scope = match holder {
            Holder::Project => Scope::Zone,
            Holder::Instance(id) => Scope::Instance {
                service: id.service,
                instance: id.instance,
                policy: match id.policy {
                    UpdatePolicy::Append => ServicePolicy::Append,
                    UpdatePolicy::Replace => ServicePolicy::Replace,
                    UpdatePolicy::Hide => ServicePolicy::Hide,
                },
            },
        };
        Some(Credential { secret, scope })
    })
}

fn parse_listen(l: &str) -> Result<SocketAddr, DnsError> {
    l.parse::<SocketAddr>()
        .or_else(|_| l.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| bad("listen address", format!("{l:?} is not ip:port")))
}

/// The variables [`serve_config`] reads.
const SERVE_ENV: &[&str] = &[
    "DNS_KEY",
    "DNS_KEY_FILE",
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
/// Also returns the project key's name (for the log).
pub fn serve_config(
    args: &ServeArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(DnsConfig, String), DnsError> {
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
        (None, None) => match (env("DNS_KEY_FILE"), env("DNS_KEY")) {
            (Some(path), _) => tsig_key::read_key_file(Path::new(&path)).map_err(bad_key)?,
            (None, Some(k)) => TsigKey::parse(&k).map_err(bad_key)?,
            (None, None) => {
                return Err(bad(
                    "key",
                    "no key: set DNS_KEY_FILE to a file holding hmac-sha256:<name>:<base64 secret>",
                ));
            }
        },
    };
    let key_name = key.name.clone();
    let mut c = DnsConfig::new(&zone, key.clone());
    c.credentials = credentials(key);
    if !args.listen.is_empty() {
        c.listen = args.listen.clone();
    } else if let Some(l) = env("DNS_LISTEN") {
        c.listen = l
            .split(|ch: char| ch == ',' || ch.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(parse_listen)
            .collect::<Result<_, _>>()?;
        if c.listen.is_empty() {
            return Err(bad("listen address", format!("{l:?} names none")));
        }
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
        .filter(|u| !c.listen.iter().any(|l| is_self(*u, *l, c.self_ip)))
        .collect();
    if let Some(t) = args.threads {
        c.threads = t.max(1);
    } else if let Some(t) = env("DNS_THREADS") {
        c.threads = t
            .parse::<usize>()
            .map_err(|_| bad("threads", format!("{t:?} is not a number")))?
            .clamp(1, 64);
    }
    Ok((c, key_name))
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
    let (config, key_name) = serve_config(&args, |k| std::env::var(k).ok())?;
    tracing::info!(
        zone = %config.zone,
        listen = ?config.listen,
        ttl = config.ttl,
        lease_s = config.lease.as_secs_f64(),
        upstreams = ?config.upstreams,
        key = %key_name,
        "starting dops dns (instance keys: <service>.<instance>.<policy>.{key_name})"
    );
    crate::dns::serve(config)?;
    Ok(())
}

/// `dops dns:records`: the records the project's DNS holds (name, address, instance, lease left),
/// from the records file the server writes; with `server`, what that server answers, by a zone
/// transfer signed with the project key. `zone`: the zone to show (default: the project's).
pub fn records(s: &Session, server: Option<SocketAddr>, zone: Option<&str>) -> anyhow::Result<i32> {
    let wanted = |z: &str| z.trim_end_matches('.').to_ascii_lowercase();
    if let Some(server) = server {
        let zone = match zone {
            Some(z) => z.to_string(),
            None => s.project()?.dns_zone(),
        };
        let key = tsig_key::load(s.dir())?.ok_or_else(|| {
            anyhow::anyhow!(
                "no dns key in {} (hint: it is made by the first 'dops run' with the dns on)",
                tsig_key::key_path(s.dir()).display()
            )
        })?;
        let got = records::transfer(server, &zone, &key.into(), Duration::from_secs(5))?;
        if s.global.json {
            output::json(&got);
        } else {
            output::out(&records::render_transferred(&got));
        }
        return Ok(0);
    }
    let path = records::host_path(s.dir());
    let file = records::read(&path)?;
    if let Some(z) = zone {
        if wanted(z) != wanted(&file.zone) {
            anyhow::bail!(
                "the project's dns serves {}, not {z} (hint: --server ADDR asks another server)",
                file.zone.trim_end_matches('.')
            );
        }
    }
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

/// `--server ADDR` of `dns:records`: `ip` or `ip:port` (53 by default).
pub fn parse_server(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    })
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
        let (c, key_name) = serve_config(&ServeArgs::default(), env).unwrap();
        assert_eq!(key_name, "dops-key");
        assert_eq!(c.zone, "corp.zone");
        assert_eq!(c.ttl, 5);
        assert_eq!(c.lease, Duration::from_millis(1500));
        assert_eq!(c.upstreams, vec!["9.9.9.9:53".parse().unwrap()]);
        assert_eq!(c.self_ip, Some("10.1.2.3".parse().unwrap()));
        assert_eq!(c.listen, vec!["0.0.0.0:53".parse().unwrap()]);
        let args = ServeArgs {
            zone: Some("other.zone".into()),
            listen: vec![
                "127.0.0.1:5353".parse().unwrap(),
                "127.0.0.2:5354".parse().unwrap(),
            ],
            ..ServeArgs::default()
        };
        let (c, _) = serve_config(&args, env).unwrap();
        assert_eq!(c.zone, "other.zone");
        assert_eq!(c.listen.len(), 2);
        assert_eq!(c.listen[1].port(), 5354);
        let list = |k: &str| match k {
            "DNS_LISTEN" => Some("127.0.0.1:1053, 10.0.0.1".into()),
            other => env(other),
        };
        let (c, _) = serve_config(&ServeArgs::default(), list).unwrap();
        assert_eq!(
            c.listen,
            vec![
                "127.0.0.1:1053".parse().unwrap(),
                "10.0.0.1:53".parse().unwrap()
            ]
        );
        let e = serve_config(&ServeArgs::default(), |_| None).unwrap_err();
        assert!(e.to_string().contains("DNS_KEY_FILE"), "{e}");
    }

    #[test]
    fn the_key_file_and_the_instance_credentials() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("dns.key");
        let project = TsigKey::generate("dops-key");
        tsig_key::write_key_file(&path, &project).unwrap();
        let p = path.display().to_string();
        let env = |k: &str| (k == "DNS_KEY_FILE").then(|| p.clone());
        let (c, name) = serve_config(&ServeArgs::default(), env).unwrap();
        assert_eq!(name, "dops-key");
        let id = tsig_key::InstanceIdentity::new("web", "one", UpdatePolicy::Replace);
        let inst = tsig_key::instance_key(&project, &id).unwrap();
        let cred = c.credentials.lookup(&inst.name).expect("an instance key");
        assert_eq!(cred.secret, inst.secret);
        assert_eq!(
            cred.scope,
            Scope::Instance {
                service: "web".into(),
                instance: "one".into(),
                policy: ServicePolicy::Replace
            }
        );
        assert_eq!(c.credentials.lookup("dops-key").unwrap().scope, Scope::Zone);
        assert!(c.credentials.lookup("stranger").is_none());
    }
}
