//! `dops update:<svc>|all`: run the UPDATE method (e.g. pull new data and reload) in every
//! running instance; same mechanics and report as `validate` (see `validate.rs`).

use super::validate::execute_method;
use crate::action::{GlobalOpts, TargetAction};
use crate::meta::Method;

/// `dops update:<svc>|all`.
pub fn execute(global: &GlobalOpts, action: &TargetAction) -> anyhow::Result<i32> {
    execute_method(global, action.target.as_ref(), Method::Update)
}
