//! The instance's DNS key file: written into the container's own run folder (the folder
//! bind-mounted at `/run/dops`), mode 0400, before the container starts, so that dops-init reads
//! it from `DNS_KEY_FILE` and the key never appears in the container's environment
//! (`docker inspect`); removed with the container. On a swarm the key is a secret instead
//! (`swarm::secrets`).

use std::path::Path;

use crate::plan::ContainerSpec;
use crate::tsig_key::KEY_FILE_NAME;

use super::error::EngineError;

/// Write `spec`'s key file, if it has one, into `run` (the run folder mounted in this container),
/// replacing the previous one atomically.
pub fn write_dns_key(spec: &ContainerSpec, run: &Path) -> Result<(), EngineError> {
    let Some(k) = &spec.dns_key else {
        return Ok(());
    };
    std::fs::create_dir_all(run).map_err(|e| EngineError::io(run, e))?;
    crate::tsig_key::write_key_file(&run.join(KEY_FILE_NAME), &k.key)
        .map_err(|e| EngineError::Other(format!("{}: {e}", spec.name)))
}

/// Remove the key file of a run folder (the container that used it is gone); absent is fine.
pub fn remove_key_file(run: &Path) -> Result<(), EngineError> {
    let path = run.join(KEY_FILE_NAME);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(EngineError::io(&path, e)),
    }
}
