//! The `dops plan` / `--dry-run` text of a plan. Secrets (`DNS_KEY`) are always masked.

use std::fmt;

use super::step::{ContainerSpec, Plan, Step};
use crate::project::env::{EnvValue, EnvVar};

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
    if s.replace {
        flags.push("replace");
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
        writeln!(
            f,
            "{pad}{label}{} -> {}{extra}",
            m.host.display(),
            m.container
        )?;
    }
    if let Some(k) = &s.dns_key {
        let whose = match k.scope.as_str() {
            "project" => "the project key",
            _ => "its own names only",
        };
        writeln!(
            f,
            "{pad}dns key    {} -> {} (key {}: {whose}, mode 0400)",
            k.host.display(),
            k.container,
            k.key_name
        )?;
    }
    for (i, p) in s.ports.iter().enumerate() {
        let label = if i == 0 { "ports      " } else { "           " };
        let proto = p.protocol.as_str();
        writeln!(
            f,
            "{pad}{label}{}:{} -> {}/{proto}",
            p.host_ip, p.host_port, p.container_port
        )?;
    }
    let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    writeln!(f, "{pad}labels     {}", labels.join(" "))?;
    if let Some(d) = &s.dns {
        writeln!(f, "{pad}dns        server {} zone {}", d.server, d.zone)?;
    }
    if !s.extra_args.is_empty() {
        writeln!(f, "{pad}extra args {}", s.extra_args.join(" "))?;
    }
    Ok(())
}

fn value_len(v: &EnvVar) -> usize {
    match &v.value {
        EnvValue::Literal(l) => mask_secret(&v.name, l).chars().count(),
        other => other.to_string().chars().count(),
    }
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
            Step::AlreadyRunning { container } => write!(f, "keep {container} (already running)"),
            Step::Remove {
                container,
                stop_timeout_s,
            } => write!(f, "remove {container} (stop timeout {stop_timeout_s}s)"),
            Step::PurgeData { container, path } => {
                write!(f, "purge data of {container}: {}", path.display())
            }
            Step::RemoveNetwork { name } => write!(f, "remove network {name}"),
            Step::Sleep { seconds } => write!(f, "sleep {seconds}s"),
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
            if let Step::Run(spec) = step {
                write_spec(f, spec)?;
            }
        }
        Ok(())
    }
}
