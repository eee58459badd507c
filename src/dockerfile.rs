//! What dops reads from a Dockerfile, in one place: the logical lines (continuations joined, as
//! Docker reads them), the `FROM` lines (multi-stage included) for the build order and the base
//! image, the instructions for locating a failed build step, and the ports to publish. A leaf:
//! used by `project`, `meta` and `engine`.
//!
//! Ports: `EXPOSE` lines of the final stage (`EXPOSE 80 443/tcp 53/udp 8000-8010`), plus comments
//! anywhere: `# dops: expose 53/udp`, `# dops: expose 80 as 8080` (container port 80 published on
//! host port 8080; ranges of the same length too: `# dops: expose 8000-8001 as 9000-9001`), and
//! DockerOps' `#UDPEXPOSE 53`. Ports inherited from a parent service (the final stage is
//! `FROM <project>/<parent>`) are added by the project loader. A port dops cannot publish (out of
//! range, not a number, a variable, another protocol) is a [`Warning`] with its line, never
//! silently dropped.

use serde::Serialize;

/// A port's transport protocol.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

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

/// Something in a Dockerfile dops reads but cannot use (a port it will not publish).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// 1-based line of the instruction or comment.
    pub line: usize,
    pub msg: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DockerfileInfo {
    pub froms: Vec<FromLine>,
    pub ports: Vec<ExposedPort>,
    pub warnings: Vec<Warning>,
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

/// One logical line of a Dockerfile: an instruction with its continuation lines joined, or a
/// whole-line comment (parser directives and `# dops:` comments are comments too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 1-based number of the line it starts on.
    pub number: usize,
    /// The instruction, its continued parts joined by one space; or the comment, `#` included.
    pub text: String,
    pub is_comment: bool,
}

/// The logical lines as Docker reads them: a line ending in `\` continues on the next one;
/// comment lines inside a continued instruction are skipped; blank lines are dropped.
pub fn lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.starts_with('#') {
            // A comment is a whole line; inside a continued instruction it is skipped.
            if current.is_none() {
                out.push(Line {
                    number: i + 1,
                    text: trimmed.to_string(),
                    is_comment: true,
                });
            }
            continue;
        }
        if trimmed.is_empty() && current.is_none() {
            continue;
        }
        let (body, continues) = match trimmed.strip_suffix('\\') {
            Some(b) => (b.trim_end(), true),
            None => (trimmed, false),
        };
        match current.as_mut() {
            Some((_, acc)) => {
                if !body.is_empty() {
                    acc.push(' ');
                    acc.push_str(body);
                }
            }
            None => current = Some((i + 1, body.to_string())),
        }
        if !continues {
            if let Some((number, text)) = current.take() {
                out.push(Line {
                    number,
                    text,
                    is_comment: false,
                });
            }
        }
    }
    if let Some((number, text)) = current.take() {
        out.push(Line {
            number,
            text,
            is_comment: false,
        });
    }
    out
}

/// The instructions with their 1-based line numbers, comments dropped: the classic builder's
/// "Step N/M" is the N-th of these.
pub fn instructions(text: &str) -> Vec<(usize, String)> {
    lines(text)
        .into_iter()
        .filter(|l| !l.is_comment)
        .map(|l| (l.number, l.text))
        .collect()
}

/// The base image of a Dockerfile: the image of its final `FROM`, a stage name followed back to
/// an external image. None without a FROM.
pub fn base_image(text: &str) -> Option<String> {
    parse(text).final_base().map(str::to_string)
}

/// The widest range dops publishes from one `EXPOSE` word (each port is one binding, and Docker
/// runs a proxy per binding).
pub const MAX_RANGE: usize = 1024;

/// The most ports one Dockerfile may declare, all lines together (bounds the work on any input).
pub const MAX_PORTS: usize = 4096;

/// `80` → 80; anything else (0, over 65535, not a number, a variable) says why not.
fn port_number(s: &str) -> Result<u16, String> {
    if s.contains('$') {
        return Err(format!(
            "{s} is a variable, which dops does not expand (write the number, or add \"# dops: expose N\")"
        ));
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{s:?} is not a port number"));
    }
    match s.parse::<u64>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => Err(format!("port {s} is out of range (1 to 65535)")),
    }
}

/// `80` or `8000-8010` → the first and last port.
fn port_range(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (port_number(a)?, port_number(b)?),
        None => {
            let p = port_number(s)?;
            (p, p)
        }
    };
    if a > b {
        return Err(format!("the range {s} ends before it starts"));
    }
    if usize::from(b - a) >= MAX_RANGE {
        return Err(format!(
            "the range {s} has {} ports; dops publishes at most {MAX_RANGE} from one range",
            usize::from(b - a) + 1
        ));
    }
    Ok((a, b))
}

