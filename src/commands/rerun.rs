//! `dops rerun:<svc>[,…]`: clean + run with the same settings. The parser sets `replace`, so the
//! plan removes each running instance and starts it again; persistent data stays.

use crate::action::{Invocation, RunAction};

pub fn execute(inv: &Invocation, action: &RunAction) -> anyhow::Result<i32> {
    super::run::execute(inv, action)
}
