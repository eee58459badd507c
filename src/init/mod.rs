//! dops-init: the PID 1 of every dops container.
pub fn main() -> i32 {
    0
}