/// `80`, `80/tcp`, `53/udp`, `8000-8010/udp` → (first, last, protocol).
fn port_spec(s: &str) -> Result<(u16, u16, Protocol), String> {
    let (p, proto) = match s.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (s, "tcp".to_string()),
    };
    let proto = match proto.as_str() {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "sctp" => return Err("sctp ports are not published by dops (tcp or udp)".into()),
        other => return Err(format!("unknown protocol {other:?} (tcp or udp)")),
    };
    let (a, b) = port_range(p)?;
    Ok((a, b, proto))
}

/// The ports of `spec` published on the same ports of the host, or on `host` (a port or a range
/// of the same length).
fn expose(spec: &str, host: Option<&str>) -> Result<Vec<ExposedPort>, String> {
    let (a, b, protocol) = port_spec(spec)?;
    let h = match host {
        None => a,
        Some(h) => {
            let (ha, hb) = port_range(h).map_err(|e| format!("host {e}"))?;
            if hb - ha != b - a {
                return Err(format!(
                    "{spec} has {} ports but {h} has {}",
                    b - a + 1,
                    hb - ha + 1
                ));
            }
            ha
        }
    };
    Ok((a..=b)
        .zip(h..)
        .map(|(container, host)| ExposedPort {
            container,
            protocol,
            host,
        })
        .collect())
}

/// Ports by (container port, protocol) → host port: a later declaration replaces an earlier one.
type PortMap = std::collections::BTreeMap<(u16, Protocol), u16>;

pub fn parse(text: &str) -> DockerfileInfo {
    let mut info = DockerfileInfo::default();
    let mut stage_ports = PortMap::new();
    let mut comment_ports = PortMap::new();
    let mut declared = 0usize;
    let mut warnings = Vec::new();
    for Line {
        number: line, text, ..
    } in lines(text)
    {
        let t = text.trim();
        // Each declaration: its ports into `into`, or a warning with the line.
        let mut declare =
            |what: &str, ports: Result<Vec<ExposedPort>, String>, into: &mut PortMap| {
                let why = match ports {
                    Ok(ports) if declared + ports.len() <= MAX_PORTS => {
                        declared += ports.len();
                        for p in ports {
                            into.insert((p.container, p.protocol), p.host);
                        }
                        return;
                    }
                    Ok(_) => format!("more than {MAX_PORTS} ports in this Dockerfile"),
                    Err(why) => why,
                };
                warnings.push(Warning {
                    line,
                    msg: format!("{what}: {why}; not published"),
                });
            };
        if let Some(c) = t.strip_prefix('#') {
            let c = c.trim();
            let lower = c.to_ascii_lowercase();
            let directive = lower.strip_prefix("dops:").map(str::trim);
            if let Some(rest) = directive.and_then(|r| r.strip_prefix("expose")) {
                if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
                    continue; // `# dops: exposed …`: not this directive
                }
                let words: Vec<&str> = rest.split_whitespace().collect();
                let parsed = match words.as_slice() {
                    [spec] => expose(spec, None),
                    [spec, "as", host] => expose(spec, Some(host)),
                    _ => Err("expected \"# dops: expose PORT[/PROTO] [as HOST_PORT]\"".into()),
                };
                declare(t, parsed, &mut comment_ports);
            } else if let Some(rest) = lower.strip_prefix("udpexpose") {
                for w in rest.split_whitespace() {
                    let ports = port_range(w).map(|(a, b)| {
                        (a..=b)
                            .map(|p| ExposedPort {
                                container: p,
                                protocol: Protocol::Udp,
                                host: p,
                            })
                            .collect()
                    });
                    declare(&format!("#UDPEXPOSE {w}"), ports, &mut comment_ports);
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
                declare(&format!("EXPOSE {w}"), expose(w, None), &mut stage_ports);
            }
        }
    }
    // a comment overrides an EXPOSE of the same port (it may choose the host port)
    stage_ports.extend(comment_ports);
    info.ports = stage_ports
        .into_iter()
        .map(|((container, protocol), host)| ExposedPort {
            container,
            protocol,
            host,
        })
        .collect();
    info.warnings = warnings;
    info
}

