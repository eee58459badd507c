//! What the program runs with: the resolved form of a command line (ripgrep's "high-level" args).
//!
//! `cli::parse` turns what the user typed (either `dops run:web,instance=two,persistent_data=True`
//! or `dops run web --instance two --persistent-data`) into an [`Invocation`]. Everything here is
//! validated: targets are resolved to [`Target`], booleans are booleans, the run conf file name is
//! final. No clap types leak out of `cli`.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

pub use crate::project::instance::Overrides;
pub use crate::wildcard::wildcard_match;

/// One command line, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invocation {
    pub global: GlobalOpts,
    pub action: Action,
}

/// Options valid for every verb.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GlobalOpts {
    /// `--project DIR`; None = the current folder.
    pub project_dir: Option<PathBuf>,
    /// The run conf file name: `run.conf` by default; `--conf NAME` gives `NAME.conf` (or `NAME`
    /// when it already ends in `.conf`).
    pub conf: String,
    /// `--json`: machine-readable output.
    pub json: bool,
    /// `-v` count (0 = warnings only, 1 = info, 2 = debug, 3+ = trace).
    pub verbose: u8,
    /// `--engine`: overrides host.conf `ENGINE`.
    pub engine: Option<crate::project::EngineKind>,
}

impl Default for GlobalOpts {
    fn default() -> Self {
        GlobalOpts {
            project_dir: None,
            conf: "run.conf".to_string(),
            json: false,
            verbose: 0,
            engine: None,
        }
    }
}

/// Which instances a verb acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// `all`: every instance of the run conf (or every service, for build).
    All,
    /// `group=NAME`: the run conf entries of that group.
    Group { name: String },
    /// A service name or pattern (`*` wildcards), optionally one instance name or pattern.
    Select {
        service: String,
        instance: Option<String>,
    },
}

impl Target {
    /// Does this target select the given service/instance? (`All` selects everything.)
    pub fn matches(&self, service: &str, instance: &str, group: Option<&str>) -> bool {
        match self {
            Target::All => true,
            Target::Group { name } => group == Some(name.as_str()),
            Target::Select {
                service: s,
                instance: i,
            } => {
                wildcard_match(s, service)
                    && i.as_deref().is_none_or(|i| wildcard_match(i, instance))
            }
        }
    }

    /// The service part when it is a plain name (no wildcard).
    pub fn literal_service(&self) -> Option<&str> {
        match self {
            Target::Select { service, .. } if !service.contains('*') => Some(service),
            _ => None,
        }
    }

