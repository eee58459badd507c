//! Notifications: every lifecycle change and every stats blob, as one JSON object, to each
//! configured sink (`"notify"` in init.d; default `["stdout"]`):
//!
//! - `stdout`: one JSON line on the container's stdout;
//! - `file:PATH`: one JSON line appended to PATH;
//! - `http://HOST[:PORT]/PATH`: POST of the JSON (HTTP/1.1, `Connection: close`), 2 s timeout,
//!   3 attempts with backoff, from a background thread with a bounded queue: it never blocks the
//!   lifecycle. HOST is an IP address or a name from `/etc/hosts` (no DNS lookups in PID 1);
//! - `https://…`: not supported (dops-init carries no TLS stack to stay small): the sink is
//!   ignored with a warning at start; use `http://` to a local relay or `exec:curl …`;
//! - `exec:COMMAND`: `/bin/sh -c COMMAND` with the JSON on stdin and in `DOPS_EVENT`, one at a
//!   time from a background thread, 10 s limit.
use super::output;
use super::paths::{self, Paths};
use super::reaper::Exits;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

const QUEUE: usize = 128;
const HTTP_ATTEMPTS: u32 = 3;
const EXEC_LIMIT: Duration = Duration::from_secs(10);

enum Target {
    Stdout,
    File(PathBuf),
    Queue(SyncSender<String>, String),
}

pub struct Notifier {
    targets: Vec<Target>,
}

impl Notifier {
    /// Build the sinks; bad entries are reported and skipped (a notification problem must not
    /// keep a service down).
    pub fn new(list: &[String], paths: &Paths, exits: &Arc<Exits>) -> Notifier {
        let mut targets = Vec::new();
        for s in list {
            let s = s.trim();
            if s == "stdout" {
                targets.push(Target::Stdout);
            } else if let Some(p) = s.strip_prefix("file:") {
                targets.push(Target::File(PathBuf::from(p)));
            } else if s.starts_with("https://") {
                output::log(&format!(
                    "notify sink {s} ignored: https is not supported by dops-init (no TLS in PID 1); use http:// to a local relay or exec:curl"
                ));
            } else if s.starts_with("http://") {
                match HttpUrl::parse(s) {
                    Ok(url) => {
                        let hosts = paths.etc("hosts");
                        let timeout = paths::env_secs("DOPS_INIT_NOTIFY_TIMEOUT")
                            .unwrap_or(Duration::from_secs(2));
                        if let Some(tx) = worker(move |msg| {
                            http_deliver(&url, &hosts, msg, timeout);
                        }) {
                            targets.push(Target::Queue(tx, s.to_string()));
                        }
                    }
                    Err(e) => output::log(&format!("notify sink {s} ignored: {e}")),
                }
            } else if let Some(cmd) = s.strip_prefix("exec:") {
                let cmd = cmd.to_string();
                let exits = exits.clone();
                if let Some(tx) = worker(move |msg| exec_deliver(&cmd, &exits, msg)) {
                    targets.push(Target::Queue(tx, s.to_string()));
                }
            } else if !s.is_empty() {
                output::log(&format!(
                    "notify sink {s:?} ignored (hint: stdout, file:PATH, http://HOST:PORT/PATH or exec:COMMAND)"
                ));
            }
        }
        Notifier { targets }
    }

    pub fn send(&self, event: &Value) {
        let line = event.to_string();
        for t in &self.targets {
            match t {
                Target::Stdout => {
                    let mut o = std::io::stdout().lock();
                    let _ = writeln!(o, "{line}");
                    let _ = o.flush();
                }
                Target::File(p) => {
                    let r = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(p)
                        .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
                    if let Err(e) = r {
                        output::log(&format!("notify file:{}: {e}", p.display()));
                    }
                }
                Target::Queue(tx, name) => match tx.try_send(line.clone()) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        output::log(&format!("notify {name}: queue full, event dropped"))
                    }
                    Err(TrySendError::Disconnected(_)) => {}
                },
            }
        }
    }
}

fn worker<F: FnMut(&str) + Send + 'static>(mut f: F) -> Option<SyncSender<String>> {
    let (tx, rx) = sync_channel::<String>(QUEUE);
    std::thread::Builder::new()
        .name("dops-init-notify".into())
        .stack_size(128 * 1024)
        .spawn(move || {
            while let Ok(msg) = rx.recv() {
                f(&msg);
            }
        })
        .ok()?;
    Some(tx)
}

