//! The planner's inputs from outside the project files, its outcome and its errors, and the small
//! facts every planner uses (labels, the data folder, "nothing matches").

use std::path::PathBuf;

use super::step::{Labels, Plan};
use crate::action::Target;
use crate::labels;
use crate::observed::Observed;
use crate::project::env::HostContext;
use crate::project::{EngineKind, EnvError, Project};

/// How long the engine waits for an instance to stop before it kills it.
pub const STOP_TIMEOUT_S: u64 = 10;

/// Inputs of the planner that come from outside the project files (captured by the command layer).
#[derive(Debug, Clone, Default)]
pub struct PlanContext {
    pub host: HostContext,
    /// `DNS_KEY` (`hmac-sha256:<name>:<base64>`), loaded by the command layer; the planner never
    /// creates one. None: DNS_KEY is left out (with a warning).
    pub dns_key: Option<String>,
    /// Seed for random instance names.
    pub seed: u64,
    /// The engine the plan is for (`--engine`, host.conf `ENGINE`).
    pub engine: EngineKind,
}

/// A plan and what the user should be told about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub plan: Plan,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Env(#[from] EnvError),
    #[error("{instance}: link {link}: no instance matches, running or planned (run it first, or set \"linked\": false)")]
    LinkNotFound { instance: String, link: String },
    #[error("nothing in {conf} or services/ matches '{target}'{hint}")]
    NoMatch {
        target: String,
        conf: String,
        hint: String,
    },
    #[error("run:all does not start interactive instances: {instance} is interactive (type {instance_type}); run it alone with 'dops run:{service},instance={name}' or give it \"autorun\": false")]
    Interactive {
        instance: String,
        instance_type: String,
        service: String,
        name: String,
    },
    #[error("{file}: line {line}: [{index}]: these instances wait for each other: {chain} (through links or depends_on)\nhint: drop one link or dependency of the cycle")]
    Cycle {
        file: String,
        line: usize,
        index: usize,
        chain: String,
    },
    #[error("{instance}: update_order start-first can't work: {why}\nhint: use \"update_order\": \"stop-first\" (the default there)")]
    StartFirst { instance: String, why: String },
    #[error("{instance}: {name} (from {origin}): {why}")]
    BadValue {
        instance: String,
        name: String,
        origin: String,
        why: String,
    },
    #[error("refusing to purge the data of {container}: {why}; nothing was deleted")]
    UnsafePurge { container: String, why: String },
    #[error("{instance}: on a swarm dops can't honour {what}\nhint: {hint}")]
    Swarm {
        instance: String,
        what: String,
        hint: String,
    },
    #[error("{instance}: {why}\nhint: {hint}")]
    Placement {
        instance: String,
        why: String,
        hint: String,
    },
    #[error("'{verb}' has no plan (plans exist for run, rerun, build and clean)")]
    NotPlannable { verb: String },
}

pub(super) fn image_present(observed: &Observed, image: &str) -> bool {
    observed.images.contains_key(image) || observed.images.contains_key(&format!("{image}:latest"))
}

pub(super) fn labels_for(project: &str, service: &str, instance: Option<(&str, &str)>) -> Labels {
    let mut l = Labels::new();
    l.insert(labels::PROJECT.into(), project.into());
    l.insert(labels::SERVICE.into(), service.into());
    if let Some((i, t)) = instance {
        l.insert(labels::INSTANCE.into(), i.into());
        l.insert(labels::INSTANCE_TYPE.into(), t.into());
    }
    l
}

/// Where persistent folders live: `DATA_DIR` (host env, then host.conf; relative = to the project)
/// or `<project>/data`.
pub fn data_root(project: &Project, host: &HostContext) -> PathBuf {
    let configured = host
        .env
        .get("DATA_DIR")
        .map(String::as_str)
        .or_else(|| project.host_conf.get("DATA_DIR"));
    match configured {
        Some(d) if !d.is_empty() => project.dir.join(d),
        _ => project.dir.join("data"),
    }
}

pub(super) fn no_match(project: &Project, target: &Target) -> PlanError {
    let known: Vec<&str> = project.services.keys().map(String::as_str).collect();
    let hint = match target.literal_service() {
        Some(s) => match crate::suggest::closest(s, known.iter().copied()) {
            Some(c) => format!(" (did you mean '{c}'?)"),
            None if known.is_empty() => " (services/ is empty)".to_string(),
            None => format!(" (services: {})", known.join(", ")),
        },
        None => String::new(),
    };
    PlanError::NoMatch {
        target: target.to_string(),
        conf: project.conf_file.clone(),
        hint,
    }
}