/// Add `extra` ports to `base`, the later one winning for the same container port/protocol;
/// sorted.
pub fn merge_ports(base: Vec<ExposedPort>, extra: Vec<ExposedPort>) -> Vec<ExposedPort> {
    let mut by_port: std::collections::BTreeMap<(u16, Protocol), u16> =
        std::collections::BTreeMap::new();
    for p in base.into_iter().chain(extra) {
        by_port.insert((p.container, p.protocol), p.host);
    }
    let mut out: Vec<ExposedPort> = by_port
        .into_iter()
        .map(|((container, protocol), host)| ExposedPort {
            container,
            protocol,
            host,
        })
        .collect();
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

    fn warnings(d: &DockerfileInfo) -> Vec<String> {
        d.warnings
            .iter()
            .map(|w| format!("{}: {}", w.line, w.msg))
            .collect()
    }

    #[test]
    fn ports_dops_cannot_publish_are_warnings() {
        let d = parse(
            "EXPOSE 0 99999 abc 1/sctp 2/xyz $PORT\nFROM\n# dops: expose\n# dops: expose 1 as 0\n# dops: expose 80 as 70000\n#UDPEXPOSE 70000\nEXPOSE 9-8 1-2000\n# dops: expose 10-11 as 20\n# dops: exposed 5\n",
        );
        assert!(d.ports.is_empty());
        assert!(d.froms.is_empty());
        assert_eq!(
            warnings(&d),
            vec![
                "1: EXPOSE 0: port 0 is out of range (1 to 65535); not published",
                "1: EXPOSE 99999: port 99999 is out of range (1 to 65535); not published",
                "1: EXPOSE abc: \"abc\" is not a port number; not published",
                "1: EXPOSE 1/sctp: sctp ports are not published by dops (tcp or udp); not published",
                "1: EXPOSE 2/xyz: unknown protocol \"xyz\" (tcp or udp); not published",
                "1: EXPOSE $PORT: $PORT is a variable, which dops does not expand (write the number, or add \"# dops: expose N\"); not published",
                "3: # dops: expose: expected \"# dops: expose PORT[/PROTO] [as HOST_PORT]\"; not published",
                "4: # dops: expose 1 as 0: host port 0 is out of range (1 to 65535); not published",
                "5: # dops: expose 80 as 70000: host port 70000 is out of range (1 to 65535); not published",
                "6: #UDPEXPOSE 70000: port 70000 is out of range (1 to 65535); not published",
                "7: EXPOSE 9-8: the range 9-8 ends before it starts; not published",
                "7: EXPOSE 1-2000: the range 1-2000 has 2000 ports; dops publishes at most 1024 from one range; not published",
                "8: # dops: expose 10-11 as 20: 10-11 has 2 ports but 20 has 1; not published",
            ]
        );
    }

    #[test]
    fn ranges_like_docker() {
        let d =
            parse("FROM x\nEXPOSE 8000-8002 53-54/udp\n# dops: expose 9000-9001 as 7000-7001\n");
        let p: Vec<(u16, Protocol, u16)> = d
            .ports
            .iter()
            .map(|p| (p.container, p.protocol, p.host))
            .collect();
        assert_eq!(
            p,
            vec![
                (53, Protocol::Udp, 53),
                (54, Protocol::Udp, 54),
                (8000, Protocol::Tcp, 8000),
                (8001, Protocol::Tcp, 8001),
                (8002, Protocol::Tcp, 8002),
                (9000, Protocol::Tcp, 7000),
                (9001, Protocol::Tcp, 7001),
            ]
        );
        assert!(d.warnings.is_empty());
    }

    #[test]
    fn the_ports_of_one_dockerfile_are_bounded() {
        let text = "EXPOSE 1-1024\n".repeat(5);
        let d = parse(&format!("FROM x\n{text}"));
        assert_eq!(d.ports.len(), 1024);
        assert_eq!(
            warnings(&d),
            vec!["6: EXPOSE 1-1024: more than 4096 ports in this Dockerfile; not published"]
        );
    }

    #[test]
    fn base_image_from_the_final_stage() {
        assert_eq!(
            base_image("# c\nFROM debian:12\nRUN true\n").as_deref(),
            Some("debian:12")
        );
        assert_eq!(
            base_image(
                "FROM --platform=linux/amd64 golang:1 AS build\nRUN make\nFROM shop/base\nCOPY --from=build /x /x\n"
            )
            .as_deref(),
            Some("shop/base")
        );
        assert_eq!(
            base_image("FROM alpine AS Base\nFROM base\n").as_deref(),
            Some("alpine")
        );
        assert_eq!(
            base_image("from \\\n  scratch\n").as_deref(),
            Some("scratch")
        );
        assert_eq!(base_image("RUN x\n"), None);
    }

    #[test]
    fn dockerfile_steps_map_to_lines() {
        let df = "# syntax comment\nFROM busybox\n\nRUN echo a \\\n  && echo b\n# c\nCOPY x /x\nCMD [\"sh\"]\n";
        let ins = instructions(df);
        assert_eq!(
            ins,
            vec![
                (2, "FROM busybox".to_string()),
                (4, "RUN echo a && echo b".to_string()),
                (7, "COPY x /x".to_string()),
                (8, "CMD [\"sh\"]".to_string()),
            ]
        );
    }
}
