//! The high-level context of one command (ripgrep's "high args"), built once at the edge from the
//! checked invocation: the canonical project folder, its name (honouring `--conf`), the host
//! context, the DNS key, the engine connection and its observed state. Verbs take a `&Session`
//! instead of each redoing the same set-up.
//!
//! Everything that may fail or cost something (loading the project, connecting to the engine) is
//! done on first use and kept: `ps --all` never loads a project, `plan` never needs an engine.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context;
use tokio::sync::OnceCell;

use crate::action::{GlobalOpts, Invocation};
use crate::engine::apply::Applied;
use crate::engine::swarm::Swarm;
use crate::engine::{self, ApplyContext, BuildOptions, Engine, ProjectLock, Reporter};
use crate::observed::Observed;
use crate::output;
use crate::plan::PlanContext;
use crate::project::{self, EngineKind, HostContext, Project};
use crate::tsig_key;

/// How long a command waits for another dops command on the same project.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

pub struct Session {
    pub global: GlobalOpts,
    /// `--project DIR` or the current folder, canonical.
    dir: PathBuf,
    project: OnceLock<Result<Project, NotLoaded>>,
    engine: OnceCell<Engine>,
    /// The engine of the listing verbs, not negotiated up front (`engine::connect_for_listing`).
    lister: OnceCell<Engine>,
    swarm: OnceCell<Swarm>,
    /// Always Some until the session is dropped.
    rt: Option<tokio::runtime::Runtime>,
}

/// The project could not be loaded: its error, rendered once and handed to every verb that
/// needs the project (bad configuration: exit code 2).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NotLoaded(String);

