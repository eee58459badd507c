//! One file per user verb; `main` maps errors to exit codes (0 ok, 1 failed, 2 usage/config, 3 engine unreachable).

// --- meta (issue 8) ---
pub mod examine;
pub mod status;
pub mod update;
pub mod validate;
// --- end meta ---

pub fn main() -> i32 {
    eprintln!("dops: no commands yet");
    1
}
