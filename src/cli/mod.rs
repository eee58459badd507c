//! What the user typed: clap for the conventional spelling, plus a translator for the DockerOps
//! spelling `verb:target,key=value,...`.
//!
//! `dops run:postgres,instance=master,persistent_data=True` is rewritten to
//! `dops run postgres --instance=master --persistent-data=true` before clap sees it, using clap's
//! own description of the verb's options, so both spellings accept exactly the same keys. The
//! low-level [`Cli`] is then resolved into an [`Invocation`] (see `action`).
//!
//! - [`args`]: the clap description (conventional spelling)
//! - [`dockerops`]: the `verb:target,k=v` translation
//! - [`resolve`]: clap's result → [`Invocation`], clap's errors → [`UsageError`]
//! - [`complete`]: the project's names for the shell completion scripts

mod args;
pub mod complete;
mod dockerops;
mod error;
mod resolve;
#[cfg(test)]
mod tests;

use std::ffi::{OsStr, OsString};

use clap::{CommandFactory, FromArgMatches};

pub use args::{Cli, VERBS};

/// The clap description of the command line (for the completion scripts).
pub fn command() -> clap::Command {
    Cli::command()
}
pub use error::UsageError;
pub use resolve::conf_file_name;

use crate::action::Invocation;
use dockerops::{translate, verb_index};
use resolve::{from_clap, resolve};

/// Parse a command line (without the program name). Arguments must be valid UTF-8: dops' own
/// names, keys and values all are, and a path that is not can't be named in run.conf either.
pub fn parse<S: AsRef<OsStr>>(args: &[S]) -> Result<Invocation, UsageError> {
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            a.as_ref()
                .to_str()
                .map(str::to_string)
                .ok_or_else(|| UsageError::NotUtf8(a.as_ref().to_string_lossy().into_owned()))
        })
        .collect::<Result<_, _>>()?;
    let translated = translate(&args)?;
    let verb = verb_index(&translated)
        .map(|i| translated[i].clone())
        .unwrap_or_default();
    let argv: Vec<OsString> = std::iter::once(OsString::from("dops"))
        .chain(translated.iter().map(OsString::from))
        .collect();
    let matches = Cli::command()
        .try_get_matches_from(argv)
        .map_err(|e| from_clap(e, &verb))?;
    let cli = Cli::from_arg_matches(&matches).map_err(|e| from_clap(e, &verb))?;
    resolve(cli)
}
