//! dops-init: the PID 1 of every dops container.

// --- meta (issue 8): the `container` personality; lead: keep these lines when merging ---
pub mod container;
// --- end meta ---

pub fn main() -> i32 {
    // meta (issue 8): dispatch on the name `container` (or `dops-init container …`) first.
    if let Some(code) = container::dispatch() {
        return code;
    }
    0
}
