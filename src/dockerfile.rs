//! What dops reads from a Dockerfile, in one place: the logical lines (continuations joined, as
//! Docker reads them), the `FROM` lines (multi-stage included) for the build order and the base
//! image, the instructions for locating a failed build step, and the ports to publish. A leaf:
//! used by `project`, `meta` and `engine`.
//!
//! Ports: `EXPOSE` lines of the final stage (`EXPOSE 80 443/tcp 53/udp`), plus comments anywhere:
//! `# dops: expose 53/udp`, `# dops: expose 80 as 8080` (container port 80 published on host port
//! 8080), and DockerOps' `#UDPEXPOSE 53`. Ports inherited from a parent service (the final stage
//! is `FROM <project>/<parent>`) are added by the project loader.

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
    for Line {
        number: line, text, ..
    } in lines(text)
    {
        let t = text.trim();
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
