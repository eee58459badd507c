//! Reading the JSON files of a folder (`/dops/meta`, `/dops/init.d`), in file-name order.

use std::path::Path;

use super::error::MetaError;

/// `(file name, content)` of every `*.json` in a folder, in file-name order; missing folder: none.
pub fn read_json_files(dir: &Path) -> Result<Vec<(String, String)>, MetaError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(MetaError::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut files = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|source| MetaError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".json") {
            continue;
        }
        let path = entry.path();
        let content =
            std::fs::read_to_string(&path).map_err(|source| MetaError::Read { path, source })?;
        files.push((name, content));
    }
    files.sort();
    Ok(files)
}
