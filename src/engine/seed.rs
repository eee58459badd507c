//! Seeding a persistent folder: on first use, the host folder gets the image's content at the
//! mount point, and a marker beside it says so.

use std::path::{Path, PathBuf};

use bollard::query_parameters::DownloadFromContainerOptions;
use futures_util::StreamExt;

use super::connect::Engine;
use super::error::{is_not_found, EngineError};
use super::scratch::{create_unstarted_container, remove_unstarted_container};
use crate::plan::Mount;

/// The marker that says a persistent folder was seeded (beside it, not inside: the data stays
/// exactly what the service wrote).
pub fn seed_marker(host: &Path) -> PathBuf {
    let name = host
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into());
    host.with_file_name(format!(".{name}.dops-seeded"))
}

/// Seed `mount.host` with the image's content at `mount.container`, once.
pub async fn seed_mount(
    engine: &Engine,
    image: &str,
    project: &str,
    mount: &Mount,
) -> Result<bool, EngineError> {
    let marker = seed_marker(&mount.host);
    if marker.exists() {
        return Ok(false);
    }
    std::fs::create_dir_all(&mount.host).map_err(|e| EngineError::io(&mount.host, e))?;
    let empty = std::fs::read_dir(&mount.host)
        .map_err(|e| EngineError::io(&mount.host, e))?
        .next()
        .is_none();
    let mut seeded = false;
    if empty {
        // A short-lived, never-started container gives the image's files through the archive API.
        let id = create_unstarted_container(engine, image, project, "seed").await?;
        let result = download_into(engine, &id, &mount.container, &mount.host).await;
        remove_unstarted_container(engine, &id).await;
        seeded = result?;
    }
    std::fs::write(&marker, "seeded by dops on first use\n")
        .map_err(|e| EngineError::io(&marker, e))?;
    Ok(seeded)
}

/// Copy `path` out of a container into the host folder `dest` (its content, not the folder).
async fn download_into(
    engine: &Engine,
    container: &str,
    path: &str,
    dest: &Path,
) -> Result<bool, EngineError> {
    let mut stream = engine.api().download_from_container(
        container,
        Some(DownloadFromContainerOptions {
            path: path.to_string(),
        }),
    );
    let mut data = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(b) => data.extend_from_slice(&b),
            Err(e) if is_not_found(&e) => return Ok(false),
            Err(e) => {
                return Err(EngineError::docker(
                    format!("copy {path} out of the image"),
                    e,
                ))
            }
        }
    }
    let dest = dest.to_path_buf();
    tokio::task::spawn_blocking(move || extract_content(&data, &dest))
        .await
        .map_err(|e| EngineError::Other(format!("extract task failed: {e}")))??;
    Ok(true)
}

/// Unpack a `GET /archive` tar (whose entries start with the folder's own name) into `dest`.
fn extract_content(data: &[u8], dest: &Path) -> Result<(), EngineError> {
    let mut archive = tar::Archive::new(data);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(false);
    let entries = archive.entries().map_err(|e| EngineError::io(dest, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| EngineError::io(dest, e))?;
        let path = entry
            .path()
            .map_err(|e| EngineError::io(dest, e))?
            .into_owned();
        let mut comps = path.components();
        comps.next();
        let rel: PathBuf = comps.collect();
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = dest.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| EngineError::io(parent, e))?;
        }
        entry
            .unpack(&target)
            .map_err(|e| EngineError::io(&target, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_marker_sits_beside_the_folder() {
        assert_eq!(
            seed_marker(Path::new("/p/data/web-one/data")),
            PathBuf::from("/p/data/web-one/.data.dops-seeded")
        );
    }

    #[test]
    fn archive_content_is_unpacked_without_its_top_folder() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        b.append_data(&mut h, "data/", std::io::empty()).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o600);
        h.set_size(5);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        b.append_data(&mut h, "data/sub/seed.txt", &b"hello"[..])
            .unwrap();
        let data = b.into_inner().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        extract_content(&data, tmp.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("sub/seed.txt")).unwrap(),
            "hello"
        );
    }
}
