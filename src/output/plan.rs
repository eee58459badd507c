//! A plan as the user reads it: the text of `dops plan` (warnings on stderr) or one JSON document
//! (warnings inside). Secrets are masked in both.

use super::print::{out, warn};
use crate::plan::{mask_secret, Planned};

/// The JSON form of a plan: `{"project", "steps", "warnings"}` with secrets masked (schema in the README, "Plans").
pub fn plan_json(planned: &Planned) -> serde_json::Value {
    let mut v = serde_json::to_value(&planned.plan).unwrap_or(serde_json::Value::Null);
    if let Some(steps) = v.get_mut("steps").and_then(|s| s.as_array_mut()) {
        for step in steps {
            if let Some(env) = step.get_mut("env").and_then(|e| e.as_array_mut()) {
                for var in env {
                    let name = var
                        .get("name")
                        .and_then(|n| n.as_str())
                        .unwrap_or("")
                        .to_string();
                    if let Some(value) = var.get_mut("value").and_then(|v| v.get_mut("value")) {
                        if let Some(s) = value.as_str() {
                            *value = serde_json::Value::String(mask_secret(&name, s));
                        }
                    }
                }
            }
        }
    }
    if let Some(obj) = v.as_object_mut() {
        obj.insert("warnings".into(), serde_json::json!(planned.warnings));
    }
    v
}

/// Print a plan: text (warnings on stderr) or JSON (warnings inside).
pub fn plan(planned: &Planned, json: bool) {
    if json {
        let text = serde_json::to_string_pretty(&plan_json(planned)).unwrap_or_default();
        out(&format!("{text}\n"));
    } else {
        for w in &planned.warnings {
            warn(w);
        }
        out(&planned.plan.to_string());
    }
}