fn exec_deliver(cmd: &str, exits: &Exits, msg: &str) {
    // Checked first: a failed exec makes std wait for the child, which the reaper may have
    // reaped already.
    if !std::path::Path::new("/bin/sh").exists() {
        output::log("notify exec: /bin/sh not found in this image");
        return;
    }
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg(cmd)
        .env("DOPS_EVENT", msg)
        .stdin(Stdio::piped());
    super::signals::reset_in_child(&mut c);
    let mut child = match exits.spawn(&mut c) {
        Ok(c) => c,
        Err(e) => {
            output::log(&format!("notify exec:{cmd}: {e}"));
            return;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(msg.as_bytes());
        let _ = stdin.write_all(b"\n");
    }
    let pid = child.id() as i32;
    match exits.wait(pid, EXEC_LIMIT) {
        Some(e) if !e.success() => output::log(&format!("notify exec:{cmd}: {e}")),
        Some(_) => {}
        None => {
            output::log(&format!(
                "notify exec:{cmd}: still running after {EXEC_LIMIT:?}; killed"
            ));
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            exits.forget(pid);
        }
    }
}

/// `http://host[:port][/path]`.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpUrl {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl HttpUrl {
    pub fn parse(url: &str) -> Result<HttpUrl, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: not an http:// URL"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{url}: bad IPv6 address"))?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => p.parse().map_err(|_| format!("{url}: bad port {p:?}"))?,
            None => 80,
        };
        if host.is_empty() {
            return Err(format!("{url}: no host"));
        }
        Ok(HttpUrl { host, port, path })
    }

    /// An IP literal, `localhost`, or a name found in the hosts file.
    pub fn resolve(&self, hosts_file: &std::path::Path) -> Option<SocketAddr> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Some(SocketAddr::new(ip, self.port));
        }
        let hosts = std::fs::read_to_string(hosts_file).unwrap_or_default();
        for line in hosts.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut f = line.split_whitespace();
            let Some(ip) = f.next().and_then(|i| i.parse::<IpAddr>().ok()) else {
                continue;
            };
            if f.any(|n| n.eq_ignore_ascii_case(&self.host)) {
                return Some(SocketAddr::new(ip, self.port));
            }
        }
        (self.host == "localhost").then(|| SocketAddr::from(([127, 0, 0, 1], self.port)))
    }
}

/// One POST; returns the HTTP status.
pub fn http_post(
    url: &HttpUrl,
    addr: SocketAddr,
    body: &str,
    timeout: Duration,
) -> Result<u16, String> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let host_header = if url.port == 80 {
        url.host.clone()
    } else {
        format!("{}:{}", url.host, url.port)
    };
    let req = format!(
        "POST {} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: dops-init\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        url.path,
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < head.len() {
        match s.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => {
                n += k;
                if head[..n].contains(&b'\n') {
                    break;
                }
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    let line = String::from_utf8_lossy(&head[..n]);
    let mut parts = line.split_whitespace();
    match (
        parts.next(),
        parts.next().and_then(|c| c.parse::<u16>().ok()),
    ) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => Ok(code),
        _ => Err(format!(
            "not an HTTP answer: {:?}",
            line.lines().next().unwrap_or("")
        )),
    }
}

fn http_deliver(url: &HttpUrl, hosts: &std::path::Path, msg: &str, timeout: Duration) {
    let mut last = String::new();
    for attempt in 0..HTTP_ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(250 << attempt));
        }
        let Some(addr) = url.resolve(hosts) else {
            last = format!(
                "cannot resolve {} (hint: use an IP address or an /etc/hosts name)",
                url.host
            );
            continue;
        };
        match http_post(url, addr, msg, timeout) {
            Ok(code) if (200..300).contains(&code) => return,
            Ok(code) => last = format!("HTTP {code}"),
            Err(e) => last = e,
        }
    }
    output::log(&format!(
        "notify http://{}:{}{}: giving up after {HTTP_ATTEMPTS} attempts: {last}",
        url.host, url.port, url.path
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_http_urls() {
        let u = HttpUrl::parse("http://10.0.0.5:8080/hook?x=1").unwrap();
        assert_eq!(
            u,
            HttpUrl {
                host: "10.0.0.5".into(),
                port: 8080,
                path: "/hook?x=1".into()
            }
        );
        let u = HttpUrl::parse("http://[::1]/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 80));
        assert!(HttpUrl::parse("http://:80/").is_err());
        assert!(HttpUrl::parse("ftp://x/").is_err());
    }

    #[test]
    fn posts_to_a_local_server() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut buf = vec![0u8; 4096];
            let mut got = Vec::new();
            while !String::from_utf8_lossy(&got).contains("}") {
                let n = c.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            c.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
            String::from_utf8(got).unwrap()
        });
        let url = HttpUrl::parse(&format!("http://{addr}/x")).unwrap();
        let code = http_post(&url, addr, "{\"a\":1}", Duration::from_secs(2)).unwrap();
        assert_eq!(code, 204);
        let req = t.join().unwrap();
        assert!(req.starts_with("POST /x HTTP/1.1\r\n"), "{req}");
        assert!(
            req.contains("Content-Length: 7\r\n") && req.ends_with("{\"a\":1}"),
            "{req}"
        );
    }
}
