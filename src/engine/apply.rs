//! Executing a plan: one step = one (or a few) Docker API calls, no decisions.
//!
//! - `EnsureNetwork`: create the project's bridge network unless it exists.
//! - `Build`: consecutive build steps go to `build::build_all` together (parallel where allowed).
//! - `Run`: resolve `EnvValue::IpOf`, prepare the host folders (seeding persistent ones from the
//!   image on first use, then marking them), create the container (env, binds, ports, labels,
//!   hostname, network, DNS, `/run/dops`), start it.
//! - `Remove`: graceful stop with the step's timeout, then remove. Persistent data is untouched.
//! - `PurgeData`: delete an instance's persistent folders (only ever planned for `--purge`).
//! - `RemoveNetwork`: only when no container is attached any more.
//! - `Replace`: a roll-out step (see `rollout`); replacements of one service in one wave go
//!   together, waves and services one after the other.
//! - `Restore`: put back an instance an interrupted roll-out left aside.
//! - `WaitFor`: wait for `depends_on` conditions (UP, completed).

use std::path::PathBuf;
use std::time::Duration;

use super::build::{build_all, BuildOptions, Built};
use super::connect::Engine;
use super::container::{remove_container, run_container};
use super::error::EngineError;
use super::progress::{Progress, Reporter};
use super::purge::purge_data;
use super::{network, rollout};
use crate::plan::{BuildStep, ContainerSpec, Plan, Replacement, Step};
use crate::project::env::EnvValue;

/// What `apply` needs besides the plan.
pub struct ApplyContext {
    /// The project folder (`.dops/run/<service>-<instance>` lives there).
    pub project_dir: PathBuf,
    pub build: BuildOptions,
    /// Where progress goes (one event per step done, the builds' progress).
    pub report: Reporter,
}

impl ApplyContext {
    /// Default build options, progress dropped.
    pub fn new(project_dir: impl Into<PathBuf>) -> ApplyContext {
        ApplyContext {
            project_dir: project_dir.into(),
            build: BuildOptions::default(),
            report: super::progress::quiet(),
        }
    }

    pub(super) fn done(&self, line: String) {
        (self.report)(Progress::Done(line));
    }
}

/// What a plan did.
#[derive(Debug, Default)]
pub struct Applied {
    pub built: Vec<Built>,
    /// Containers started, in order (interactive ones are only created: see `interactive`).
    pub started: Vec<String>,
    /// Interactive instances created and waiting for `exec::attach_and_start`.
    pub interactive: Vec<String>,
    /// Instances kept as they run.
    pub kept: Vec<String>,
    /// Instances replaced by a new container (UP).
    pub replaced: Vec<String>,
    pub removed: Vec<String>,
}

/// Execute every step of the plan, in order; stops at the first error.
pub async fn apply(
    engine: &Engine,
    plan: &Plan,
    ctx: &ApplyContext,
) -> Result<Applied, EngineError> {
    let mut applied = Applied::default();
    let mut i = 0;
    while i < plan.steps.len() {
        if let Step::Build(_) = &plan.steps[i] {
            let builds = builds_at(&plan.steps, &mut i);
            applied
                .built
                .extend(build_all(engine, &builds, &ctx.build, &ctx.report).await?);
            continue;
        }
        if let Step::Run(_) = &plan.steps[i] {
            // Consecutive runs start together, unless one needs the address of another started
            // in the same batch (a link or the DNS server): that one waits for the next batch.
            let mut batch: Vec<&ContainerSpec> = Vec::new();
            while let Some(Step::Run(spec)) = plan.steps.get(i) {
                let in_batch = |c: &String| batch.iter().any(|b| &b.name == c);
                let needs_batch_member = spec
                    .env
                    .iter()
                    .map(|v| &v.value)
                    .chain(spec.dns.iter().map(|d| &d.server))
                    .any(|v| matches!(v, EnvValue::IpOf(c) if in_batch(c)))
                    || spec.after.iter().any(in_batch);
                if needs_batch_member {
                    break;
                }
                batch.push(spec);
                i += 1;
            }
            run_batch(engine, &batch, ctx).await?;
            for spec in &batch {
                if spec.interactive {
                    applied.interactive.push(spec.name.clone());
                } else {
                    applied.started.push(spec.name.clone());
                }
            }
            continue;
        }
        if let Step::Remove { .. } = &plan.steps[i] {
            // Consecutive removals stop in parallel (each waits out its own grace period).
            let batch = removals_at(&plan.steps, &mut i);
            let results = in_parallel(batch.iter(), |(c, t)| remove_container(engine, c, *t)).await;
            for ((container, _), r) in batch.iter().zip(results) {
                if r? {
                    ctx.done(format!("removed {container}"));
                    applied.removed.push((*container).clone());
                }
            }
            continue;
        }
        if let Step::Replace(first) = &plan.steps[i] {
            // One wave of one service's roll-out: its replacements go together.
            let wave = wave_at(&plan.steps, first, &mut i);
            let results = futures_util::future::join_all(wave.iter().map(|r| {
                rollout::replace(engine, r, &plan.project, &ctx.project_dir, &ctx.report)
            }))
            .await;
            for (r, result) in wave.iter().zip(results) {
                result?;
                applied.replaced.push(r.container.clone());
            }
            continue;
        }
        match &plan.steps[i] {
            Step::EnsureNetwork { name, labels } => {
                if network::ensure_network(engine, name, labels).await? {
                    ctx.done(format!("created network {name}"));
                }
            }
            Step::Build(_) | Step::Run(_) | Step::Replace(_) => {}
            Step::Pin { container, .. } | Step::PurgeVolumes { container, .. } => {
                return Err(EngineError::Other(format!(
                    "{container}: a swarm plan (pin to a node) given to a local engine"
                )))
            }
            Step::Keep { container, note } => {
                ctx.done(match note {
                    Some(n) => format!("{container} kept ({n})"),
                    None => format!("{container} is up to date"),
                });
                applied.kept.push(container.clone());
            }
            Step::Restore {
                container,
                aside,
                remove_current,
                start,
            } => {
                if *remove_current {
                    remove_container(engine, container, 0).await?;
                }
                rollout::restore(engine, container, aside, *start).await?;
                ctx.done(format!(
                    "restored {container} from {aside} (a roll-out was interrupted)"
                ));
            }
            Step::WaitFor {
                containers,
                condition,
                timeout_s,
            } => {
                rollout::wait_for(
                    engine,
                    &plan.project,
                    containers,
                    *condition,
                    *timeout_s,
                    &ctx.report,
                )
                .await?;
            }
            Step::Remove { .. } => {}
            Step::PurgeData {
                container,
                path,
                data_root,
            } => {
                purge_data(path, data_root)?;
                ctx.done(format!(
                    "deleted the persistent data of {container} ({})",
                    path.display()
                ));
            }
            Step::RemoveNetwork { name } => {
                if network::remove_network_if_empty(engine, name).await? {
                    ctx.done(format!("removed network {name}"));
                }
            }
            Step::Sleep { seconds } => {
                if *seconds > 0.0 {
                    tokio::time::sleep(Duration::from_secs_f64(*seconds)).await;
                }
            }
        }
        i += 1;
    }
    Ok(applied)
}

