//! The host CLI. Thin: hand the arguments to `dops::run`, exit with its code.
fn main() {
    std::process::exit(dops::run(std::env::args_os().skip(1).collect()));
}
