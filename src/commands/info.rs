//! `dops info:<svc>`: what dops knows about a service: its image (id, created, labels, the main
//! program dops-init runs, exposed ports) and its instances.

use serde::Serialize;

use super::instances::selected;
use super::ps::{row, table, PsRow};
use super::session::Session;
use crate::action::{wildcard_match, Target, TargetAction};
use crate::engine;
use crate::output;

#[derive(Debug, Serialize)]
struct ServiceInfo {
    service: String,
    image: String,
    image_id: Option<String>,
    created: Option<String>,
    main_program: Vec<String>,
    exposed_ports: Vec<String>,
    labels: std::collections::BTreeMap<String, String>,
    instances: Vec<PsRow>,
}

pub fn execute(s: &Session, action: &TargetAction) -> anyhow::Result<i32> {
    let project = s.project_name();
    s.block_on(async {
        let eng = s.engine().await?;
        let observed = s.observe().await?;
        // The services: the one named, or every service with an image or an instance.
        let mut services: Vec<String> =
            match action.target.as_ref().and_then(Target::literal_service) {
                Some(s) => vec![s.to_string()],
                None => {
                    let mut s: Vec<String> = observed
                        .containers
                        .iter()
                        .map(|c| c.service.clone())
                        .chain(observed.images.keys().filter_map(|t| {
                            t.strip_prefix(&format!("{project}/"))
                                .map(|r| r.split(':').next().unwrap_or(r).to_string())
                        }))
                        .filter(|s| match action.target.as_ref() {
                            Some(Target::Select { service: pat, .. }) => wildcard_match(pat, s),
                            _ => true,
                        })
                        .collect();
                    s.sort();
                    s.dedup();
                    s
                }
            };
        services.retain(|s| !s.is_empty());
        let mut infos = Vec::new();
        for service in services {
            let image = format!("{project}/{service}");
            let img = engine::observe::image_info(eng, &image).await?;
            let (image_id, created, main_program, exposed_ports, labels) = match img {
                Some(i) => (
                    Some(i.id),
                    i.created,
                    i.main_program,
                    i.exposed_ports,
                    i.labels,
                ),
                None => (None, None, vec![], vec![], Default::default()),
            };
            let target = Target::Select {
                service: service.clone(),
                instance: None,
            };
            let instances = selected(&observed, Some(&target))
                .into_iter()
                .map(row)
                .collect();
            infos.push(ServiceInfo {
                service,
                image,
                image_id,
                created,
                main_program,
                exposed_ports,
                labels,
                instances,
            });
        }
        if infos.is_empty() {
            anyhow::bail!(
                "nothing known about {} in project {project}\nhint: `dops build:…` builds it",
                action
                    .target
                    .as_ref()
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "any service".into())
            );
        }
        if s.global.json {
            output::json(&infos);
            return Ok(0);
        }
        output::out(&infos.iter().map(render).collect::<String>());
        Ok(0)
    })
}

/// The readable form of one service, a blank line after it.
fn render(i: &ServiceInfo) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "service   {}", i.service);
    let _ = writeln!(
        out,
        "image     {} ({})",
        i.image,
        i.image_id.as_deref().unwrap_or("not built")
    );
    if let Some(c) = &i.created {
        let _ = writeln!(out, "created   {c}");
    }
    if !i.main_program.is_empty() {
        let _ = writeln!(out, "program   {}", i.main_program.join(" "));
    }
    if !i.exposed_ports.is_empty() {
        let _ = writeln!(out, "exposes   {}", i.exposed_ports.join(", "));
    }
    for (k, v) in i
        .labels
        .iter()
        .filter(|(k, _)| k.starts_with("io.dops.") || k.starts_with("org.opencontainers."))
    {
        let _ = writeln!(out, "label     {k}={v}");
    }
    if i.instances.is_empty() {
        let _ = writeln!(out, "instances none");
    } else {
        let _ = writeln!(out, "instances\n{}", table(&i.instances, false));
    }
    out.push('\n');
    out
}