/// The consecutive `Build` steps from `*i` on (built together, parents first); `*i` moves past
/// them.
pub(super) fn builds_at(steps: &[Step], i: &mut usize) -> Vec<BuildStep> {
    let mut builds = Vec::new();
    while let Some(Step::Build(b)) = steps.get(*i) {
        builds.push(b.clone());
        *i += 1;
    }
    builds
}

/// The consecutive `Remove` steps from `*i` on (container, stop timeout); `*i` moves past them.
pub(super) fn removals_at<'a>(steps: &'a [Step], i: &mut usize) -> Vec<(&'a String, u64)> {
    let mut batch = Vec::new();
    while let Some(Step::Remove {
        container,
        stop_timeout_s,
    }) = steps.get(*i)
    {
        batch.push((container, *stop_timeout_s));
        *i += 1;
    }
    batch
}

/// The replacements of `first`'s service and wave from `*i` on; `*i` moves past them.
pub(super) fn wave_at<'a>(
    steps: &'a [Step],
    first: &Replacement,
    i: &mut usize,
) -> Vec<&'a Replacement> {
    let mut wave = Vec::new();
    while let Some(Step::Replace(r)) = steps.get(*i) {
        if r.spec.service != first.spec.service || r.wave != first.wave {
            break;
        }
        wave.push(r.as_ref());
        *i += 1;
    }
    wave
}

/// How many containers are created and started (or removed) at once.
const PARALLEL_RUNS: usize = 64;

/// `f` of every item, up to `PARALLEL_RUNS` at once, each finished one making room for the next
/// (a slow container does not hold back those behind it); the results in the items' order.
async fn in_parallel<T, R, Fut: std::future::Future<Output = R>>(
    items: impl IntoIterator<Item = T>,
    mut f: impl FnMut(T) -> Fut,
) -> Vec<R> {
    use futures_util::stream::{self, StreamExt as _};
    let mut done: Vec<(usize, R)> = stream::iter(items.into_iter().enumerate().map(|(i, item)| {
        let run = f(item);
        async move { (i, run.await) }
    }))
    .buffer_unordered(PARALLEL_RUNS)
    .collect()
    .await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Start a batch of independent containers concurrently; progress lines in plan order.
async fn run_batch(
    engine: &Engine,
    batch: &[&ContainerSpec],
    ctx: &ApplyContext,
) -> Result<(), EngineError> {
    let results = in_parallel(batch.iter(), |spec| {
        run_container(engine, spec, &ctx.project_dir)
    })
    .await;
    let mut first_err = None;
    for (spec, r) in batch.iter().zip(results) {
        match r {
            Ok(()) if spec.interactive => ctx.done(format!("created {}", spec.name)),
            Ok(()) => ctx.done(format!("started {}", spec.name)),
            Err(e) => {
                ctx.done(format!("✗ {} failed to start", spec.name));
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
