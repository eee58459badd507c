//! The Dockerfile reader (`dops::dockerfile`): FROM lines, logical lines, ports and warnings.
//! Nothing may panic, every published port is a real port, the number of ports is bounded and
//! every warning points at a line of the file.
#![no_main]

use dops::dockerfile::{base_image, instructions, lines, parse, MAX_PORTS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A Dockerfile that is not UTF-8 is refused by the loader before it is parsed.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let info = parse(text);
    assert!(info.ports.len() <= MAX_PORTS);
    for p in &info.ports {
        assert!(p.container > 0 && p.host > 0, "{p:?}");
    }
    let n = text.lines().count().max(1);
    for w in &info.warnings {
        assert!(w.line >= 1 && w.line <= n, "{w:?} in {n} lines");
    }
    let _ = info.external_bases();
    let _ = info.final_base();
    let _ = base_image(text);
    for l in lines(text) {
        assert!(l.number >= 1 && l.number <= n);
    }
    let _ = instructions(text);
});
