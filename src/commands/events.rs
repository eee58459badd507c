//! `dops events[:<target>] [--since DURATION] [--json]`: the project's events as they happen,
//! one line each (or one JSON object per line), until Ctrl-C: the engine's container events, the
//! lifecycle transitions dops-init writes to its state file, the DNS registrations and
//! withdrawals, and roll-out steps. See `live` for where each comes from.

use super::session::Session;
use super::stop_signal::stop_signal;
use crate::action::{EventsAction, Target};
use crate::cli::UsageError;
use crate::live::{Declared, Event, Live, LiveError, LiveOptions, Source, Update};
use crate::output;
use crate::project::{EngineKind, Project};

/// `dops events` and `dops ui` follow one engine's containers and the state files dops-init
/// writes under this machine's `.dops/run/`: on a swarm, the tasks run on other nodes and write
/// there, so neither would see them. Refused (exit 2) rather than showing a partial picture.
pub fn refuse_on_swarm(s: &Session, verb: &str) -> anyhow::Result<()> {
    if s.engine_kind() == EngineKind::Swarm {
        return Err(UsageError::Other(format!(
            "dops {verb} is not available on a swarm: it follows one engine's containers and the state files dops-init writes on this machine, and a swarm's tasks run on other nodes\nhint: on a swarm, 'dops ps' shows each instance's state and node and 'dops logs' its output; 'docker service ps' on a manager shows the tasks' history"
        ))
        .into());
    }
    Ok(())
}

/// The declared instances of a project (run conf entries with an instance name).
pub fn declared(project: Option<&Project>) -> Vec<Declared> {
    let Some(p) = project else {
        return Vec::new();
    };
    p.entries
        .iter()
        .filter_map(|e| {
            let instance = e.instance.as_deref()?;
            Some(Declared {
                container: p.container_name(&e.service, instance),
                service: e.service.clone(),
                instance: instance.to_string(),
            })
        })
        .collect()
}

/// Is the event about an instance the target selects? (No target: every event.)
fn selected(target: Option<&Target>, project: Option<&Project>, e: &Event) -> bool {
    let Some(t) = target else { return true };
    if e.service.is_empty() {
        return false;
    }
    let instance = e
        .instance
        .strip_prefix(&format!("{}-", e.service))
        .unwrap_or(&e.instance);
    let group = project.and_then(|p| {
        p.entries
            .iter()
            .find(|x| x.service == e.service && x.instance.as_deref() == Some(instance))
            .and_then(|x| x.group.as_deref())
    });
    t.matches(&e.service, instance, group)
}

/// An engine error keeps its own type (its exit code: 3 when the engine went away).
pub fn live_error(e: LiveError) -> anyhow::Error {
    match e {
        LiveError::Engine(e) => e.into(),
        other => other.into(),
    }
}

pub fn execute(s: &Session, a: &EventsAction) -> anyhow::Result<i32> {
    refuse_on_swarm(s, "events")?;
    let name = s.project_name();
    let project = s.project().ok();
    let json = s.global.json;
    let show = |e: &Event| {
        if selected(a.target.as_ref(), project, e) {
            let line = if json { e.json_line() } else { e.line() };
            output::out(&format!("{line}\n"));
        }
    };
    s.block_on(async {
        let engine = s.engine().await?.clone();
        let since_ms = a
            .since
            .map(|d| crate::live::event::now_ms() - d.as_millis() as i64);
        let started = Live::start(
            Source::Engine(Box::new(engine)),
            LiveOptions {
                project: name.clone(),
                project_dir: s.dir().to_path_buf(),
                declared: declared(project),
                since_ms,
            },
        )
        .await
        .map_err(live_error)?;
        for e in &started.history {
            show(e);
        }
        // On stderr, with --json too: a script knows from it that nothing is missed from now.
        output::note(&format!(
            "dops events: following project {name} (times in UTC; Ctrl-C to stop)"
        ));
        let mut rx = started.updates;
        let stop = stop_signal();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                r = rx.recv() => match r {
                    Ok(Update::Event { event }) => show(&event),
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        output::warn(&format!("{n} updates were missed (the output is too slow)"))
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        }
        Ok(0)
    })
}
