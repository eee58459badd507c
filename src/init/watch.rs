//! Watches (`"watches"` in `/dops/init.d`): follow the members of a DNS name and, when the set
//! changes, re-render a handlebars template, validate it, atomically replace the output and
//! reload a program; and/or run an `on_change` command with the members.
//!
//! ```json
//! "watches": {
//!   "web": {
//!     "dns": "web",                      // a name; without a dot DNS_ZONE is appended
//!     "port": 3000,                      // given to the template
//!     "interval_ms": 500, "debounce_ms": 200,
//!     "server": "172.18.0.2:53",         // default DNS_SERVICE_IP
//!     "template": "/config/haproxy.cfg.hb",
//!     "output": "/usr/local/etc/haproxy/haproxy.cfg",
//!     "validate": ["haproxy", "-c", "-f", "{{output}}"],   // {{output}}: the candidate file
//!     "reload": {"program": "haproxy"},  // its reload_signal; "restart": true to restart it;
//!                                        // or {"command": "…"}
//!     "on_change": "/usr/local/bin/members-changed"        // JSON on stdin, DOPS_MEMBERS=…
//!   }
//! }
//! ```
//!
//! Template context: `addresses` (= `members`): `[{ip, host, port, index}]` sorted by address
//! (`host` is the instance's name from the PTR record, e.g. `web-one`), `count`, `name`, `dns`,
//! `port`. Output is not HTML-escaped. A failing validation keeps the old file and the program
//! untouched, and is reported in state.json (`"watches"`) without leaving UP.
//!
//! The DNS polling runs in one thread per watch (`dns_wire::lookup_a`, `lookup_ptr`);
//! rendering, validation and reloads run on the lifecycle's event loop, which owns the
//! processes.
use super::dns_server::ServerAddr;
use super::dns_wire::{lookup_a, lookup_ptr};
use super::error::InitError;
use super::program::{split_command, CommandSpec};
use super::signals::Waker;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReloadSpec {
    pub program: Option<String>,
    #[serde(default)]
    pub restart: bool,
    pub command: Option<CommandSpec>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WatchSpec {
    pub dns: String,
    pub port: Option<u16>,
    pub interval_ms: Option<u64>,
    pub debounce_ms: Option<u64>,
    pub server: Option<String>,
    pub template: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub validate: Option<CommandSpec>,
    pub reload: Option<ReloadSpec>,
    pub on_change: Option<CommandSpec>,
}

/// What a change does after the output is replaced.
#[derive(Debug, Clone, PartialEq)]
pub enum Reload {
    None,
    Signal(String),
    Restart(String),
    Command(Vec<String>),
}

/// A resolved watch.
#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    pub name: String,
    pub qname: String,
    /// An address, or a name resolved again at every lookup (a swarm).
    pub server: ServerAddr,
    pub port: Option<u16>,
    pub interval: Duration,
    pub debounce: Duration,
    pub template: Option<(PathBuf, PathBuf)>,
    pub validate: Option<Vec<String>>,
    pub reload: Reload,
    pub on_change: Option<Vec<String>>,
}

/// One member of a watched name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Member {
    pub ip: Ipv4Addr,
    pub host: String,
}

/// From a poller to the event loop.
#[derive(Debug)]
pub enum WatchMsg {
    Changed { name: String, members: Vec<Member> },
    Failed { name: String, error: String },
}

fn command(c: &CommandSpec, what: &str) -> Result<Vec<String>, String> {
    let v = match c {
        CommandSpec::Argv(a) => a.clone(),
        CommandSpec::Line(l) => split_command(l)?,
    };
    if v.is_empty() {
        return Err(format!("{what} is empty"));
    }
    Ok(v)
}

