//! The connection to the Docker engine, found as the docker CLI finds it:
//!
//! 1. `DOCKER_HOST`: `unix:///path/to/docker.sock`, or `tcp://host[:port]` (port 2375, 2376 with
//!    TLS); with `DOCKER_TLS_VERIFY` set (to anything but empty) the TCP connection is TLS,
//!    verifying the engine against `ca.pem` and presenting `cert.pem`/`key.pem` (when both are
//!    there) from `DOCKER_CERT_PATH`, else `$DOCKER_CONFIG`, else `~/.docker`;
//! 2. else the docker context `DOCKER_CONTEXT` names, else `currentContext` of the CLI's
//!    `config.json`: its endpoint (`contexts/meta/<sha256 of the name>/meta.json`) and its TLS
//!    files (`contexts/tls/<same>/docker/`);
//! 3. else the local socket `/var/run/docker.sock`.
//!
//! What dops cannot do is refused with an error saying what to do instead (exit code 2), never
//! replaced by the local socket: `ssh://` and other schemes, TLS without verification
//! (`DOCKER_TLS` alone, a context with `SkipTLSVerify`), a missing `ca.pem`, a half client key
//! pair. TLS trusts only that `ca.pem`, as the docker CLI does (bollard's own `ssl` feature would
//! add the system's roots), through bollard's transport hook with rustls.
//!
//! Then the API version is negotiated (bollard's default is newer than Docker 20.10's 1.41); an
//! engine that does not answer becomes `EngineError::Unreachable` (exit code 3), naming the
//! engine. With `-v`, the engine used is logged: where it is, how it was chosen, its version.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::error::EngineError;

/// The local socket, when nothing names another engine.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";
/// A request's limit (bollard's default).
const REQUEST_TIMEOUT_S: u64 = 120;

/// Where the engine is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp {
        /// A name or an address (IPv6 without brackets).
        host: String,
        port: u16,
        tls: Option<TlsFiles>,
    },
}

/// The files of a verified TLS connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The only authority the engine's certificate may chain to.
    pub ca: PathBuf,
    /// The client certificate and key, when both exist.
    pub client: Option<(PathBuf, PathBuf)>,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
            Endpoint::Tcp { host, port, .. } if host.contains(':') => {
                write!(f, "tcp://[{host}]:{port}")
            }
            Endpoint::Tcp { host, port, .. } => write!(f, "tcp://{host}:{port}"),
        }
    }
}

/// The engine to use and how it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineTarget {
    pub endpoint: Endpoint,
    /// `DOCKER_HOST`, `docker context NAME (DOCKER_CONTEXT)`, `the default`…
    pub chosen_by: String,
}

impl EngineTarget {
    /// One line for `-v`: the address, how it was chosen, TLS.
    pub fn describe(&self) -> String {
        let tls = match &self.endpoint {
            Endpoint::Tcp { tls: Some(t), .. } => format!(
                ", TLS verified against {}{}",
                t.ca.display(),
                if t.client.is_some() {
                    " with a client certificate"
                } else {
                    ""
                }
            ),
            Endpoint::Tcp { tls: None, .. } => ", plain TCP".to_string(),
            Endpoint::Unix(_) => String::new(),
        };
        format!("{} ({}{tls})", self.endpoint, self.chosen_by)
    }
}

/// What the choice reads from the environment (the command edge's process environment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostEnv {
    pub docker_host: Option<String>,
    pub tls_verify: Option<String>,
    pub tls: Option<String>,
    pub cert_path: Option<String>,
    pub docker_config: Option<String>,
    pub docker_context: Option<String>,
    pub home: Option<String>,
}

impl HostEnv {
    /// The variables of this process (refused when one is not UTF-8).
    pub fn from_process() -> Result<HostEnv, EngineError> {
        let var = |name: &str| {
            crate::host_env::var(name)
                .map(|v| v.filter(|v| !v.is_empty()))
                .map_err(|e| EngineError::BadHost {
                    what: name.to_string(),
                    why: e.to_string(),
                })
        };
        Ok(HostEnv {
            docker_host: var("DOCKER_HOST")?,
            tls_verify: var("DOCKER_TLS_VERIFY")?,
            tls: var("DOCKER_TLS")?,
            cert_path: var("DOCKER_CERT_PATH")?,
            docker_config: var("DOCKER_CONFIG")?,
            docker_context: var("DOCKER_CONTEXT")?,
            home: var("HOME")?,
        })
    }

