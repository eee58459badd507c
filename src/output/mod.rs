//! The one place that prints: results on stdout, notes, warnings and errors on stderr, plans
//! (text or JSON), the engine's progress (bars on a terminal) and the output of containers.
//!
//! Errors and warnings go to stderr as `dops: error: ...` / `dops: warning: ...`; results go to
//! stdout. Secrets (`DNS_KEY`) are masked in both the text and the JSON form of a plan.
//!
//! - [`print`]: the primitives: results, notes, warnings, errors, JSON, containers' output
//! - [`plan`]: a plan as text or JSON
//! - [`progress`]: the engine's progress events as bars or lines

mod plan;
mod print;
pub mod progress;

pub use plan::{plan, plan_json};
pub use print::{error, json, note, out, prompt, warn, Stdio};