impl Watch {
    /// Resolve a declaration; `programs` are the declared program names (for `reload`).
    pub fn from_spec(
        name: &str,
        spec: &WatchSpec,
        programs: &[String],
    ) -> Result<Watch, InitError> {
        let bad = |msg: String| InitError::BadWatch {
            name: name.to_string(),
            msg,
        };
        let server_text = spec
            .server
            .clone()
            .or_else(|| std::env::var("DNS_SERVICE_IP").ok())
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                bad("no DNS server: DNS_SERVICE_IP is not set (hint: or set \"server\")".into())
            })?;
        let server = ServerAddr::parse(&server_text).ok_or_else(|| {
            bad(format!(
                "server {server_text:?} is not an ip address, a host name, or either with :port"
            ))
        })?;
        let dns = spec.dns.trim().trim_end_matches('.').to_string();
        if dns.is_empty() {
            return Err(bad("dns is empty".into()));
        }
        let qname = if dns.contains('.') {
            dns
        } else {
            let zone = std::env::var("DNS_ZONE").unwrap_or_else(|_| "local.zone".into());
            format!("{dns}.{}", zone.trim_end_matches('.'))
        };
        let template = match (&spec.template, &spec.output) {
            (Some(t), Some(o)) => Some((t.clone(), o.clone())),
            (None, None) => None,
            _ => return Err(bad("template and output go together".into())),
        };
        if template.is_none() && spec.on_change.is_none() {
            return Err(bad(
                "nothing to do: give template + output, or on_change".into()
            ));
        }
        let reload = match &spec.reload {
            None => Reload::None,
            Some(r) => match (&r.program, &r.command) {
                (Some(p), None) => {
                    if !programs.iter().any(|n| n == p) {
                        return Err(bad(format!("reload: no program named {p:?}")));
                    }
                    if r.restart {
                        Reload::Restart(p.clone())
                    } else {
                        Reload::Signal(p.clone())
                    }
                }
                (None, Some(c)) => Reload::Command(command(c, "reload command").map_err(bad)?),
                _ => return Err(bad("reload takes either \"program\" or \"command\"".into())),
            },
        };
        if template.is_none() && reload != Reload::None {
            return Err(bad("reload without template: nothing is rendered".into()));
        }
        Ok(Watch {
            name: name.to_string(),
            qname,
            server,
            port: spec.port,
            interval: Duration::from_millis(spec.interval_ms.unwrap_or(1000).max(50)),
            debounce: Duration::from_millis(spec.debounce_ms.unwrap_or(200)),
            template,
            validate: spec
                .validate
                .as_ref()
                .map(|c| command(c, "validate"))
                .transpose()
                .map_err(bad)?,
            reload,
            on_change: spec
                .on_change
                .as_ref()
                .map(|c| command(c, "on_change"))
                .transpose()
                .map_err(bad)?,
        })
    }

    fn lookup_timeout(&self) -> Duration {
        self.interval
            .clamp(Duration::from_millis(200), Duration::from_secs(2))
    }

    /// The current members: A records, then a PTR per address for its instance name.
    pub fn lookup(&self) -> Result<Vec<Member>, String> {
        let t = self.lookup_timeout();
        let server = self.server.resolve(t).map_err(|e| e.to_string())?;
        let mut ips = lookup_a(server, &self.qname, t).map_err(|e| e.to_string())?;
        ips.sort();
        ips.dedup();
        let label = self.qname.split('.').next().unwrap_or("member").to_string();
        Ok(ips
            .into_iter()
            .map(|ip| Member {
                ip,
                host: lookup_ptr(server, ip, t)
                    .unwrap_or_else(|| format!("{label}-{}", ip.to_string().replace('.', "-"))),
            })
            .collect())
    }

    /// The template context.
    pub fn context(&self, members: &[Member]) -> Value {
        let list: Vec<Value> = members
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"ip": m.ip.to_string(), "host": m.host, "port": self.port, "index": i}))
            .collect();
        json!({
            "name": self.name,
            "dns": self.qname,
            "port": self.port,
            "count": members.len(),
            "addresses": list,
            "members": list,
            "output": self.template.as_ref().map(|(_, o)| o.display().to_string()),
        })
    }

    /// Start the poller thread; `last` is what the first render used.
    pub fn spawn_poller(
        &self,
        last: Option<Vec<Member>>,
        tx: Sender<WatchMsg>,
        waker: Waker,
        stop: Arc<AtomicBool>,
    ) {
        let w = self.clone();
        let _ = std::thread::Builder::new()
            .name(format!("watch-{}", self.name))
            .stack_size(256 * 1024)
            .spawn(move || w.poll_loop(last, tx, waker, stop));
    }

    fn poll_loop(
        &self,
        mut last: Option<Vec<Member>>,
        tx: Sender<WatchMsg>,
        waker: Waker,
        stop: Arc<AtomicBool>,
    ) {
        let mut failing = false;
        loop {
            std::thread::sleep(self.interval);
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let now = match self.lookup() {
                Ok(m) => m,
                Err(e) => {
                    if !failing {
                        failing = true;
                        let _ = tx.send(WatchMsg::Failed {
                            name: self.name.clone(),
                            error: format!("lookup of {} failed: {e}", self.qname),
                        });
                        waker.wake();
                    }
                    continue;
                }
            };
            failing = false;
            if last.as_ref() == Some(&now) {
                continue;
            }
            // Debounce: the new set must still be there a moment later.
            std::thread::sleep(self.debounce);
            match self.lookup() {
                Ok(again) if again == now => {}
                _ => continue,
            }
            if stop.load(Ordering::Relaxed) {
                return;
            }
            last = Some(now.clone());
            if tx
                .send(WatchMsg::Changed {
                    name: self.name.clone(),
                    members: now,
                })
                .is_err()
            {
                return;
            }
            waker.wake();
        }
    }
}