    /// The docker CLI's configuration folder: `$DOCKER_CONFIG`, else `~/.docker`.
    fn config_dir(&self) -> Option<PathBuf> {
        match (&self.docker_config, &self.home) {
            (Some(c), _) => Some(PathBuf::from(c)),
            (None, Some(h)) => Some(Path::new(h).join(".docker")),
            (None, None) => None,
        }
    }
}

fn bad(what: &str, why: impl Into<String>) -> EngineError {
    EngineError::BadHost {
        what: what.to_string(),
        why: why.into(),
    }
}

/// `unix://…` or `tcp://…` (a DOCKER_HOST or a context's endpoint), `tls` for a TCP one.
pub fn parse_host(what: &str, value: &str, tls: Option<TlsFiles>) -> Result<Endpoint, EngineError> {
    let (scheme, rest) = value.split_once("://").ok_or_else(|| {
        bad(
            what,
            format!(
                "{value:?} has no scheme (expected unix:///path/to/docker.sock or tcp://host:port)"
            ),
        )
    })?;
    match scheme {
        "unix" => {
            if rest.is_empty() || !rest.starts_with('/') {
                return Err(bad(
                    what,
                    format!("{value:?}: expected an absolute socket path, unix:///path/to/docker.sock"),
                ));
            }
            Ok(Endpoint::Unix(PathBuf::from(rest)))
        }
        "tcp" => {
            let addr = rest.strip_suffix('/').unwrap_or(rest);
            if addr.contains('/') || addr.contains('?') || addr.contains('@') {
                return Err(bad(
                    what,
                    format!("{value:?}: only tcp://host[:port] is supported (no user, path or query)"),
                ));
            }
            let (host, port) = split_host_port(addr)
                .ok_or_else(|| bad(what, format!("{value:?}: expected tcp://host[:port]")))?;
            let port = match port {
                Some(p) => p
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| bad(what, format!("{value:?}: {p:?} is not a port")))?,
                None if tls.is_some() => 2376,
                None => 2375,
            };
            Ok(Endpoint::Tcp {
                host: host.to_string(),
                port,
                tls,
            })
        }
        "ssh" => Err(bad(
            what,
            format!("{value:?}: ssh:// engines are not supported by dops\nhint: forward the engine's socket over ssh (ssh -nNT -L /tmp/docker.sock:/var/run/docker.sock USER@HOST) and set DOCKER_HOST=unix:///tmp/docker.sock"),
        )),
        other => Err(bad(
            what,
            format!("{value:?}: the scheme {other}:// is not supported (expected unix:// or tcp://)"),
        )),
    }
}

/// `host:port`, `host`, `[v6]:port`, `[v6]` → (host, port); None for an empty host.
fn split_host_port(addr: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = addr.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        return (!host.is_empty()).then_some((host, port));
    }
    let (host, port) = match addr.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(p)),
        Some(_) => return None, // an IPv6 address needs brackets
        None => (addr, None),
    };
    (!host.is_empty()).then_some((host, port))
}

/// The TLS files of a folder: `ca.pem` required, `cert.pem` and `key.pem` both or neither.
pub fn tls_files(what: &str, dir: &Path) -> Result<TlsFiles, EngineError> {
    let ca = dir.join("ca.pem");
    if !ca.is_file() {
        return Err(bad(
            what,
            format!("{} is missing: a verified TLS connection needs the engine's CA certificate\nhint: DOCKER_CERT_PATH names the folder of ca.pem, cert.pem and key.pem", ca.display()),
        ));
    }
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let client = match (cert.is_file(), key.is_file()) {
        (true, true) => Some((cert, key)),
        (false, false) => None,
        (true, false) => {
            return Err(bad(
                what,
                format!("{} has cert.pem but no key.pem", dir.display()),
            ))
        }
        (false, true) => {
            return Err(bad(
                what,
                format!("{} has key.pem but no cert.pem", dir.display()),
            ))
        }
    };
    Ok(TlsFiles { ca, client })
}

