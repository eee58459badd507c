//! One file per user verb; `main` maps errors to exit codes (0 ok, 1 failed, 2 usage/config, 3 engine unreachable).

pub mod dns;
pub mod engine_common;
// --- meta (issue 8) ---
pub mod examine;
pub mod status;
pub mod update;
pub mod validate;
// --- end meta ---
pub mod getip;
pub mod info;
pub mod logs;
pub mod ps;
pub mod shell;

use crate::action::{Action, Invocation};

pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match crate::cli::parse(&args) {
        Ok(inv) => dispatch(&inv),
        Err(crate::cli::UsageError::Help(text)) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("dops: error: {e}");
            2
        }
    }
}

/// Run one resolved invocation; errors become exit codes here.
pub fn dispatch(inv: &Invocation) -> i32 {
    let g = &inv.global;
    let result = match &inv.action {
        Action::Ps(a) => ps::execute(g, a),
        Action::Shell(a) => shell::execute(g, a),
        Action::Logs(a) => logs::execute(g, a),
        Action::Getip(a) => getip::execute(g, a),
        Action::Info(a) => info::execute(g, a),
        // meta (issue 8)
        Action::Examine(a) => examine::execute(g, a),
        Action::Validate(a) => validate::execute(g, a),
        Action::Update(a) => update::execute(g, a),
        Action::Status(a) => status::execute(g, a),
        other => {
            eprintln!("dops: {} is not available yet", other.verb());
            return 1;
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dops: error: {e:#}");
            engine_common::exit_code(&e)
        }
    }
}