impl Session {
    /// The session of an invocation. The project folder must exist; nothing else is read yet.
    pub fn new(global: &GlobalOpts) -> anyhow::Result<Session> {
        let dir = match &global.project_dir {
            Some(d) => d.clone(),
            None => std::env::current_dir().context("cannot read the current folder")?,
        };
        let dir = std::fs::canonicalize(&dir)
            .with_context(|| format!("project folder {} not found", dir.display()))?;
        // The commands are I/O bound and start fast on one thread.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        Ok(Session {
            global: global.clone(),
            dir,
            project: OnceLock::new(),
            engine: OnceCell::new(),
            lister: OnceCell::new(),
            swarm: OnceCell::new(),
            rt: Some(rt),
        })
    }

    pub fn of(inv: &Invocation) -> anyhow::Result<Session> {
        Session::new(&inv.global)
    }

    /// The canonical project folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The project, loaded (and validated) once with the run conf `--conf` names.
    pub fn project(&self) -> anyhow::Result<&Project> {
        self.project
            .get_or_init(|| {
                project::load(&self.dir, &self.global.conf).map_err(|e| NotLoaded(e.to_string()))
            })
            .as_ref()
            .map_err(|e| e.clone().into())
    }

    /// The project name: the loaded project's (host.conf `PROJECT` honoured, with `--conf`), else
    /// the folder's name, so the engine-only verbs work in a folder that does not load.
    pub fn project_name(&self) -> String {
        match self.project() {
            Ok(p) => p.name.clone(),
            Err(_) => project::name_from_dir(&self.dir).unwrap_or_else(|| "dops".into()),
        }
    }

    /// What the planner needs to know about the host: the environment, the hostname, and each
    /// interface's first IPv4 address (for `from_<iface>` values).
    /// Variables that are not UTF-8 never panic: they are set aside, and an error only if an
    /// instance's environment would take one (see `project::env`).
    pub fn host(&self) -> HostContext {
        let env = crate::host_env::Snapshot::capture();
        HostContext {
            env: env.vars,
            env_not_utf8: env.not_utf8,
            hostname: nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            interfaces: crate::local_addr::interfaces(),
        }
    }

    /// The engine kind: `--engine`, else host.conf `ENGINE`, else local.
    pub fn engine_kind(&self) -> EngineKind {
        self.global.engine.unwrap_or_else(|| match self.project() {
            Ok(p) => p.host_conf.engine.kind,
            Err(_) => EngineKind::Local,
        })
    }

    /// The planner's context for this command.
    pub fn plan_context(&self, dns_key: Option<String>, seed: u64) -> PlanContext {
        PlanContext {
            host: self.host(),
            dns_key,
            seed,
            engine: self.engine_kind(),
        }
    }

    /// The DNS key for a plan, without creating one (`DNS_KEY` form), when the project has one.
    pub fn dns_key_for_plan(&self) -> Option<String> {
        match tsig_key::load(&self.dir) {
            Ok(key) => key.map(|k| k.to_env()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot load the dns key");
                None
            }
        }
    }

    /// The DNS key for a real run: created on first use.
    pub fn dns_key_for_run(&self) -> Option<String> {
        match tsig_key::load_or_create(&self.dir) {
            Ok(k) => Some(k.to_env()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot load the dns key");
                self.dns_key_for_plan()
            }
        }
    }

    /// Run a future on the session's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt
            .as_ref()
            .expect("the runtime lives as long as the session")
            .block_on(f)
    }

    /// The engine, connected on first use.
    pub async fn engine(&self) -> anyhow::Result<&Engine> {
        Ok(self.engine.get_or_try_init(engine::connect).await?)
    }

    /// The engine for listing containers only (`ps`, `status`): the connected engine when the
    /// session has one, else one that skips the version round trip (see
    /// `engine::connect_for_listing`).
    pub async fn listing_engine(&self) -> anyhow::Result<&Engine> {
        if let Some(e) = self.engine.get() {
            return Ok(e);
        }
        Ok(self
            .lister
            .get_or_try_init(engine::connect_for_listing)
            .await?)
    }

    /// The swarm (`ENGINE` swarm), connected on first use.
    pub async fn swarm(&self) -> anyhow::Result<&Swarm> {
        let conf = match self.project() {
            Ok(p) => p.host_conf.engine.clone(),
            Err(_) => project::EngineConf::default(),
        };
        Ok(self
            .swarm
            .get_or_try_init(|| async move { Swarm::connect(&conf).await })
            .await?)
    }

    /// The engine images are built on (and read from): the swarm's build engine, or the engine.
    pub async fn image_engine(&self) -> anyhow::Result<&Engine> {
        match self.engine_kind() {
            EngineKind::Swarm => Ok(&self.swarm().await?.builder),
            EngineKind::Local => self.engine().await,
        }
    }

    /// What the engine holds for this project now.
    pub async fn observe(&self) -> anyhow::Result<Observed> {
        let name = self.project_name();
        match self.engine_kind() {
            EngineKind::Swarm => Ok(engine::swarm::observe(self.swarm().await?, &name).await?),
            EngineKind::Local => Ok(engine::observe(self.engine().await?, &name).await?),
        }
    }

    /// The project's containers alone (no network, no image, no node): what `ps` and `status`
    /// show, in one list call on a local engine.
    pub async fn observe_containers(&self) -> anyhow::Result<Observed> {
        let name = self.project_name();
        match self.engine_kind() {
            EngineKind::Swarm => self.observe().await,
            EngineKind::Local => {
                Ok(engine::observe_containers(self.listing_engine().await?, &name).await?)
            }
        }
    }

    /// Carry out a plan on the project's engine.
    pub async fn apply(&self, plan: &crate::plan::Plan) -> anyhow::Result<Applied> {
        let ctx = self.apply_context()?;
        match self.engine_kind() {
            EngineKind::Swarm => Ok(engine::swarm::apply(self.swarm().await?, plan, &ctx).await?),
            EngineKind::Local => Ok(engine::apply(self.engine().await?, plan, &ctx).await?),
        }
    }

    /// Wait until these instances are UP.
    pub async fn wait_up(
        &self,
        names: &[String],
        timeout: Option<std::time::Duration>,
    ) -> anyhow::Result<()> {
        let project = self.project_name();
        let report = self.reporter();
        match self.engine_kind() {
            EngineKind::Swarm => Ok(engine::swarm::wait::wait_up(
                self.swarm().await?,
                &project,
                names,
                timeout,
                &report,
            )
            .await?),
            EngineKind::Local => {
                Ok(
                    engine::wait::wait_up(self.engine().await?, &project, names, timeout, &report)
                        .await?,
                )
            }
        }
    }

    /// What the engine holds, for `dops plan` and `--dry-run`: the empty state (with a warning)
    /// when the engine cannot be asked. A project that does not load is reported by the plan.
    pub fn observe_for_plan(&self) -> Observed {
        let Ok(project) = self.project() else {
            return Observed::default();
        };
        let observed = self.block_on(async {
            match self.engine_kind() {
                EngineKind::Swarm => self.observe().await,
                EngineKind::Local => {
                    let images: Vec<String> =
                        project.services.keys().map(|s| project.image(s)).collect();
                    Ok(engine::observe_for_plan(
                        self.listing_engine().await?,
                        &project.name,
                        &images,
                    )
                    .await?)
                }
            }
        });
        match observed {
            Ok(o) => o,
            Err(e) => {
                output::warn(&format!(
                    "planning against an empty engine state ({})",
                    e.to_string().lines().next().unwrap_or_default()
                ));
                Observed::default()
            }
        }
    }

    /// Take the project lock, telling the user when another command holds it.
    pub fn lock(&self) -> anyhow::Result<ProjectLock> {
        Ok(ProjectLock::acquire(
            &self.project()?.dir,
            LOCK_WAIT,
            |pid| {
                output::note(&format!(
                    "waiting for another dops command (pid {pid}) working on this project…"
                ))
            },
        )?)
    }

    /// How the engine's progress is shown: bars on a terminal, lines otherwise.
    pub fn reporter(&self) -> Reporter {
        output::progress::reporter(self.global.verbose > 0)
    }

    /// The apply context of a command on this project.
    pub fn apply_context(&self) -> anyhow::Result<ApplyContext> {
        Ok(ApplyContext {
            project_dir: self.project()?.dir.clone(),
            build: BuildOptions {
                verbose: self.global.verbose > 0,
                ..BuildOptions::default()
            },
            report: self.reporter(),
        })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // A task may still be blocked in a read (the stdin thread of a shell): never wait for it.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}
