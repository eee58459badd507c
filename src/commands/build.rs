//! `dops build:<svc> | build:all [--no-cache] [-v]`: parents first, independent services in
//! parallel, one progress line per service; a failure shows the failing step's output and
//! Dockerfile line and leaves the previous image in place.

use serde::Serialize;

use super::engine_common::{project_dir, runtime};
use crate::action::{BuildAction, Invocation};
use crate::engine;
use crate::plan::{self, PlanContext};
use crate::{output, project};

#[derive(Serialize)]
struct BuiltReport {
    service: String,
    image: String,
    id: String,
    seconds: f64,
}

pub fn execute(inv: &Invocation, action: &BuildAction) -> anyhow::Result<i32> {
    let dir = project_dir(&inv.global)?;
    let project = project::load(&dir, &inv.global.conf)?;
    let rt = runtime()?;
    rt.block_on(async {
        let eng = engine::connect().await?;
        let observed = engine::observe(&eng, &project.name).await?;
        let ctx = PlanContext {
            host: super::host_context(),
            dns_key: None,
            seed: 0,
        };
        let mut planned = plan::plan(&project, &observed, &inv.action, &ctx)?;
        // meta (issue 8): `--cause` reaches the image metadata as a build label.
        if let Some(cause) = &action.cause {
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
        let applied = engine::apply(
            &eng,
            &planned.plan,
            &super::run::apply_context(&project, inv.global.verbose),
        )
        .await?;
        if inv.global.json {
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
            output::out(&format!("{}\n", serde_json::to_string_pretty(&report)?));
        } else if applied.built.is_empty() {
            eprintln!("nothing to build");
        }
        Ok(0)
    })
}
