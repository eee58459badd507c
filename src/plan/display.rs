//! The `dops plan` / `--dry-run` text of a plan. Secrets (`DNS_KEY`) are always masked.

use std::fmt;

use super::step::{ContainerSpec, Plan, Replacement, Step};
use crate::project::env::{EnvValue, EnvVar};
use crate::project::policies::{Condition, UpdateOrder};

/// Mask the secret of a `DNS_KEY` value (`hmac-sha256:<name>:<secret>` → `hmac-sha256:<name>:****`).
pub fn mask_secret(name: &str, value: &str) -> String {
    if name != "DNS_KEY" {
        return value.to_string();
    }
    match value.rsplit_once(':') {
        Some((head, _)) => format!("{head}:****"),
        None => "****".to_string(),
    }
}

fn write_spec(f: &mut fmt::Formatter<'_>, s: &ContainerSpec) -> fmt::Result {
    let pad = "     ";
    writeln!(f, "{pad}hostname   {}", s.hostname)?;
    match &s.network {
        Some(n) => writeln!(f, "{pad}network    {n}")?,
        None => writeln!(f, "{pad}network    host")?,
    }
    let mut flags = Vec::new();
    if s.interactive {
        flags.push("interactive");
    }
    if s.safemode {
        flags.push("safemode");
    }
    if !flags.is_empty() {
        writeln!(f, "{pad}flags      {}", flags.join(", "))?;
    }
    let width = s
        .env
        .iter()
        .map(|v| v.name.len() + 1 + value_len(v))
        .max()
        .unwrap_or(0);
    for (i, v) in s.env.iter().enumerate() {
        let label = if i == 0 { "env        " } else { "           " };
        let value = match &v.value {
            EnvValue::Literal(l) => mask_secret(&v.name, l),
            other => other.to_string(),
        };
        let text = format!("{}={}", v.name, value);
        writeln!(f, "{pad}{label}{text:<width$}  ({})", v.origin.as_str())?;
    }
    for (i, m) in s.mounts.iter().enumerate() {
        let label = if i == 0 { "mounts     " } else { "           " };
        let mut extra = Vec::new();
        if m.seed {
            extra.push("seed");
        }
        if m.read_only {
            extra.push("ro");
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" ({})", extra.join(", "))
        };
        match &m.volume {
            Some(v) => writeln!(
                f,
                "{pad}{label}volume {v} (on its node) -> {}{extra}",
                m.container
            )?,
            None => writeln!(
                f,
                "{pad}{label}{} -> {}{extra}",
                m.host.display(),
                m.container
            )?,
        }
    }
    for (i, p) in s.ports.iter().enumerate() {
        let label = if i == 0 { "ports      " } else { "           " };
        let proto = p.protocol.as_str();
        if s.placement.is_some() {
            writeln!(
                f,
                "{pad}{label}{} -> {}/{proto} (host mode: every address of its node)",
                p.host_port, p.container_port
            )?;
        } else {
            writeln!(
                f,
                "{pad}{label}{} -> {}/{proto}",
                std::net::SocketAddr::new(p.host_ip, p.host_port),
                p.container_port
            )?;
        }
    }
    let logs: Vec<String> = s.log_opts.iter().map(|(k, v)| format!("{k}={v}")).collect();
    writeln!(f, "{pad}restart    {} (logs {})", s.restart, logs.join(" "))?;
    let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    writeln!(f, "{pad}labels     {}", labels.join(" "))?;
    if let Some(pl) = &s.placement {
        let mut parts = Vec::new();
        if let Some(n) = &pl.node {
            parts.push(format!("node {n} (pinned: its data lives there)"));
        }
        parts.extend(pl.constraints.iter().cloned());
        if parts.is_empty() {
            parts.push("any node".into());
        }
        writeln!(f, "{pad}placement  {}", parts.join(", "))?;
    }
    if let Some(d) = &s.dns {
        writeln!(f, "{pad}dns        server {} zone {}", d.server, d.zone)?;
    }
    if !s.extra_args.is_empty() {
        writeln!(f, "{pad}extra args {}", s.extra_args.args.join(" "))?;
    }
    Ok(())
}

fn value_len(v: &EnvVar) -> usize {
    match &v.value {
        EnvValue::Literal(l) => mask_secret(&v.name, l).chars().count(),
        other => other.to_string().chars().count(),
    }
}

/// `replace demo-web-one (start-first): env VERSION: "v1" → "v2"`
fn write_replacement_head(f: &mut fmt::Formatter<'_>, r: &Replacement) -> fmt::Result {
    let reasons: Vec<&str> = r.reasons.iter().map(|r| r.text.as_str()).collect();
    write!(f, "replace {} ({}", r.container, r.order.as_str())?;
    if r.wave > 0 {
        write!(f, ", wave {}", r.wave + 1)?;
    }
    write!(f, "): {}", reasons.join("; "))
}

