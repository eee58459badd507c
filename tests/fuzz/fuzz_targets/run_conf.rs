//! The run.conf loader (and what follows it: the model and the planner) never panics.
#![no_main]

use std::path::Path;

use dops::action::{Action, Overrides, RunAction, Target};
use dops::observed::Observed;
use dops::plan::{plan, PlanContext};
use dops::project::{Project, ProjectFiles, ServiceFiles};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // the same text through every loader
    let _ = dops::project::hostconf::parse("host.conf", &text);
    let _ = dops::project::hostconf::parse_required("r.json", &text);
    let _ = dops::dockerfile::parse(&text);
    let Ok(entries) = dops::project::runconf::parse("run.conf", &text) else {
        return;
    };
    let services: Vec<ServiceFiles> = entries
        .iter()
        .map(|e| e.service.clone())
        .chain(["base".to_string()])
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|name| ServiceFiles {
            dockerfile: if name == "base" {
                "FROM debian\nEXPOSE 80\n".into()
            } else {
                "FROM fz/base\n# dops: expose 53/udp\n".into()
            },
            name,
            required_env_vars: None,
        })
        .collect();
    let files = ProjectFiles {
        run_conf: Some(("run.conf".into(), text.to_string())),
        host_conf: None,
        services,
    };
    let Ok(project) = Project::from_files(Path::new("/fz"), files) else {
        return;
    };
    let action = Action::Run(RunAction {
        target: Target::All,
        overrides: Overrides::default(),
        replace: false,
        wait: false,
        timeout_s: None,
        dry_run: true,
    });
    let ctx = PlanContext {
        dns_key: Some("hmac-sha256:k:c2VjcmV0".into()),
        ..Default::default()
    };
    if let Ok(planned) = plan(&project, &Observed::default(), &action, &ctx) {
        let _ = planned.plan.to_string();
        let _ = dops::output::plan_json(&planned);
    }
});
