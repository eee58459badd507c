//! The build script has one job: rebuild dops when a file under `demo/` is added or removed.
//!
//! The demo project is embedded with `include_dir!`, which makes the compiler track the files it
//! embedded, but not the folder: a file added to `demo/` would otherwise be missing from
//! `dops install_demo` until something else changed. A `rerun-if-changed` on a folder makes Cargo
//! scan the whole folder (any file added, removed or modified), and a rerun of this script
//! recompiles the crate.

fn main() {
    println!("cargo:rerun-if-changed=demo");
    // Naming any path replaces Cargo's default (rerun on any change in the package): name this
    // script too.
    println!("cargo:rerun-if-changed=build.rs");
}
