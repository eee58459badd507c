//! `dops examine:<svc>[,instance=…]`: the image metadata chain of an instance (this image and
//! every dops ancestor) as the readable report, or `--json`.
//!
//! A container carries its image's labels, and the labels carry the whole chain
//! (`io.dops.meta.ancestry`), so one observe is enough: no exec, and it works for stopped
//! instances too.

use super::instances::selected;
use super::session::Session;
use crate::action::{wildcard_match, Target, TargetAction};
use crate::engine;
use crate::meta::{self, BuildMeta, MetaError, RuntimeInfo};
use crate::observed::ObservedContainer;
use crate::output;

/// The metadata chain (oldest first) recorded in a container's labels; empty for a non-dops image.
pub fn chain_of(container: &ObservedContainer) -> Result<Vec<BuildMeta>, MetaError> {
    Ok(BuildMeta::from_labels(&container.labels)?
        .map(|m| m.chain())
        .unwrap_or_default())
}

/// The run-time facts of a container shown at the top of the report.
pub fn runtime_of(container: &ObservedContainer) -> RuntimeInfo {
    RuntimeInfo {
        container: Some(container.name.clone()),
        created: time::OffsetDateTime::from_unix_timestamp(container.created)
            .ok()
            .filter(|_| container.created > 0)
            .map(|t| (meta::rfc3339(t), container.created)),
        started: None,
    }
}

/// The report (or JSON) for one container.
pub fn report(container: &ObservedContainer, json: bool) -> Result<String, MetaError> {
    let chain = chain_of(container)?;
    let methods = chain.last().map(|m| m.methods.clone()).unwrap_or_default();
    let runtime = runtime_of(container);
    Ok(if json {
        meta::examine_json(&runtime, &methods, &chain)
    } else {
        meta::examine_report(&runtime, &methods, &chain)
    })
}

/// One examined thing: an instance (with its run-time facts) or a service's image.
#[derive(Debug, serde::Serialize)]
struct Examined {
    target: String,
    #[serde(flatten)]
    body: serde_json::Value,
}

/// `dops examine:<svc>[,instance=…]|all`.
pub fn execute(s: &Session, action: &TargetAction) -> anyhow::Result<i32> {
    let project = s.project_name();
    s.block_on(async {
        let eng = s.engine().await?;
        let observed = s.observe().await?;
        let target = action.target.as_ref();
        // (what, runtime, chain)
        let mut found: Vec<(String, RuntimeInfo, Vec<BuildMeta>)> = Vec::new();
        if target.and_then(Target::instance).is_some() {
            for c in selected(&observed, target) {
                found.push((c.name.clone(), runtime_of(c), chain_of(c)?));
            }
        } else {
            // Services: the one named, or every one with an image or an instance.
            let prefix = format!("{project}/");
            let mut services: Vec<String> = observed
                .containers
                .iter()
                .map(|c| c.service.clone())
                .chain(observed.images.keys().filter_map(|t| {
                    t.strip_prefix(&prefix)
                        .map(|r| r.split(':').next().unwrap_or(r).to_string())
                }))
                .filter(|s| match target {
                    Some(Target::Select { service, .. }) => wildcard_match(service, s),
                    _ => true,
                })
                .collect();
            if let Some(s) = target.and_then(Target::literal_service) {
                services.push(s.to_string());
            }
            services.sort();
            services.dedup();
            services.retain(|s| !s.is_empty());
            for service in services {
                let image = format!("{project}/{service}");
                match engine::observe::image_info(eng, &image).await? {
                    Some(info) => {
                        let chain = BuildMeta::from_labels(&info.labels)?
                            .map(|m| m.chain())
                            .unwrap_or_default();
                        found.push((image, RuntimeInfo::default(), chain));
                    }
                    None => {
                        // No image under the tag (removed): an instance still knows its own.
                        let any = observed.containers.iter().find(|c| c.service == service);
                        if let Some(c) = any {
                            found.push((c.name.clone(), runtime_of(c), chain_of(c)?));
                        }
                    }
                }
            }
        }
        if found.is_empty() {
            let what = target
                .map(|t| t.to_string())
                .unwrap_or_else(|| "any service".into());
            anyhow::bail!(
                "nothing to examine for {what} in project {project}\nhint: `dops build:{what}` builds the image"
            );
        }
        if s.global.json {
            let all: Vec<Examined> = found
                .iter()
                .map(|(what, runtime, chain)| {
                    let methods = chain.last().map(|m| m.methods.clone()).unwrap_or_default();
                    Examined {
                        target: what.clone(),
                        body: serde_json::from_str(&meta::examine_json(runtime, &methods, chain))
                            .unwrap_or_default(),
                    }
                })
                .collect();
            output::json(&all);
            return Ok(0);
        }
        let mut text = String::new();
        for (i, (what, runtime, chain)) in found.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            if runtime.container.is_none() {
                text.push_str(&format!("Image {what}\n\n"));
            }
            let methods = chain.last().map(|m| m.methods.clone()).unwrap_or_default();
            text.push_str(&meta::examine_report(runtime, &methods, chain));
        }
        output::out(&text);
        Ok(0)
    })
}