/// The engine the docker CLI would use with this environment (reads the CLI's files for a
/// context).
pub fn choose(env: &HostEnv) -> Result<EngineTarget, EngineError> {
    if let Some(host) = &env.docker_host {
        // As the docker CLI: TLS is about TCP; a socket ignores it.
        let tls = if host.starts_with("tcp://") {
            tls_of_env(env)?
        } else {
            None
        };
        return Ok(EngineTarget {
            endpoint: parse_host("DOCKER_HOST", host, tls)?,
            chosen_by: "DOCKER_HOST".into(),
        });
    }
    let config = env.config_dir();
    let (context, how) = match (&env.docker_context, &config) {
        (Some(c), _) => (Some(c.clone()), "DOCKER_CONTEXT"),
        (None, Some(dir)) => (current_context(&dir.join("config.json"))?, "config.json"),
        (None, None) => (None, ""),
    };
    match context {
        Some(name) if name != "default" => {
            let dir = config.ok_or_else(|| {
                bad(
                    "DOCKER_CONTEXT",
                    format!("context {name:?}: no DOCKER_CONFIG or HOME to find it in"),
                )
            })?;
            Ok(EngineTarget {
                endpoint: context_endpoint(&dir, &name)?,
                chosen_by: format!("docker context {name} ({how})"),
            })
        }
        _ => Ok(EngineTarget {
            endpoint: Endpoint::Unix(PathBuf::from(DEFAULT_SOCKET)),
            chosen_by: "the default".into(),
        }),
    }
}

/// `DOCKER_TLS_VERIFY` (with `DOCKER_CERT_PATH`), or nothing; `DOCKER_TLS` alone is refused.
fn tls_of_env(env: &HostEnv) -> Result<Option<TlsFiles>, EngineError> {
    match (&env.tls_verify, &env.tls) {
        (Some(_), _) => {
            let dir = match (&env.cert_path, env.config_dir()) {
                (Some(p), _) => PathBuf::from(p),
                (None, Some(d)) => d,
                (None, None) => {
                    return Err(bad(
                        "DOCKER_TLS_VERIFY",
                        "no DOCKER_CERT_PATH, DOCKER_CONFIG or HOME to find ca.pem in",
                    ))
                }
            };
            Ok(Some(tls_files("DOCKER_TLS_VERIFY", &dir)?))
        }
        (None, Some(_)) => Err(bad(
            "DOCKER_TLS",
            "TLS without verifying the engine is not supported by dops\nhint: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to the folder of ca.pem (cert.pem, key.pem)",
        )),
        (None, None) => Ok(None),
    }
}

/// `currentContext` of the CLI's config.json (None: no file, or no context set).
fn current_context(path: &Path) -> Result<Option<String>, EngineError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(&path.display().to_string(), e.to_string())),
    };
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| bad(&path.display().to_string(), format!("not JSON: {e}")))?;
    Ok(v.get("currentContext")
        .and_then(|c| c.as_str())
        .filter(|c| !c.is_empty())
        .map(str::to_string))
}

