//! `build`: the selected services, and their parents whose image is missing, parents first.

use std::collections::BTreeSet;

use super::context::{image_present, labels_for, no_match, PlanError, Planned};
use super::step::{BuildStep, Plan, Step};
use crate::action::Target;
use crate::labels;
use crate::observed::Observed;
use crate::project::Project;
use crate::wildcard::wildcard_match;

pub(super) fn build_step(project: &Project, service: &str, no_cache: bool) -> Step {
    let svc = &project.services[service];
    let mut labels = labels_for(&project.name, service, None);
    if svc.builtin {
        labels.insert(labels::BUILTIN.into(), "true".into());
    }
    Step::Build(BuildStep {
        service: service.to_string(),
        image: project.image(service),
        context: svc.dir.clone(),
        parents: svc.parents.clone(),
        no_cache,
        labels,
        builtin: svc.builtin,
    })
}

/// `build`: the selected services (and parents whose image is missing), parents first.
/// `explicit`: a build verb (always builds the selection) rather than images missing for a run.
pub(super) fn plan_build(
    project: &Project,
    observed: &Observed,
    target: &Target,
    no_cache: bool,
    explicit: bool,
) -> Result<Planned, PlanError> {
    let selected: BTreeSet<String> = match target {
        Target::All => project.services.keys().cloned().collect(),
        Target::Group { name } => project
            .entries
            .iter()
            .filter(|e| e.group.as_deref() == Some(name.as_str()))
            .map(|e| e.service.clone())
            .collect(),
        Target::Select { service, .. } => project
            .services
            .keys()
            .filter(|s| wildcard_match(service, s))
            .cloned()
            .collect(),
    };
    if selected.is_empty() && !matches!(target, Target::All) {
        return Err(no_match(project, target));
    }
    let chain = crate::build_order::with_ancestors(&project.build_order, &project.graph, &selected);
    let steps = chain
        .iter()
        .filter(|s| {
            (explicit && selected.contains(*s)) || !image_present(observed, &project.image(s))
        })
        .map(|s| build_step(project, s, no_cache))
        .collect();
    Ok(Planned {
        plan: Plan {
            project: project.name.clone(),
            steps,
        },
        warnings: Vec::new(),
    })
}
