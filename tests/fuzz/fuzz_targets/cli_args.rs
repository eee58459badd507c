//! The command line as `dops::run` receives it: raw `OsString` arguments (split at NUL bytes),
//! not decoded first, so bytes that are not UTF-8 reach the parser. Whatever parses is then
//! planned against a fixed project and engine state (what `plan` and `--dry-run` do, without an
//! engine). Nothing may panic; an argument that is not UTF-8 is always a usage error.
#![no_main]

#[path = "common.rs"]
mod common;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use dops::cli::{parse, UsageError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let args: Vec<OsString> = if data.is_empty() {
        Vec::new()
    } else {
        data.split(|b| *b == 0)
            .map(|a| OsString::from_vec(a.to_vec()))
            .collect()
    };
    let not_utf8 = args.iter().any(|a| a.to_str().is_none());
    match parse(&args) {
        Ok(inv) => {
            assert!(!not_utf8, "an argument that is not UTF-8 was accepted");
            let _ = format!("{inv:?} {}", inv.action.verb());
            let project = &*common::PROJECT;
            let observed = common::observed(&project.name);
            if let Ok(planned) = dops::plan::plan(project, &observed, &inv.action, &common::ctx())
            {
                let _ = planned.plan.to_string();
                let _ = dops::output::plan_json(&planned);
            }
        }
        Err(e) => {
            if not_utf8 {
                assert!(matches!(e, UsageError::NotUtf8(_)), "{e:?}");
            }
            let _ = e.to_string();
        }
    }
});
