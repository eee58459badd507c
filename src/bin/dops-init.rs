//! The in-container init (PID 1 of every dops container). Thin: everything lives in `dops::init`.
fn main() {
    std::process::exit(dops::init::main());
}
