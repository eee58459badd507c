//! What dops reads from a service's Dockerfile: the `FROM` lines (multi-stage included) for the
//! build order, and the ports to publish.
//!
//! Ports: `EXPOSE` lines of the final stage (`EXPOSE 80 443/tcp 53/udp`), plus comments anywhere:
//! `# dops: expose 53/udp`, `# dops: expose 80 as 8080` (container port 80 published on host port
//! 8080), and DockerOps' `#UDPEXPOSE 53`. Ports inherited from a parent service (the final stage
//! is `FROM <project>/<parent>`) are added by the project loader.

use serde::Serialize;

use crate::plan::Protocol;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
pub struct ExposedPort {
    pub container: u16,
    pub protocol: Protocol,
    /// The host port when published (same as `container` unless `as N` was given).
    pub host: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FromLine {
    pub image: String,
    /// 1-based line of the FROM instruction.
    pub line: usize,
    /// `AS name`, if any.
    pub stage: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DockerfileInfo {
    pub froms: Vec<FromLine>,
    pub ports: Vec<ExposedPort>,
}

impl DockerfileInfo {
    /// Images named in FROM lines that are not earlier stages of the same file.
    pub fn external_bases(&self) -> Vec<&FromLine> {
        let mut stages: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for f in &self.froms {
            if !stages.iter().any(|s| s.eq_ignore_ascii_case(&f.image)) {
                out.push(f);
            }
            if let Some(s) = &f.stage {
                stages.push(s);
            }
        }
        out
    }

    /// The base of the final stage, following stage names back to an external image.
    pub fn final_base(&self) -> Option<&str> {
        let mut image = self.froms.last()?.image.as_str();
        for _ in 0..self.froms.len() {
            match self.froms.iter().find(|f| {
                f.stage
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(image))
            }) {
                Some(f) => image = &f.image,
                None => break,
            }
        }
        Some(image)
    }
}

/// Join continuation lines; yields (first line number, logical line).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if cur.is_empty() {
            start = i + 1;
            // comments are whole lines; they never continue
            if line.trim_start().starts_with('#') {
                out.push((start, line.trim_start().to_string()));
                continue;
            }
        } else if line.trim_start().starts_with('#') {
            continue; // comment lines inside a continued instruction are skipped
        }
        if let Some(body) = line.strip_suffix('\\') {
            cur.push_str(body);
            cur.push(' ');
        } else {
            cur.push_str(line);
            out.push((start, std::mem::take(&mut cur)));
        }
    }
    if !cur.is_empty() {
        out.push((start, cur));
    }
    out
}

/// `80`, `80/tcp`, `53/udp` → (port, protocol).
fn port_spec(s: &str) -> Option<(u16, Protocol)> {
    let (p, proto) = match s.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (s, "tcp".to_string()),
    };
    let proto = match proto.as_str() {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        _ => return None,
    };
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Some((n, proto)),
        _ => None,
    }
}

