//! `dops ui [--port PORT] [--bind ADDR] [--read-only]`: the dashboard of the project, served on
//! 127.0.0.1 until Ctrl-C. Prints the address to open (it carries the token).
//!
//! The buttons run the same plan and engine calls as `dops run`, `rerun` and `clean` (without
//! `--purge`, ever), under the project lock; the engine's progress shows as events.

use anyhow::Context;

use super::events::{declared, live_error, refuse_on_swarm};
use super::session::{Session, LOCK_WAIT};
use super::stop_signal::stop_signal;
use crate::action::{Action, CleanAction, Overrides, Recreate, RunAction, Target, UiAction};
use crate::engine::{self, ApplyContext, BuildOptions, Engine, ProjectLock, Reporter};
use crate::live::{Live, LiveOptions, Source};
use crate::output;
use crate::plan::{self, PlanContext};
use crate::project::{EngineKind, HostContext, Project};
use crate::tsig_key;
use crate::ui::{self, ActionRequest, Job, UiOptions, Verb};

/// The dashboard's actions, carried out in this process.
struct Runner {
    project: Project,
    engine: Engine,
    host: HostContext,
}

/// The action a dashboard request means.
fn action_of(req: &ActionRequest) -> Action {
    let target = Target::Select {
        service: req.service.clone(),
        instance: Some(req.instance.clone()),
    };
    let run = |recreate| RunAction {
        target: target.clone(),
        overrides: Overrides::default(),
        recreate,
        orphans: false,
        rollback: true,
        wait: false,
        timeout_s: None,
        dry_run: false,
    };
    match req.verb {
        Verb::Run => Action::Run(run(Recreate::Changed)),
        Verb::Rerun => Action::Rerun(run(Recreate::Always)),
        // Never a purge: the dashboard does not delete data.
        Verb::Clean => Action::Clean(CleanAction {
            target,
            orphans: false,
            purge: false,
            yes: false,
            dry_run: false,
        }),
    }
}

impl Runner {
    async fn act(&self, req: ActionRequest, report: Reporter) -> Result<(), String> {
        let action = action_of(&req);
        let dir = self.project.dir.clone();
        let held =
            tokio::task::spawn_blocking(move || ProjectLock::acquire(&dir, LOCK_WAIT, |_| {}))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
        let observed = engine::observe(&self.engine, &self.project.name)
            .await
            .map_err(|e| e.to_string())?;
        let ctx = PlanContext {
            host: self.host.clone(),
            dns_key: tsig_key::load_or_create(&self.project.dir)
                .ok()
                .map(|k| k.to_env()),
            seed: rand::random(),
            // `dops ui` refuses a swarm: its plans are for the one engine it watches.
            engine: EngineKind::Local,
        };
        let planned =
            plan::plan(&self.project, &observed, &action, &ctx).map_err(|e| e.to_string())?;
        for w in &planned.warnings {
            report(engine::Progress::Done(format!("warning: {w}")));
        }
        let apply = ApplyContext {
            project_dir: self.project.dir.clone(),
            build: BuildOptions::default(),
            report,
        };
        engine::apply(&self.engine, &planned.plan, &apply)
            .await
            .map_err(|e| e.to_string())?;
        drop(held);
        Ok(())
    }
}

pub fn execute(s: &Session, a: &UiAction) -> anyhow::Result<i32> {
    refuse_on_swarm(s, "ui")?;
    let name = s.project_name();
    let project = match s.project() {
        Ok(p) => Some(p.clone()),
        Err(e) => {
            output::warn(&format!(
                "the project does not load, the dashboard only shows: {e}"
            ));
            None
        }
    };
    s.block_on(async {
        let engine = s.engine().await?.clone();
        let started = Live::start(
            Source::Engine(Box::new(engine.clone())),
            LiveOptions {
                project: name.clone(),
                project_dir: s.dir().to_path_buf(),
                declared: declared(project.as_ref()),
                since_ms: Some(crate::live::event::now_ms() - 10 * 60 * 1000),
            },
        )
        .await
        .map_err(live_error)?;
        let bound = ui::bind(&UiOptions {
            bind: a.bind,
            port: a.port,
            read_only: a.read_only,
        })
        .await
        .with_context(|| format!("cannot listen on {}:{}", a.bind, a.port))?;
        if !a.bind.is_loopback() {
            output::warn(&format!(
                "dops ui listens on {}: anyone who can reach it and has the address (its token) sees the platform{}; the traffic is plain HTTP",
                bound.addr,
                if a.read_only { "" } else { " and can run, rerun and clean its instances" }
            ));
        }
        let runner = match project {
            Some(project) if !a.read_only => Some(Runner {
                project,
                engine: engine.clone(),
                host: s.host(),
            }),
            _ => None,
        };
        let (jobs, mut todo) = tokio::sync::mpsc::channel::<Job>(1);
        if s.global.json {
            output::json(&serde_json::json!({
                "url": bound.url(),
                "address": bound.addr.to_string(),
                "project": name,
                "read_only": runner.is_none(),
            }));
        } else {
            output::out(&format!("{}\n", bound.url()));
            output::note(&format!(
                "dops ui: project {name} on {} (open the address above; Ctrl-C to stop)",
                bound.addr
            ));
        }
        drop(started.updates);
        let actions = runner.is_some().then_some(jobs);
        // The jobs run here, on the command's task, one at a time.
        let work = async {
            while let Some(job) = todo.recv().await {
                let outcome = match &runner {
                    Some(r) => r.act(job.req, job.report).await,
                    None => Err("read-only".to_string()),
                };
                let _ = job.done.send(outcome);
            }
        };
        tokio::select! {
            r = bound.serve(started.live, Some(engine), actions, stop_signal()) => {
                r.context("the dashboard's server failed")?;
            }
            _ = work, if runner.is_some() => {}
        }
        Ok(0)
    })
}
