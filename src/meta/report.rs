//! The readable `examine` report of an image's metadata chain, and its JSON form.

use std::fmt::Write as _;

use serde::Serialize;

use super::methods::{Method, Methods};
use super::model::BuildMeta;

/// Run-time facts shown at the top of an examine report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RuntimeInfo {
    /// The container's name, when examined from the host.
    pub container: Option<String>,
    /// When the container was created (host view): (RFC 3339, epoch).
    pub created: Option<(String, i64)>,
    /// When the container (its init) started (inside view): (RFC 3339, epoch).
    pub started: Option<(String, i64)>,
}

const KEY_WIDTH: usize = 22;

fn row(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "  {key:>KEY_WIDTH$}: {value}");
}

fn or_not_set(v: Option<&str>) -> &str {
    v.unwrap_or("not set")
}

/// The readable report of a metadata chain (oldest first), in the style of `container --examine`:
/// run-time facts, the container's management methods (`methods`: the effective ones), then one
/// section per image.
pub fn examine_report(runtime: &RuntimeInfo, methods: &Methods, chain: &[BuildMeta]) -> String {
    let mut out = String::new();
    if let Some(c) = &runtime.container {
        let _ = writeln!(out, "Container {c}");
    }
    if let Some((when, epoch)) = &runtime.created {
        let _ = writeln!(out, "Container created at {when} ({epoch})");
    }
    if let Some((when, epoch)) = &runtime.started {
        let _ = writeln!(out, "Container started at {when} ({epoch})");
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str("Container management methods:\n\n");
    let mut any = false;
    for m in Method::ALL {
        if let Some(cmd) = methods.get(m) {
            any = true;
            let _ = writeln!(
                out,
                "   Container supports {} method using command {cmd}",
                m.upper()
            );
        }
    }
    if !any {
        out.push_str("   Container declares no management methods\n");
    }
    if chain.is_empty() {
        out.push_str("\nNo dops metadata found (not a dops image)\n");
    }
    for meta in chain {
        let _ = writeln!(out, "\nMetadata for image {}\n", meta.image);
        out.push_str("  Names:\n");
        row(&mut out, "Project Name", &meta.project);
        row(&mut out, "Service Name", &meta.service);
        row(&mut out, "Image Name", &meta.image);
        row(&mut out, "Image Tag Names", &meta.tags.join(", "));
        row(
            &mut out,
            "Base Image",
            or_not_set(meta.base_image.as_deref()),
        );
        out.push_str("\n  Build Info:\n");
        row(&mut out, "CI Run", &meta.ci.to_string());
        match &meta.git {
            Some(g) => {
                row(&mut out, "Git Hash", &g.commit);
                row(&mut out, "Git Dirty", &g.dirty.to_string());
                if let Some(s) = &g.source {
                    row(&mut out, "Git Source", s);
                }
            }
            None => row(&mut out, "Git Hash", "not a git checkout"),
        }
        row(&mut out, "Build Cause", &meta.cause);
        row(
            &mut out,
            "Build Time",
            &format!("{} ({})", meta.build_time, meta.build_time_epoch),
        );
        row(&mut out, "Build Host", &meta.build_host);
        row(&mut out, "dops Version", &meta.dops_version);
        out.push_str("\n  Actions:\n");
        for m in Method::ALL {
            row(&mut out, m.upper(), or_not_set(meta.methods.get(m)));
        }
    }
    out
}

/// The `--json` form of an examine: `{"runtime": …, "methods": …, "chain": [meta, …]}`.
pub fn examine_json(runtime: &RuntimeInfo, methods: &Methods, chain: &[BuildMeta]) -> String {
    let v = serde_json::json!({
        "runtime": runtime,
        "methods": methods,
        "chain": chain,
    });
    serde_json::to_string_pretty(&v).expect("examine serializes")
}

#[cfg(test)]
mod tests {
    use super::super::model::tests::sample;
    use super::*;

    #[test]
    fn examine_report_snapshot() {
        let parent = sample(0, "base", "1111");
        let mut child = sample(1, "web", "2222");
        child.git.as_mut().unwrap().source = None;
        child.methods.monitor = Some("/srv/stats.sh".into());
        let runtime = RuntimeInfo {
            container: Some("shop-web-one".into()),
            created: Some(("2026-11-23T16:59:00Z".into(), 1_795_366_740)),
            started: Some(("2026-11-23T17:00:00Z".into(), 1_795_366_800)),
        };
        let report = examine_report(&runtime, &child.methods, &[parent, child.clone()]);
        let expected = "\
Container shop-web-one
Container created at 2026-11-23T16:59:00Z (1795366740)
Container started at 2026-11-23T17:00:00Z (1795366800)

Container management methods:

   Container supports UPDATE method using command /srv/update.sh
   Container supports VALIDATE method using command /srv/validate.sh --all
   Container supports MONITOR method using command /srv/stats.sh

Metadata for image shop/base

  Names:
            Project Name: shop
            Service Name: base
              Image Name: shop/base
         Image Tag Names: shop/base:latest, reg.example/x:1
              Base Image: debian:12

  Build Info:
                  CI Run: false
                Git Hash: 1111
               Git Dirty: false
              Git Source: https://git.example/shop.git
             Build Cause: manual
              Build Time: 2026-11-23T16:39:07Z (1795365547)
              Build Host: buildbox
            dops Version: 0.1.0

  Actions:
                   START: not set
                  UPDATE: /srv/update.sh
                VALIDATE: /srv/validate.sh --all
                 MONITOR: not set

Metadata for image shop/web

  Names:
            Project Name: shop
            Service Name: web
              Image Name: shop/web
         Image Tag Names: shop/web:latest, reg.example/x:1
              Base Image: shop/base

  Build Info:
                  CI Run: false
                Git Hash: 2222
               Git Dirty: true
             Build Cause: manual
              Build Time: 2026-11-23T16:39:07Z (1795365547)
              Build Host: buildbox
            dops Version: 0.1.0

  Actions:
                   START: not set
                  UPDATE: /srv/update.sh
                VALIDATE: /srv/validate.sh --all
                 MONITOR: /srv/stats.sh
";
        assert_eq!(report, expected, "got:\n{report}");
        let empty = examine_report(&RuntimeInfo::default(), &Methods::default(), &[]);
        assert_eq!(
            empty,
            "Container management methods:\n\n   Container declares no management methods\n\nNo dops metadata found (not a dops image)\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&examine_json(&runtime, &child.methods, &[child.clone()]))
                .unwrap();
        assert_eq!(json["chain"][0]["git"]["commit"], "2222");
        assert_eq!(json["methods"]["monitor"], "/srv/stats.sh");
        assert_eq!(json["runtime"]["container"], "shop-web-one");
    }
}
