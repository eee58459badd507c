//! `dops validate:<svc>|all`: run the VALIDATE method of every running instance (through
//! `container --validate` inside it), report pass/fail per instance, and fail when any fails.
//!
//! `update` shares this code with the UPDATE method. Instances whose image declares no such
//! method are skipped (their labels say so: no exec needed).

use serde::Serialize;

use std::time::Instant;

use super::instances::selected_running;
use super::session::Session;
use crate::action::{Target, TargetAction};
use crate::engine;
use crate::meta::{BuildMeta, Method};
use crate::observed::ObservedContainer;
use crate::output;

/// The command run inside an instance for a method: dops-init's `container` personality.
pub fn method_command(method: Method) -> Vec<String> {
    vec![
        crate::meta::INIT_PATH.to_string(),
        "container".to_string(),
        format!("--{}", method.key()),
    ]
}

/// Whether an instance declares `method`, from its labels (a container carries its image's
/// labels). None when the labels hold no dops metadata: then we ask the container itself.
pub fn declares(container: &ObservedContainer, method: Method) -> Option<bool> {
    let m = BuildMeta::from_labels(&container.labels).ok().flatten()?;
    Some(m.methods.get(method).is_some())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    /// The image declares no such method.
    Skipped,
}

/// One instance's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethodResult {
    pub container: String,
    pub outcome: Outcome,
    /// The method's exit code (None when skipped or it could not run).
    pub exit_code: Option<i64>,
    /// Its combined output (stdout then stderr), or why it could not run.
    pub output: String,
    pub seconds: f64,
}

impl MethodResult {
    pub fn skipped(container: &str) -> MethodResult {
        MethodResult {
            container: container.to_string(),
            outcome: Outcome::Skipped,
            exit_code: None,
            output: String::new(),
            seconds: 0.0,
        }
    }

    /// From an exec's exit code and output.
    pub fn from_exit(
        container: &str,
        exit_code: Option<i64>,
        output: String,
        seconds: f64,
    ) -> MethodResult {
        MethodResult {
            container: container.to_string(),
            outcome: if exit_code == Some(0) {
                Outcome::Passed
            } else {
                Outcome::Failed
            },
            exit_code,
            output,
            seconds,
        }
    }
}

/// The readable report: one line per instance (failures followed by their output, indented),
/// then a summary naming the failed instances.
pub fn render(method: Method, results: &[MethodResult]) -> String {
    let mut out = String::new();
    let width = results.iter().map(|r| r.container.len()).max().unwrap_or(0);
    for r in results {
        let (word, detail) = match r.outcome {
            Outcome::Passed => ("PASS", format!("{:.1}s", r.seconds)),
            Outcome::Failed => (
                "FAIL",
                match r.exit_code {
                    Some(c) => format!("exit {c}, {:.1}s", r.seconds),
                    None => "could not run".to_string(),
                },
            ),
            Outcome::Skipped => ("SKIP", format!("no {} method", method.upper())),
        };
        out.push_str(&format!("{word}  {:width$}  {detail}\n", r.container));
        let show_output = r.outcome == Outcome::Failed || method != Method::Validate;
        if show_output {
            for l in r.output.lines() {
                out.push_str(&format!("      | {l}\n"));
            }
        }
    }
    let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .map(|r| r.container.as_str())
        .collect();
    out.push_str(&format!(
        "{}: {} passed, {} failed, {} skipped",
        method.key(),
        count(Outcome::Passed),
        failed.len(),
        count(Outcome::Skipped)
    ));
    if !failed.is_empty() {
        out.push_str(&format!(" (failed: {})", failed.join(", ")));
    }
    out.push('\n');
    out
}

pub fn to_json(method: Method, results: &[MethodResult]) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "method": method.key(),
        "ok": all_ok(results),
        "results": results,
    }))
    .expect("results serialize")
}

/// True when no instance failed.
pub fn all_ok(results: &[MethodResult]) -> bool {
    results.iter().all(|r| r.outcome != Outcome::Failed)
}