/// The sub-steps of a replacement and what happens on failure.
fn write_replacement_sequence(f: &mut fmt::Formatter<'_>, r: &Replacement) -> fmt::Result {
    let pad = "     ";
    if r.spec.placement.is_some() {
        return write_service_update(f, r);
    }
    let (c, a) = (&r.container, &r.aside);
    let wait = format!("wait until UP ({}s)", r.timeout_s);
    let remove = format!("remove {a} (withdrawn from the DNS, drained, stopped)");
    let then = match (r.resume, r.order) {
        (true, _) => format!("{wait}; {remove}"),
        (false, UpdateOrder::StartFirst) => {
            format!("rename {c} → {a} (it keeps serving); run the new {c}; {wait}; {remove}")
        }
        (false, UpdateOrder::StopFirst) => {
            format!("stop {c}, rename it {a}; run the new {c}; {wait}; {remove}")
        }
    };
    writeln!(f, "{pad}then       {then}")?;
    let on_failure = if !r.rollback {
        format!("keep the new {c} for debugging (--no-rollback); {a} stays aside")
    } else {
        let restart = if r.order == UpdateOrder::StopFirst {
            " and start it"
        } else {
            ""
        };
        format!("remove the new {c}; rename {a} back{restart} (the roll-out stops)")
    };
    writeln!(f, "{pad}on failure {on_failure}")
}

/// On a swarm, a replacement is an update of the instance's service: Swarm runs the sequence.
fn write_service_update(f: &mut fmt::Formatter<'_>, r: &Replacement) -> fmt::Result {
    let pad = "     ";
    let c = &r.container;
    let first = match r.order {
        UpdateOrder::StartFirst => "start the new task (the old one keeps serving)",
        UpdateOrder::StopFirst => "stop the old task, start the new one",
    };
    writeln!(
        f,
        "{pad}then       update service {c}: {first}; wait until UP ({}s); the old task is withdrawn from the DNS, drained, stopped",
        r.timeout_s
    )?;
    let on_failure = if r.rollback {
        "the swarm rolls the service back to its previous spec (the roll-out stops; dops fails)"
    } else {
        "the update pauses with the new task kept for debugging (--no-rollback)"
    };
    writeln!(f, "{pad}on failure {on_failure}")
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::EnsureNetwork { name, .. } => write!(f, "create network {name}"),
            Step::Build(b) => {
                write!(f, "build {}", b.image)?;
                if b.builtin {
                    write!(f, " (built-in)")?;
                } else {
                    write!(f, " from {}", b.context.display())?;
                }
                if !b.parents.is_empty() {
                    write!(f, " after {}", b.parents.join(", "))?;
                }
                if b.no_cache {
                    write!(f, " [no cache]")?;
                }
                Ok(())
            }
            Step::Run(s) => write!(f, "run {} ({}, type {})", s.name, s.image, s.instance_type),
            Step::Keep { container, note } => match note {
                Some(n) => write!(f, "keep {container} ({n})"),
                None => write!(f, "keep {container} (up to date)"),
            },
            Step::Replace(r) => write_replacement_head(f, r),
            Step::Restore {
                container,
                aside,
                remove_current,
                start,
            } => {
                write!(
                    f,
                    "restore {container} from {aside} (a roll-out was interrupted): "
                )?;
                if *remove_current {
                    write!(f, "remove {container}, ")?;
                }
                write!(f, "rename {aside} back")?;
                if *start {
                    write!(f, ", start it")?;
                }
                Ok(())
            }
            Step::WaitFor {
                containers,
                condition,
                timeout_s,
            } => {
                let what = match condition {
                    Condition::Started => "started",
                    Condition::Up => "UP",
                    Condition::Completed => "completed (exit 0)",
                };
                write!(
                    f,
                    "wait until {} {} {what} (timeout {timeout_s}s)",
                    containers.join(", "),
                    if containers.len() == 1 { "is" } else { "are" }
                )
            }
            Step::Remove {
                container,
                stop_timeout_s,
            } => write!(f, "remove {container} (stop timeout {stop_timeout_s}s)"),
            Step::PurgeData {
                container, path, ..
            } => {
                write!(f, "purge data of {container}: {}", path.display())
            }
            Step::RemoveNetwork { name } => write!(f, "remove network {name}"),
            Step::Sleep { seconds } => write!(f, "sleep {seconds}s"),
            Step::PurgeVolumes {
                container,
                node,
                volumes,
                ..
            } => write!(
                f,
                "purge data of {container}: its volumes on node {node} ({})",
                volumes.join(", ")
            ),
            Step::Pin {
                container,
                node,
                label,
            } => write!(
                f,
                "pin {container} to node {node} (its data will live there; node label {label})"
            ),
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return writeln!(f, "plan for project {}: nothing to do", self.project);
        }
        let n = self.steps.len();
        writeln!(
            f,
            "plan for project {}: {n} step{}",
            self.project,
            if n == 1 { "" } else { "s" }
        )?;
        let w = n.to_string().len();
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "{:>w$}. {step}", i + 1)?;
            match step {
                Step::Run(spec) => write_spec(f, spec)?,
                Step::Replace(r) => {
                    write_replacement_sequence(f, r)?;
                    write_spec(f, &r.spec)?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}