/// Render a handlebars template (no HTML escaping).
pub fn render(template: &str, ctx: &Value) -> Result<String, String> {
    let mut hb = handlebars::Handlebars::new();
    hb.register_escape_fn(handlebars::no_escape);
    hb.render_template(template, ctx).map_err(|e| e.to_string())
}

/// The validate command with `{{output}}` (the candidate file) and `{{target}}` (the real one).
pub fn substitute(argv: &[String], candidate: &str, target: &str) -> Vec<String> {
    argv.iter()
        .map(|a| {
            a.replace("{{output}}", candidate)
                .replace("{{target}}", target)
        })
        .collect()
}

/// Environment for validate/reload/on_change commands.
pub fn env(w: &Watch, members: &[Member]) -> BTreeMap<String, String> {
    let mut e = BTreeMap::new();
    e.insert("DOPS_WATCH".into(), w.name.clone());
    e.insert("DOPS_WATCH_DNS".into(), w.qname.clone());
    e.insert(
        "DOPS_MEMBERS".into(),
        members
            .iter()
            .map(|m| m.ip.to_string())
            .collect::<Vec<_>>()
            .join(" "),
    );
    e.insert(
        "DOPS_MEMBER_HOSTS".into(),
        members
            .iter()
            .map(|m| m.host.clone())
            .collect::<Vec<_>>()
            .join(" "),
    );
    e.insert("DOPS_MEMBER_COUNT".into(), members.len().to_string());
    e.insert(
        "DOPS_MEMBERS_JSON".into(),
        w.context(members)["members"].to_string(),
    );
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_haproxy_style_template_as_written() {
        let w = Watch {
            name: "web".into(),
            qname: "web.local.zone".into(),
            server: ServerAddr::Fixed("127.0.0.1:53".parse().unwrap()),
            port: Some(3000),
            interval: Duration::from_millis(500),
            debounce: Duration::ZERO,
            template: None,
            validate: None,
            reload: Reload::None,
            on_change: Some(vec!["true".into()]),
        };
        let members = vec![
            Member {
                ip: Ipv4Addr::new(10, 0, 0, 2),
                host: "web-one".into(),
            },
            Member {
                ip: Ipv4Addr::new(10, 0, 0, 3),
                host: "web-two".into(),
            },
        ];
        let out = render(
            "{{#each addresses}} server {{ host }} {{ ip }}:3000 check {{/each}}",
            &w.context(&members),
        )
        .unwrap();
        assert_eq!(
            out,
            " server web-one 10.0.0.2:3000 check  server web-two 10.0.0.3:3000 check "
        );
        let out = render(
            "{{count}} <&> {{#each members}}{{host}}={{ip}}:{{port}};{{/each}}",
            &w.context(&members),
        )
        .unwrap();
        assert_eq!(out, "2 <&> web-one=10.0.0.2:3000;web-two=10.0.0.3:3000;");
        assert!(render("{{#each}", &w.context(&members)).is_err());
    }

    #[test]
    fn specs_are_checked() {
        let spec = |j: &str| serde_json::from_str::<WatchSpec>(j).unwrap();
        let progs = vec!["haproxy".to_string()];
        let w = Watch::from_spec(
            "lb",
            &spec(r#"{"dns":"web","server":"127.0.0.1:5353","template":"/t","output":"/o","reload":{"program":"haproxy"}}"#),
            &progs,
        )
        .unwrap();
        assert!(w.qname.starts_with("web."));
        assert_eq!(w.reload, Reload::Signal("haproxy".into()));
        assert_eq!(
            w.server,
            ServerAddr::Fixed("127.0.0.1:5353".parse().unwrap())
        );
        for bad in [
            r#"{"dns":"web","server":"127.0.0.1","template":"/t"}"#,
            r#"{"dns":"web","server":"127.0.0.1"}"#,
            r#"{"dns":"web","server":"127.0.0.1","template":"/t","output":"/o","reload":{"program":"nginx"}}"#,
            r#"{"dns":"web","server":"no pe","on_change":"x"}"#,
        ] {
            assert!(Watch::from_spec("lb", &spec(bad), &progs).is_err(), "{bad}");
        }
        assert_eq!(
            substitute(&["-f".into(), "{{output}}".into()], "/tmp/c", "/etc/x"),
            vec!["-f", "/tmp/c"]
        );
    }
}
