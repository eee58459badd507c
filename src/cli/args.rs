//! The low-level command line, as clap describes it (what the user typed, conventional spelling).

use std::path::PathBuf;

use clap::{Arg, ArgMatches, Args, FromArgMatches, Parser, Subcommand};

use crate::project::props::Overrides;
use crate::suggest::parse_bool;

fn engine_kind(s: &str) -> Result<crate::project::EngineKind, String> {
    crate::project::EngineKind::parse(s).ok_or_else(|| "expected local or swarm".to_string())
}

fn bool_value(s: &str) -> Result<bool, String> {
    parse_bool(s)
}

// ---------------------------------------------------------------------------------------------
// The low-level command line (clap)
// ---------------------------------------------------------------------------------------------

/// dops: orchestrate whole Docker platforms (DockerOps syntax: `dops run:web,instance=two`).
#[derive(Debug, Parser)]
#[command(name = "dops", version, disable_help_subcommand = true)]
pub struct Cli {
    /// The project folder (default: the current folder).
    #[arg(long, global = true, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// The run conf: `run.conf` by default, NAME gives `NAME.conf`.
    #[arg(long, global = true, value_name = "NAME")]
    pub conf: Option<String>,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    pub json: bool,
    /// The engine: `local` (one Docker engine) or `swarm` (DOCKER_HOST names a manager);
    /// overrides host.conf `ENGINE`.
    #[arg(long, global = true, value_name = "KIND", value_parser = engine_kind)]
    pub engine: Option<crate::project::EngineKind>,
    /// More diagnostics (repeat for more); also DOPS_LOG.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub verb: Option<VerbCli>,
}

#[derive(Debug, Args)]
pub struct SelectCli {
    /// A service name (`*` wildcards), `all`, or `group=NAME`.
    pub target: Option<String>,
    /// The instance name (`*` wildcards).
    #[arg(long, value_name = "NAME")]
    pub instance: Option<String>,
    /// Only the run conf entries of this group.
    #[arg(long, value_name = "NAME")]
    pub group: Option<String>,
}

/// The instance properties as options, one per name in [`Overrides::NAMES`] (written by hand
/// rather than derived, so the options follow the property list).
#[derive(Debug, Default)]
pub struct PropsCli(pub Overrides);

