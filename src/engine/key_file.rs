//! The instance's DNS key file: written into its run folder (bind-mounted at `/run/dops`), mode
//! 0400, before the container starts, so that dops-init reads it from `DNS_KEY_FILE` and the key
//! never appears in the container's environment (`docker inspect`).

use crate::plan::ContainerSpec;

use super::error::EngineError;

/// Write `spec`'s key file, if it has one (replacing the previous one atomically).
pub fn write_dns_key(spec: &ContainerSpec) -> Result<(), EngineError> {
    let Some(k) = &spec.dns_key else {
        return Ok(());
    };
    if let Some(dir) = k.host.parent() {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    }
    crate::tsig_key::write_key_file(&k.host, &k.key)
        .map_err(|e| EngineError::Other(format!("{}: {e}", spec.name)))
}