/// The docker endpoint of a context, as `docker context create` stored it.
fn context_endpoint(config: &Path, name: &str) -> Result<Endpoint, EngineError> {
    let id: String = ring::digest::digest(&ring::digest::SHA256, name.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let meta = config.join("contexts/meta").join(&id).join("meta.json");
    let what = format!("docker context {name}");
    let text = std::fs::read_to_string(&meta).map_err(|e| {
        bad(
            &what,
            format!(
                "{}: {e}\nhint: `docker context ls` lists the contexts",
                meta.display()
            ),
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| bad(&what, format!("{}: not JSON: {e}", meta.display())))?;
    let docker = &v["Endpoints"]["docker"];
    let host = docker["Host"]
        .as_str()
        .ok_or_else(|| bad(&what, format!("{}: no docker endpoint", meta.display())))?;
    let tls_dir = config.join("contexts/tls").join(&id).join("docker");
    let tls = if tls_dir.join("ca.pem").is_file() {
        if docker["SkipTLSVerify"].as_bool() == Some(true) {
            return Err(bad(
                &what,
                "TLS without verifying the engine (SkipTLSVerify) is not supported by dops",
            ));
        }
        Some(tls_files(&what, &tls_dir)?)
    } else {
        None
    };
    parse_host(&what, host, tls)
}

/// Connect to the engine the environment names and negotiate the API version.
pub async fn connect() -> Result<Engine, EngineError> {
    open(choose(&HostEnv::from_process()?)?).await
}

/// Connect to the engine at `url` (`unix://…`, `tcp://…`, TLS as `DOCKER_TLS_VERIFY` says, as
/// for DOCKER_HOST): a swarm's build engine or one node (host.conf `BUILD_ENGINE`,
/// `NODE_ENGINE`).
pub async fn connect_to(url: &str) -> Result<Engine, EngineError> {
    let env = HostEnv::from_process()?;
    let tls = if url.starts_with("tcp://") {
        tls_of_env(&env)?
    } else {
        None
    };
    open(EngineTarget {
        endpoint: parse_host("host.conf", url, tls)?,
        chosen_by: "host.conf".into(),
    })
    .await
}

/// Connect to `target` and negotiate the API version.
async fn open(target: EngineTarget) -> Result<Engine, EngineError> {
    let unreachable = |e: &dyn std::error::Error| EngineError::Unreachable {
        detail: format!("{}: {}", target.endpoint, error_chain(e)),
    };
    let docker =
        client(&target.endpoint, bollard::API_DEFAULT_VERSION).map_err(|e| unreachable(&e))?;
    // A dead socket must not hang the command: the version negotiation is bounded.
    let docker =
        match tokio::time::timeout(Duration::from_secs(10), docker.negotiate_version()).await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => return Err(unreachable(&e)),
            Err(_) => {
                return Err(EngineError::Unreachable {
                    detail: format!("{}: no answer within 10s", target.endpoint),
                })
            }
        };
    if tracing::enabled!(tracing::Level::INFO) {
        let version = match docker.version().await {
            Ok(v) => format!(
                "Docker {}, API {}",
                v.version.unwrap_or_default(),
                v.api_version.unwrap_or_default()
            ),
            Err(e) => format!("version unknown: {e}"),
        };
        tracing::info!("engine {}: {version}", target.describe());
    }
    Ok(Engine {
        docker,
        listing: None,
    })
}

/// The API version a listing verb (`ps`, `status`) asks at first, without asking the engine
/// which it speaks: the `/version` round trip costs a Docker 20.10 engine 15 to 150 ms under
/// load, more than the listing itself. 1.41 is the oldest engine dops supports (Docker 20.10);
/// every engine up to Docker 28 still serves it, and its container list has every field dops
/// reads. An engine that refuses it (Docker 29 accepts 1.44 and up) answers 400 saying so: the
/// listing negotiates then and asks again (see `Engine::list_containers`).
const LISTING_VERSION: bollard::ClientVersion = bollard::ClientVersion {
    major_version: 1,
    minor_version: 41,
};

/// How long the first request of a listing engine may take: it is also the proof that the engine
/// answers (as the bounded negotiation of `connect`).
const FIRST_ANSWER: Duration = Duration::from_secs(10);

/// The engine for the listing verbs (`ps`, `status`): chosen as `connect` chooses it, but
/// without a round trip: it is first reached by the listing itself, at `LISTING_VERSION`.
/// `Engine::list_containers` must be its first request; other reads may follow (`api`). With
/// `-v` the engine and its version are logged, which asks the engine anyway: then this is
/// `connect`.
pub async fn connect_for_listing() -> Result<Engine, EngineError> {
    if tracing::enabled!(tracing::Level::INFO) {
        return connect().await;
    }
    let target = choose(&HostEnv::from_process()?)?;
    let docker =
        client(&target.endpoint, &LISTING_VERSION).map_err(|e| EngineError::Unreachable {
            detail: format!("{}: {}", target.endpoint, error_chain(&e)),
        })?;
    Ok(Engine {
        docker,
        listing: Some(Listing {
            target,
            negotiated: tokio::sync::OnceCell::new(),
        }),
    })
}

/// Whether the engine refused the API version asked for (too old or too new for it).
fn version_refused(e: &bollard::errors::Error) -> bool {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 400,
            message,
        } => {
            let m = message.to_lowercase();
            m.contains("client version") || m.contains("api version")
        }
        _ => false,
    }
}

/// An error and its causes, in one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}

/// The bollard client of an endpoint.
fn client(
    endpoint: &Endpoint,
    version: &bollard::ClientVersion,
) -> Result<bollard::Docker, bollard::errors::Error> {
    match endpoint {
        Endpoint::Unix(path) => bollard::Docker::connect_with_unix(
            &format!("unix://{}", path.display()),
            REQUEST_TIMEOUT_S,
            version,
        ),
        Endpoint::Tcp {
            host,
            port,
            tls: None,
        } => bollard::Docker::connect_with_http(
            &format!("tcp://{}", authority(host, *port)),
            REQUEST_TIMEOUT_S,
            version,
        ),
        Endpoint::Tcp {
            host,
            port,
            tls: Some(tls),
        } => tls_client(host, *port, tls, version),
    }
}

fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// HTTPS to the engine, trusting only `tls.ca`, with the client certificate when there is one.
fn tls_client(
    host: &str,
    port: u16,
    tls: &TlsFiles,
    version: &bollard::ClientVersion,
) -> Result<bollard::Docker, bollard::errors::Error> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let fail = |path: &Path, why: String| bollard::errors::Error::IOError {
        err: std::io::Error::other(format!("{}: {why}", path.display())),
    };
    let certs = |path: &Path| -> Result<Vec<CertificateDer<'static>>, bollard::errors::Error> {
        let certs: Vec<_> = CertificateDer::pem_file_iter(path)
            .map_err(|e| fail(path, e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| fail(path, e.to_string()))?;
        if certs.is_empty() {
            return Err(fail(path, "no certificate in it".into()));
        }
        Ok(certs)
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs(&tls.ca)? {
        roots.add(cert).map_err(|e| fail(&tls.ca, e.to_string()))?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| fail(&tls.ca, e.to_string()))?
    .with_root_certificates(roots);
    let config = match &tls.client {
        Some((cert, key)) => {
            let key_der =
                PrivateKeyDer::from_pem_file(key).map_err(|e| fail(key, e.to_string()))?;
            builder
                .with_client_auth_cert(certs(cert)?, key_der)
                .map_err(|e| fail(cert, e.to_string()))?
        }
        None => builder.with_no_client_auth(),
    };
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(https);
    let transport = move |req: bollard::BollardRequest| {
        let client = client.clone();
        async move { Ok(client.request(req).await?) }
    };
    bollard::Docker::connect_with_custom_transport(
        transport,
        Some(format!("https://{}", authority(host, port))),
        REQUEST_TIMEOUT_S,
        version,
    )
}

/// A connected Docker engine.
#[derive(Clone)]
pub struct Engine {
    pub(crate) docker: bollard::Docker,
    /// Some for an engine of `connect_for_listing`: not negotiated yet.
    listing: Option<Listing>,
}

/// What a listing engine needs to negotiate late.
#[derive(Clone)]
struct Listing {
    target: EngineTarget,
    /// The client at the version the engine speaks, once it refused `LISTING_VERSION`.
    negotiated: tokio::sync::OnceCell<bollard::Docker>,
}

impl Engine {
    /// The raw bollard client, for the engine's own files. On a listing engine, once its first
    /// contact negotiated the API version (`list_containers`), the client at that version.
    pub(crate) fn api(&self) -> &bollard::Docker {
        match &self.listing {
            Some(l) => l.negotiated.get().unwrap_or(&self.docker),
            None => &self.docker,
        }
    }