    pub fn instance(&self) -> Option<&str> {
        match self {
            Target::Select { instance, .. } => instance.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::All => write!(f, "all"),
            Target::Group { name } => write!(f, "group={name}"),
            Target::Select {
                service,
                instance: None,
            } => write!(f, "{service}"),
            Target::Select {
                service,
                instance: Some(i),
            } => write!(f, "{service},instance={i}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildAction {
    pub target: Target,
    pub no_cache: bool,
    /// `--cause TEXT`: why this build happens (recorded in the image metadata).
    pub cause: Option<String>,
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunAction {
    pub target: Target,
    pub overrides: Overrides,
    /// What happens to instances that already run.
    pub recreate: Recreate,
    /// Also remove the project's containers that run.conf no longer declares (`--orphans`).
    pub orphans: bool,
    /// Roll a failed replacement back (default); `--no-rollback` keeps the failed one.
    pub rollback: bool,
    /// Wait until every started instance reports UP.
    pub wait: bool,
    /// `--timeout SECONDS`: for `--wait`, and for each replaced instance to reach UP (120 s).
    pub timeout_s: Option<u64>,
    pub dry_run: bool,
}

/// What `run` does with an instance that already runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Recreate {
    /// Replace it when it drifted from what is declared (the default).
    Changed,
    /// Keep whatever runs (`--no-recreate`).
    Never,
    /// Replace it anyway (`--force-recreate`, `--replace`, `rerun`).
    Always,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CleanAction {
    pub target: Target,
    /// Also remove containers of services the project no longer has.
    pub orphans: bool,
    /// Also delete persistent data folders.
    pub purge: bool,
    /// Do not ask before purging.
    pub yes: bool,
    pub dry_run: bool,
}

/// Which operation `dops plan` shows (default: run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanOf {
    Run,
    Rerun,
    Build,
    Clean,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanAction {
    pub of: PlanOf,
    pub run: RunAction,
    pub orphans: bool,
    pub purge: bool,
    pub no_cache: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShellAction {
    pub target: Target,
    /// The command after `--`; empty = an interactive shell.
    pub command: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogsAction {
    pub target: Target,
    pub follow: bool,
    pub tail: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PsAction {
    /// None = every instance of the project.
    pub target: Option<Target>,
    /// Include stopped containers.
    pub all: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusAction {
    pub target: Option<Target>,
    pub watch: bool,
}

/// `dops events`: the project's events, live.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventsAction {
    /// None = every instance.
    pub target: Option<Target>,
    /// `--since DURATION`: replay what happened in that much time first.
    pub since: Option<std::time::Duration>,
}

/// `dops ui`: the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UiAction {
    /// `--bind ADDR`: 127.0.0.1 unless asked (anything else is warned about).
    pub bind: std::net::IpAddr,
    /// `--port PORT`; 0 = a free one.
    pub port: u16,
    /// `--read-only`: no actions.
    pub read_only: bool,
}

/// Verbs that only need (optionally) a target: info, getip, examine, validate, update.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetAction {
    pub target: Option<Target>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoAction {
    /// Where to install or run the demo; None = the current folder.
    pub dir: Option<PathBuf>,
    pub force: bool,
    /// `dops demo --port PORT`: the site's host port.
    pub port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "sub", rename_all = "snake_case")]
pub enum DnsAction {
    /// `dops dns serve`: run the DNS server (what the dops-dns container runs).
    Serve {
        /// `--listen ADDR:PORT` (repeatable); empty = the server's default.
        listen: Vec<String>,
        zone: Option<String>,
        ttl: Option<u32>,
        lease: Option<u64>,
        upstream: Vec<String>,
    },
    /// `dops dns records`: list what the project's DNS holds.
    Records {
        server: Option<String>,
        zone: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "sub", rename_all = "snake_case")]
pub enum ImportAction {
    /// `dops import compose`: a Compose file → a dops project.
    Compose {
        /// `--file PATH`; None = Compose's own lookup in the current folder.
        file: Option<PathBuf>,
        /// `--into DIR`; None = beside the file, named after the Compose project.
        into: Option<PathBuf>,
        /// Write into a folder that already has files.
        force: bool,
        /// Any finding is an error.
        strict: bool,
    },
}

/// `dops completions SHELL`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompletionsAction {
    /// bash, zsh or fish.
    pub shell: String,
}

/// A verb with everything it needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verb", rename_all = "snake_case")]
pub enum Action {
    Build(BuildAction),
    Run(RunAction),
    Rerun(RunAction),
    Clean(CleanAction),
    Ps(PsAction),
    Plan(PlanAction),
    /// `up`: `run:all` (Compose's spelling); the same options.
    Up(RunAction),
    Shell(ShellAction),
    Logs(LogsAction),
    Info(TargetAction),
    Getip(TargetAction),
    Examine(TargetAction),
    Validate(TargetAction),
    Update(TargetAction),
    Status(StatusAction),
    Events(EventsAction),
    Ui(UiAction),
    InstallDemo(DemoAction),
    Demo(DemoAction),
    Dns(DnsAction),
    Import(ImportAction),
    Completions(CompletionsAction),
    /// `nodes`: a swarm's nodes.
    Nodes,
}

impl Action {
    /// The verb as the user spells it.
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Build(_) => "build",
            Action::Run(_) => "run",
            Action::Rerun(_) => "rerun",
            Action::Clean(_) => "clean",
            Action::Ps(_) => "ps",
            Action::Plan(_) => "plan",
            Action::Up(_) => "up",
            Action::Shell(_) => "shell",
            Action::Logs(_) => "logs",
            Action::Info(_) => "info",
            Action::Getip(_) => "getip",
            Action::Examine(_) => "examine",
            Action::Validate(_) => "validate",
            Action::Update(_) => "update",
            Action::Status(_) => "status",
            Action::Events(_) => "events",
            Action::Ui(_) => "ui",
            Action::InstallDemo(_) => "install_demo",
            Action::Demo(_) => "demo",
            Action::Dns(_) => "dns",
            Action::Import(_) => "import",
            Action::Completions(_) => "completions",
            Action::Nodes => "nodes",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_matching() {
        let t = Target::Select {
            service: "post*".into(),
            instance: Some("m*".into()),
        };
        assert!(t.matches("postgres", "master", None));
        assert!(!t.matches("postgres", "one", None));
        assert!(!t.matches("web", "master", None));
        let g = Target::Group { name: "db".into() };
        assert!(g.matches("x", "y", Some("db")));
        assert!(!g.matches("x", "y", None));
        assert!(Target::All.matches("x", "y", None));
        assert_eq!(t.literal_service(), None);
    }
}
