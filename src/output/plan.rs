//! A plan as the user reads it: the text of `dops plan` (warnings on stderr) or one JSON document
//! (warnings inside). Secrets are masked in both.

use super::print::{out, warn};
use crate::plan::{mask_secret, Planned};

/// The JSON form of a plan: `{"project", "steps", "warnings"}` with secrets masked (schema in the README, "Plans").
pub fn plan_json(planned: &Planned) -> serde_json::Value {
    let mut v = serde_json::to_value(&planned.plan).unwrap_or(serde_json::Value::Null);
    mask_env(&mut v);
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

/// Mask the secrets of every `env` list in the document, however deep (a replacement carries
/// its container's spec).
fn mask_env(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if key == "env" {
                    for var in inner.as_array_mut().into_iter().flatten() {
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
                } else {
                    mask_env(inner);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_env),
        _ => {}
    }
}