    /// List containers. On a listing engine (`connect_for_listing`) this is the first contact:
    /// bounded like the negotiation of `connect` (an engine that does not answer is
    /// `Unreachable`), and when the engine refuses `LISTING_VERSION` the version is negotiated
    /// and the list asked again.
    pub(crate) async fn list_containers(
        &self,
        options: bollard::query_parameters::ListContainersOptions,
    ) -> Result<Vec<bollard::models::ContainerSummary>, EngineError> {
        let what = "list containers";
        let Some(listing) = &self.listing else {
            return self
                .docker
                .list_containers(Some(options))
                .await
                .map_err(|e| EngineError::docker(what, e));
        };
        if let Some(docker) = listing.negotiated.get() {
            return docker
                .list_containers(Some(options))
                .await
                .map_err(|e| EngineError::docker(what, e));
        }
        let endpoint = &listing.target.endpoint;
        let unreachable = |e: &dyn std::error::Error| EngineError::Unreachable {
            detail: format!("{endpoint}: {}", error_chain(e)),
        };
        let first = tokio::time::timeout(
            FIRST_ANSWER,
            self.docker.list_containers(Some(options.clone())),
        )
        .await
        .map_err(|_| EngineError::Unreachable {
            detail: format!("{endpoint}: no answer within {}s", FIRST_ANSWER.as_secs()),
        })?;
        match first {
            Ok(list) => Ok(list),
            Err(e) if version_refused(&e) => {
                tracing::debug!("the engine refused API {LISTING_VERSION}: negotiating ({e})");
                let docker = listing
                    .negotiated
                    .get_or_try_init(|| async {
                        Ok::<_, EngineError>(open(listing.target.clone()).await?.docker)
                    })
                    .await?;
                docker
                    .list_containers(Some(options))
                    .await
                    .map_err(|e| EngineError::docker(what, e))
            }
            // The first answer stands for the negotiation of `connect`: whatever else goes
            // wrong there (no engine, a TLS port spoken to in plain HTTP…) is Unreachable.
            Err(e) => Err(unreachable(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(host: Option<&str>) -> HostEnv {
        HostEnv {
            docker_host: host.map(str::to_string),
            home: Some("/nonexistent-home".into()),
            ..HostEnv::default()
        }
    }

    fn tcp(host: &str, port: u16) -> Endpoint {
        Endpoint::Tcp {
            host: host.into(),
            port,
            tls: None,
        }
    }

    #[test]
    fn docker_host_as_the_docker_cli_reads_it() {
        let ok = |v: &str| parse_host("DOCKER_HOST", v, None).unwrap();
        assert_eq!(
            ok("unix:///var/run/docker.sock"),
            Endpoint::Unix("/var/run/docker.sock".into())
        );
        assert_eq!(ok("tcp://10.0.0.5:2375"), tcp("10.0.0.5", 2375));
        assert_eq!(ok("tcp://engine.example"), tcp("engine.example", 2375));
        assert_eq!(
            ok("tcp://engine.example:4243/"),
            tcp("engine.example", 4243)
        );
        assert_eq!(ok("tcp://[::1]:2375"), tcp("::1", 2375));
        assert_eq!(ok("tcp://[fe80::1]"), tcp("fe80::1", 2375));
        assert_eq!(ok("tcp://[::1]:2375").to_string(), "tcp://[::1]:2375");
        let tls = TlsFiles {
            ca: "/c/ca.pem".into(),
            client: None,
        };
        assert_eq!(
            parse_host("DOCKER_HOST", "tcp://h", Some(tls.clone())).unwrap(),
            Endpoint::Tcp {
                host: "h".into(),
                port: 2376,
                tls: Some(tls)
            }
        );
    }

    #[test]
    fn what_dops_cannot_use_is_refused_with_what_to_do() {
        let err = |v: &str| parse_host("DOCKER_HOST", v, None).unwrap_err().to_string();
        assert_eq!(
            err("ssh://me@remote"),
            "DOCKER_HOST: \"ssh://me@remote\": ssh:// engines are not supported by dops\nhint: forward the engine's socket over ssh (ssh -nNT -L /tmp/docker.sock:/var/run/docker.sock USER@HOST) and set DOCKER_HOST=unix:///tmp/docker.sock"
        );
        assert_eq!(
            err("npipe:////./pipe/docker_engine"),
            "DOCKER_HOST: \"npipe:////./pipe/docker_engine\": the scheme npipe:// is not supported (expected unix:// or tcp://)"
        );
        assert_eq!(
            err("localhost:2375"),
            "DOCKER_HOST: \"localhost:2375\" has no scheme (expected unix:///path/to/docker.sock or tcp://host:port)"
        );
        assert!(err("https://h:2376").contains("the scheme https:// is not supported"));
        assert!(err("unix://").contains("expected an absolute socket path"));
        assert!(err("unix://relative.sock").contains("expected an absolute socket path"));
        assert!(err("tcp://h:0").contains("\"0\" is not a port"));
        assert!(err("tcp://h:http").contains("is not a port"));
        assert!(err("tcp://h:70000").contains("is not a port"));
        assert!(err("tcp://:2375").contains("expected tcp://host[:port]"));
        assert!(err("tcp://::1:2375").contains("expected tcp://host[:port]"));
        assert!(err("tcp://h:2375/v1.41").contains("no user, path or query"));
        assert!(err("tcp://u@h:2375").contains("no user, path or query"));
        let e = parse_host("DOCKER_HOST", "ssh://x", None).unwrap_err();
        assert_eq!(e.exit_code(), 2, "bad configuration");
    }

    #[test]
    fn the_default_and_docker_host() {
        assert_eq!(
            choose(&env(None)).unwrap(),
            EngineTarget {
                endpoint: Endpoint::Unix(DEFAULT_SOCKET.into()),
                chosen_by: "the default".into()
            }
        );
        let t = choose(&env(Some("tcp://127.0.0.1:2375"))).unwrap();
        assert_eq!(t.endpoint, tcp("127.0.0.1", 2375));
        assert_eq!(
            t.describe(),
            "tcp://127.0.0.1:2375 (DOCKER_HOST, plain TCP)"
        );
    }

    #[test]
    fn tls_needs_the_ca_and_both_or_neither_client_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let mut e = env(Some("tcp://engine:2376"));
        e.tls_verify = Some("1".into());
        e.cert_path = Some(dir.display().to_string());
        let msg = choose(&e).unwrap_err().to_string();
        assert!(
            msg.starts_with(&format!(
                "DOCKER_TLS_VERIFY: {}/ca.pem is missing",
                dir.display()
            )),
            "{msg}"
        );
        std::fs::write(dir.join("ca.pem"), "x").unwrap();
        let t = choose(&e).unwrap();
        assert_eq!(
            t.describe(),
            format!(
                "tcp://engine:2376 (DOCKER_HOST, TLS verified against {}/ca.pem)",
                dir.display()
            )
        );
        std::fs::write(dir.join("cert.pem"), "x").unwrap();
        assert!(choose(&e)
            .unwrap_err()
            .to_string()
            .ends_with("has cert.pem but no key.pem"));
        std::fs::write(dir.join("key.pem"), "x").unwrap();
        assert!(choose(&e)
            .unwrap()
            .describe()
            .ends_with("ca.pem with a client certificate)"));
        // a socket ignores TLS, as with the docker CLI
        e.docker_host = Some("unix:///run/d.sock".into());
        e.cert_path = Some("/nonexistent".into());
        assert_eq!(
            choose(&e).unwrap().endpoint,
            Endpoint::Unix("/run/d.sock".into())
        );
        // TLS without verification: refused
        let mut e = env(Some("tcp://engine:2376"));
        e.tls = Some("1".into());
        assert!(choose(&e)
            .unwrap_err()
            .to_string()
            .starts_with("DOCKER_TLS: TLS without verifying the engine is not supported by dops"));
    }

    #[test]
    fn a_docker_context_as_the_cli_stored_it() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path();
        // The folder is the SHA-256 of the name (tests/remote_engine.rs checks it against a
        // context the docker CLI itself creates).
        let d = ring::digest::digest(&ring::digest::SHA256, b"remote");
        let id: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        let meta = cfg.join("contexts/meta").join(&id);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"remote","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.1.2.3:2375","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        let mut e = env(None);
        e.docker_config = Some(cfg.display().to_string());
        // Nothing chosen: the default.
        assert_eq!(choose(&e).unwrap().chosen_by, "the default");
        // config.json's currentContext
        std::fs::write(cfg.join("config.json"), r#"{"currentContext": "remote"}"#).unwrap();
        let t = choose(&e).unwrap();
        assert_eq!(t.endpoint, tcp("10.1.2.3", 2375));
        assert_eq!(
            t.describe(),
            "tcp://10.1.2.3:2375 (docker context remote (config.json), plain TCP)"
        );
        // DOCKER_CONTEXT wins over config.json; "default" is the local socket
        e.docker_context = Some("default".into());
        assert_eq!(
            choose(&e).unwrap().endpoint,
            Endpoint::Unix(DEFAULT_SOCKET.into())
        );
        e.docker_context = Some("nosuch".into());
        assert!(choose(&e)
            .unwrap_err()
            .to_string()
            .starts_with("docker context nosuch: "));
        // DOCKER_HOST wins over every context
        e.docker_host = Some("unix:///x.sock".into());
        assert_eq!(choose(&e).unwrap().chosen_by, "DOCKER_HOST");
        // a context with TLS files: verified TLS
        let tls = cfg.join("contexts/tls").join(&id).join("docker");
        std::fs::create_dir_all(&tls).unwrap();
        std::fs::write(tls.join("ca.pem"), "x").unwrap();
        e.docker_host = None;
        e.docker_context = Some("remote".into());
        assert!(matches!(
            choose(&e).unwrap().endpoint,
            Endpoint::Tcp { tls: Some(_), .. }
        ));
    }
}