pub fn parse(text: &str) -> DockerfileInfo {
    let mut info = DockerfileInfo::default();
    let mut stage_ports: Vec<ExposedPort> = Vec::new();
    let mut comment_ports: Vec<ExposedPort> = Vec::new();
    for (line, l) in logical_lines(text) {
        let t = l.trim();
        if let Some(c) = t.strip_prefix('#') {
            let c = c.trim();
            let lower = c.to_ascii_lowercase();
            if let Some(rest) = lower
                .strip_prefix("dops:")
                .map(str::trim)
                .and_then(|r| r.strip_prefix("expose "))
            {
                let words: Vec<&str> = rest.split_whitespace().collect();
                match words.as_slice() {
                    [spec] => {
                        if let Some((p, proto)) = port_spec(spec) {
                            comment_ports.push(ExposedPort {
                                container: p,
                                protocol: proto,
                                host: p,
                            });
                        }
                    }
                    [spec, "as", host] => {
                        if let (Some((p, proto)), Ok(h)) = (port_spec(spec), host.parse::<u16>()) {
                            if h > 0 {
                                comment_ports.push(ExposedPort {
                                    container: p,
                                    protocol: proto,
                                    host: h,
                                });
                            }
                        }
                    }
                    _ => {}
                }
            } else if let Some(rest) = lower.strip_prefix("udpexpose") {
                for w in rest.split_whitespace() {
                    if let Ok(p) = w.parse::<u16>() {
                        if p > 0 {
                            comment_ports.push(ExposedPort {
                                container: p,
                                protocol: Protocol::Udp,
                                host: p,
                            });
                        }
                    }
                }
            }
            continue;
        }
        let mut words = t.split_whitespace();
        let Some(instr) = words.next() else { continue };
        if instr.eq_ignore_ascii_case("FROM") {
            let args: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
            if let Some(image) = args.first() {
                let stage = match args.as_slice() {
                    [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some(name.to_string()),
                    _ => None,
                };
                info.froms.push(FromLine {
                    image: image.to_string(),
                    line,
                    stage,
                });
                stage_ports.clear(); // EXPOSE does not carry across stages
            }
        } else if instr.eq_ignore_ascii_case("EXPOSE") {
            for w in words {
                if let Some((p, proto)) = port_spec(w) {
                    stage_ports.push(ExposedPort {
                        container: p,
                        protocol: proto,
                        host: p,
                    });
                }
            }
        }
    }
    let mut ports = stage_ports;
    for c in comment_ports {
        // a comment overrides an EXPOSE of the same port (it may choose the host port)
        ports.retain(|p| !(p.container == c.container && p.protocol == c.protocol));
        ports.push(c);
    }
    info.ports = merge_ports(Vec::new(), ports);
    info
}

/// Add `extra` ports to `base`, the later one winning for the same container port/protocol;
/// sorted.
pub fn merge_ports(base: Vec<ExposedPort>, extra: Vec<ExposedPort>) -> Vec<ExposedPort> {
    let mut out = base;
    for p in extra {
        out.retain(|q| !(q.container == p.container && q.protocol == p.protocol));
        out.push(p);
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn froms_multi_stage() {
        let d = parse(
            "FROM --platform=linux/amd64 golang:1.22 AS build\nRUN make\nFROM demo/base as mid\nFROM mid\nCOPY --from=build /x /x\n",
        );
        assert_eq!(d.froms.len(), 3);
        let ext: Vec<&str> = d
            .external_bases()
            .iter()
            .map(|f| f.image.as_str())
            .collect();
        assert_eq!(ext, vec!["golang:1.22", "demo/base"]);
        assert_eq!(d.final_base(), Some("demo/base"));
        assert_eq!(d.froms[1].line, 3);
    }

    #[test]
    fn ports_from_expose_and_comments() {
        let d = parse(
            "FROM x\nEXPOSE 80 443/tcp \\\n   53/udp $PORT\n# dops: expose 53/udp\n# dops: expose 80 as 8080\n#UDPEXPOSE 5353\n",
        );
        let p: Vec<(u16, Protocol, u16)> = d
            .ports
            .iter()
            .map(|p| (p.container, p.protocol, p.host))
            .collect();
        assert_eq!(
            p,
            vec![
                (53, Protocol::Udp, 53),
                (80, Protocol::Tcp, 8080),
                (443, Protocol::Tcp, 443),
                (5353, Protocol::Udp, 5353)
            ]
        );
    }

    #[test]
    fn expose_of_an_earlier_stage_is_dropped() {
        let d = parse("FROM a AS b\nEXPOSE 1\nFROM c\nEXPOSE 2\n");
        assert_eq!(d.ports.len(), 1);
        assert_eq!(d.ports[0].container, 2);
    }

    #[test]
    fn garbage_is_ignored() {
        let d = parse("EXPOSE 0 99999 abc 1/sctp\nFROM\n# dops: expose\n# dops: expose 1 as 0\n");
        assert!(d.ports.is_empty());
        assert!(d.froms.is_empty());
    }
}
