//! `dops build:<svc> | build:all [--no-cache] [-v]`: parents first, independent services in
//! parallel, one progress line per service; a failure shows the failing step's output and
//! Dockerfile line and leaves the previous image in place.

use serde::Serialize;

use super::session::Session;
use crate::action::{Action, BuildAction};
use crate::output;
use crate::plan;

#[derive(Serialize)]
struct BuiltReport {
    service: String,
    image: String,
    id: String,
    seconds: f64,
}

pub fn execute(s: &Session, action: &Action, build: &BuildAction) -> anyhow::Result<i32> {
    let project = s.project()?;
    s.block_on(async {
        let observed = s.observe().await?;
        let ctx = s.plan_context(None, 0);
        let mut planned = plan::plan(project, &observed, action, &ctx)?;
        // `--cause` reaches the image metadata as a build label.
        if let Some(cause) = &build.cause {
            for step in &mut planned.plan.steps {
                if let plan::Step::Build(b) = step {
                    b.labels
                        .insert(crate::meta::keys::BUILD_CAUSE.into(), cause.clone());
                }
            }
        }
        for w in &planned.warnings {
            output::warn(w);
        }
        let applied = s.apply(&planned.plan).await?;
        if s.global.json {
            let report: Vec<BuiltReport> = applied
                .built
                .iter()
                .map(|b| BuiltReport {
                    service: b.service.clone(),
                    image: b.image.clone(),
                    id: b.id.clone(),
                    seconds: b.seconds,
                })
                .collect();
            output::json(&report);
        } else if applied.built.is_empty() {
            output::note(&"nothing to build");
        }
        Ok(0)
    })
}
