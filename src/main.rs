//! The host CLI. Thin: parse, run, map errors to exit codes (see `commands`).
fn main() {
    std::process::exit(dops::commands::main());
}
