//! dops-init: the PID 1 of every dops container.
pub mod register;

pub fn main() -> i32 {
    0
}
