//! One file per user verb; `main` maps errors to exit codes (0 ok, 1 failed, 2 usage/config, 3 engine unreachable).
pub mod dns;

pub fn main() -> i32 {
    eprintln!("dops: no commands yet");
    1
}
