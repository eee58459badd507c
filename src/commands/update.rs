//! `dops update:<svc>|all`: run the UPDATE method (e.g. pull new data and reload) in every
//! running instance; same mechanics and report as `validate` (see `validate.rs`).

use super::session::Session;
use super::validate::execute_method;
use crate::action::TargetAction;
use crate::meta::Method;

/// `dops update:<svc>|all`.
pub fn execute(s: &Session, action: &TargetAction) -> anyhow::Result<i32> {
    execute_method(s, action.target.as_ref(), Method::Update)
}