impl FromArgMatches for PropsCli {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut props = Overrides::default();
        for name in Overrides::NAMES {
            if let Some(slot) = props.get_mut(name) {
                *slot = m.get_one::<bool>(name).copied();
            }
        }
        Ok(PropsCli(props))
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl Args for PropsCli {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        for name in Overrides::NAMES {
            cmd = cmd.arg(
                Arg::new(*name)
                    .long(name.replace('_', "-"))
                    .num_args(0..=1)
                    .require_equals(true)
                    .default_missing_value("true")
                    .value_parser(bool_value)
                    .value_name("BOOL"),
            );
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

#[derive(Debug, Args)]
pub struct RunCli {
    #[command(flatten)]
    pub select: SelectCli,
    /// standard, published, persistent, master or debug.
    #[arg(long, value_name = "TYPE")]
    pub instance_type: Option<String>,
    /// The instance properties (`--persistent-data[=BOOL]`, …), one option each.
    #[command(flatten)]
    pub props: PropsCli,
    /// Set a variable in the selected instances' environment (repeatable); wins over run.conf,
    /// the host environment and host.conf.
    #[arg(long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Replace instances that already run, changed or not (same as --force-recreate).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub replace: Option<bool>,
    /// Replace every selected instance, changed or not.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub force_recreate: Option<bool>,
    /// Keep instances that already run, even when they changed.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub no_recreate: Option<bool>,
    /// Also remove this project's containers that run.conf no longer declares.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub orphans: Option<bool>,
    /// Keep a replacement that failed (for debugging) instead of restoring the old instance.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub no_rollback: Option<bool>,
    /// Wait until every started instance is UP.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub wait: Option<bool>,
    /// Seconds to wait with --wait.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Print the plan, change nothing.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub dry_run: Option<bool>,
}

#[derive(Debug, Args)]
pub struct PlanCli {
    #[command(flatten)]
    pub run: RunCli,
    /// Which operation to plan: run (default), rerun, build or clean.
    #[arg(long, value_name = "VERB")]
    pub of: Option<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub purge: Option<bool>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub no_cache: Option<bool>,
}

#[derive(Debug, Args)]
pub struct BuildCli {
    /// A service name (`*` wildcards) or `all`.
    pub target: Option<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub no_cache: Option<bool>,
    /// Why this build happens (recorded in the image metadata).
    #[arg(long, value_name = "TEXT")]
    pub cause: Option<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub dry_run: Option<bool>,
}

#[derive(Debug, Args)]
pub struct CleanCli {
    #[command(flatten)]
    pub select: SelectCli,
    /// Also remove containers of services the project no longer has.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub orphans: Option<bool>,
    /// Also delete persistent data.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub purge: Option<bool>,
    /// Do not ask for confirmation.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub yes: Option<bool>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub dry_run: Option<bool>,
}

#[derive(Debug, Args)]
pub struct PsCli {
    #[command(flatten)]
    pub select: SelectCli,
    /// Include stopped containers.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub all: Option<bool>,
}

#[derive(Debug, Args)]
pub struct ShellCli {
    #[command(flatten)]
    pub select: SelectCli,
    /// The command to run instead of a shell (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsCli {
    #[command(flatten)]
    pub select: SelectCli,
    /// Follow the log.
    #[arg(short = 'f', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub follow: Option<bool>,
    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    pub tail: Option<usize>,
}

#[derive(Debug, Args)]
pub struct StatusCli {
    #[command(flatten)]
    pub select: SelectCli,
    /// Refresh until interrupted.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub watch: Option<bool>,
}

#[derive(Debug, Args)]
pub struct EventsCli {
    #[command(flatten)]
    pub select: SelectCli,
    /// First replay what happened in the last DURATION (30s, 5m, 2h, 1d).
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
}

#[derive(Debug, Args)]
pub struct UiCli {
    /// The port to serve on (default: a free one).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// The address to listen on (default 127.0.0.1; any other address is warned about).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Show only: no run, rerun or clean buttons, and the server refuses them.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub read_only: Option<bool>,
}

#[derive(Debug, Args)]
pub struct DemoCli {
    /// The folder (default: the current folder).
    pub dir: Option<PathBuf>,
    /// Overwrite existing files.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub force: Option<bool>,
}

#[derive(Debug, Args)]
pub struct DemoRunCli {
    #[command(flatten)]
    pub demo: DemoCli,
    /// The host port of the demo's site (default: 80, or a free one when 80 is taken).
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
}

#[derive(Debug, Subcommand)]
pub enum DnsCli {
    /// Run the DNS server (what the dops-dns container runs).
    Serve {
        /// ADDR:PORT to listen on (repeatable).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Vec<String>,
        #[arg(long, value_name = "ZONE")]
        zone: Option<String>,
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<u32>,
        #[arg(long, value_name = "SECONDS")]
        lease: Option<u64>,
        /// Upstream resolver for names outside the zone (repeatable).
        #[arg(long, value_name = "ADDR:PORT")]
        upstream: Vec<String>,
    },
    /// List the records the project's DNS holds.
    Records {
        #[arg(long, value_name = "ADDR:PORT")]
        server: Option<String>,
        #[arg(long, value_name = "ZONE")]
        zone: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCli {
    /// Make a dops project from a Compose file.
    Compose {
        /// The Compose file (default: compose.yaml, compose.yml, docker-compose.yaml or
        /// docker-compose.yml in the current folder).
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        /// The project folder to make (default: beside the file, named after the Compose project).
        #[arg(long, value_name = "DIR")]
        into: Option<PathBuf>,
        /// Write into a folder that already has files (they are overwritten).
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
        force: Option<bool>,
        /// Fail (exit 2, nothing written) when anything does not carry over.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
        strict: Option<bool>,
    },
}

#[derive(Debug, Subcommand)]
pub enum VerbCli {
    /// Build service images (parents first).
    Build(BuildCli),
    /// Run instances.
    Run(RunCli),
    /// Remove and run again.
    Rerun(RunCli),
    /// Stop and remove instances (data is kept unless --purge).
    Clean(CleanCli),
    /// List the project's instances.
    Ps(PsCli),
    /// Show what run (or --of build/clean/rerun) would do.
    Plan(PlanCli),
    /// Run every instance of run.conf (run:all), converging what runs to what is declared.
    Up(RunCli),
    /// A shell (or a command after `--`) inside an instance.
    #[command(alias = "ssh")]
    Shell(ShellCli),
    /// An instance's output.
    Logs(LogsCli),
    /// Details about instances.
    Info(SelectCli),
    /// The IP address of an instance.
    Getip(SelectCli),
    /// Image metadata of instances.
    Examine(SelectCli),
    /// Run the validate method of instances.
    Validate(SelectCli),
    /// Run the update method of instances.
    Update(SelectCli),
    /// The lifecycle state of instances.
    Status(StatusCli),
    /// The project's events, live: the engine's, lifecycles, DNS, roll-outs.
    Events(EventsCli),
    /// A dashboard in the browser, served on 127.0.0.1.
    Ui(UiCli),
    /// Install the demo project into a folder.
    #[command(name = "install_demo", alias = "install-demo")]
    InstallDemo(DemoCli),
    /// Install, build and run the demo.
    Demo(DemoRunCli),
    /// The project's DNS.
    #[command(subcommand)]
    Dns(DnsCli),
    /// Make a dops project from another tool's files.
    #[command(subcommand)]
    Import(ImportCli),
    /// Print the shell completion script (bash, zsh or fish): verbs, options, and the project's
    /// services, instances and groups.
    Completions {
        /// bash, zsh or fish.
        #[arg(value_parser = ["bash", "zsh", "fish"])]
        shell: String,
    },
    /// A swarm's nodes, their labels and the project's instances on each.
    Nodes,
}

/// Every verb name the user may type (aliases included).
pub const VERBS: &[&str] = &[
    "build",
    "run",
    "rerun",
    "clean",
    "ps",
    "plan",
    "up",
    "shell",
    "ssh",
    "logs",
    "info",
    "getip",
    "examine",
    "validate",
    "update",
    "status",
    "events",
    "ui",
    "install_demo",
    "install-demo",
    "demo",
    "dns",
    "import",
    "completions",
    "nodes",
];

pub(super) const GLOBAL_VALUE_OPTS: &[&str] = &["--project", "--conf", "--engine"];
