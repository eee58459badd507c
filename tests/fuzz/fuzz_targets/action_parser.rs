//! The action parser never panics, whatever argv looks like (arguments separated by NUL bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let args: Vec<String> = if text.is_empty() {
        Vec::new()
    } else {
        text.split('\0').map(str::to_string).collect()
    };
    if let Ok(inv) = dops::cli::parse(&args) {
        // the resolved action is printable and serializable
        let _ = format!("{inv:?} {}", inv.action.verb());
    }
});