/// Run `method` in every running instance the target selects (concurrently), report per
/// instance; exit 1 when any failed. Shared by `validate` and `update`.
pub fn execute_method(s: &Session, target: Option<&Target>, method: Method) -> anyhow::Result<i32> {
    let project = s.project_name();
    s.block_on(async {
        let eng = s.engine().await?;
        let observed = s.observe().await?;
        let running = selected_running(&observed, target);
        if running.is_empty() {
            let what = target
                .map(|t| t.to_string())
                .unwrap_or_else(|| "all".into());
            anyhow::bail!(
                "no running instance of {what} in project {project}\nhint: `dops ps` lists the instances, `dops run:{what}` starts them"
            );
        }
        let jobs = running.iter().map(|c| {
            let eng = eng.clone();
            let name = c.name.clone();
            let declared = declares(c, method);
            async move {
                if declared == Some(false) {
                    return MethodResult::skipped(&name);
                }
                let start = Instant::now();
                match engine::exec::exec_capture(&eng, &name, method_command(method)).await {
                    Ok(out) => {
                        let undeclared = format!("no {} method declared", method.upper());
                        if out.exit_code == 2 && out.stderr.contains(&undeclared) {
                            return MethodResult::skipped(&name);
                        }
                        let mut text = out.stdout;
                        text.push_str(&out.stderr);
                        MethodResult::from_exit(
                            &name,
                            Some(out.exit_code),
                            text,
                            start.elapsed().as_secs_f64(),
                        )
                    }
                    Err(e) => MethodResult {
                        container: name.clone(),
                        outcome: Outcome::Failed,
                        exit_code: None,
                        output: e.to_string(),
                        seconds: start.elapsed().as_secs_f64(),
                    },
                }
            }
        });
        let results = futures_util::future::join_all(jobs).await;
        if s.global.json {
            output::out(&format!("{}\n", to_json(method, &results)));
        } else {
            output::out(&render(method, &results));
        }
        Ok(if all_ok(&results) { 0 } else { 1 })
    })
}

/// `dops validate:<svc>|all`.
pub fn execute(s: &Session, action: &TargetAction) -> anyhow::Result<i32> {
    execute_method(s, action.target.as_ref(), Method::Validate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn report_names_the_failed_instances() {
        let results = vec![
            MethodResult::from_exit("shop-web-one", Some(0), "ok\n".into(), 0.25),
            MethodResult::from_exit(
                "shop-web-two",
                Some(3),
                "checking\nport 80 closed\n".into(),
                1.0,
            ),
            MethodResult::skipped("shop-db-one"),
        ];
        assert!(!all_ok(&results));
        let text = render(Method::Validate, &results);
        assert_eq!(
            text,
            "\
PASS  shop-web-one  0.2s
FAIL  shop-web-two  exit 3, 1.0s
      | checking
      | port 80 closed
SKIP  shop-db-one   no VALIDATE method
validate: 1 passed, 1 failed, 1 skipped (failed: shop-web-two)
"
        );
        let json: serde_json::Value =
            serde_json::from_str(&to_json(Method::Validate, &results)).unwrap();
        assert_eq!(json["ok"], false);
        assert_eq!(json["results"][1]["outcome"], "failed");
        assert_eq!(json["results"][1]["exit_code"], 3);
        // update shows every instance's output.
        let text = render(Method::Update, &results[..1]);
        assert_eq!(
            text,
            "PASS  shop-web-one  0.2s\n      | ok\nupdate: 1 passed, 0 failed, 0 skipped\n"
        );
        assert!(all_ok(&results[..1]));
    }

    #[test]
    fn methods_declared_by_labels() {
        let mut m = BuildMeta::from_json(
            r#"{"schema":1,"level":0,"project":"p","service":"s","image":"p/s","tags":[],
            "build_time":"2026-01-01T00:00:00Z","build_time_epoch":1767225600,"build_host":"h",
            "git":null,"cause":"manual","ci":false,"dops_version":"0.1.0","base_image":null,
            "methods":{"start":null,"update":null,"validate":"true","monitor":null}}"#,
        )
        .unwrap();
        let mut c = ObservedContainer {
            labels: m.labels(),
            ..Default::default()
        };
        assert_eq!(declares(&c, Method::Validate), Some(true));
        assert_eq!(declares(&c, Method::Update), Some(false));
        m.methods.validate = None;
        c.labels = m.labels();
        assert_eq!(declares(&c, Method::Validate), Some(false));
        c.labels = BTreeMap::new();
        assert_eq!(declares(&c, Method::Validate), None);
        assert_eq!(
            method_command(Method::Validate),
            ["/dops/bin/dops-init", "container", "--validate"]
        );
    }
}
