//! Seeding a persistent folder: on first use, the host folder gets the image's content at the
//! mount point, and a marker beside it says so.
//!
//! All or nothing: the image's folder is unpacked into a temporary folder beside the target
//! (`.<name>.dops-seeding-XXXXXX`, same file system), with hard links, symbolic links, modes,
//! owners and times as in the image, and renamed into place only when every entry is there. The
//! marker is written last. A failure removes the temporary folder, writes no marker and names the
//! entry and the cause, so the next run tries again from scratch. Archive entries can never
//! write outside the temporary folder: paths with `..` are refused, hard-link targets are resolved
//! inside it, and nothing is written through a symbolic link (the `tar` crate's `unpack_in`).

use std::path::{Component, Path, PathBuf};

use bollard::query_parameters::DownloadFromContainerOptions;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::connect::Engine;
use super::error::{is_not_found, EngineError};
use super::scratch::{create_unstarted_container, remove_unstarted_container};
use crate::plan::Mount;

/// The marker that says a persistent folder was seeded (beside it, not inside: the data stays
/// exactly what the service wrote).
pub fn seed_marker(host: &Path) -> PathBuf {
    host.with_file_name(format!(".{}.dops-seeded", folder_name(host)))
}

fn folder_name(host: &Path) -> String {
    host.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into())
}

/// The prefix of the temporary folders of `host` (beside it).
fn staging_prefix(host: &Path) -> String {
    format!(".{}.dops-seeding-", folder_name(host))
}

/// Seed `mount.host` with the image's content at `mount.container`, once. True when content was
/// copied; false when already seeded, when the folder already had content (kept as it is), or
/// when the image has nothing at that path.
pub async fn seed_mount(
    engine: &Engine,
    image: &str,
    project: &str,
    mount: &Mount,
) -> Result<bool, EngineError> {
    let host = &mount.host;
    let marker = seed_marker(host);
    if marker.exists() {
        return Ok(false);
    }
    let fail = |what: String| EngineError::Seed {
        host: host.clone(),
        from: format!("{image}:{}", mount.container),
        what,
    };
    let parent = host
        .parent()
        .ok_or_else(|| fail("the folder has no parent".into()))?;
    std::fs::create_dir_all(parent)
        .map_err(|e| fail(format!("cannot create {}: {e}", parent.display())))?;
    if has_content(host).map_err(|e| fail(format!("cannot read {}: {e}", host.display())))? {
        // Content put there by someone else: it is the data; never overwritten.
        write_marker(&marker).map_err(fail)?;
        return Ok(false);
    }
    remove_stale_staging(parent, &staging_prefix(host));
    let staging = tempfile::Builder::new()
        .prefix(&staging_prefix(host))
        .tempdir_in(parent)
        .map_err(|e| {
            fail(format!(
                "cannot create a temporary folder in {}: {e}",
                parent.display()
            ))
        })?;
    // A short-lived, never-started container gives the image's files through the archive API.
    let id = create_unstarted_container(engine, image, project, "seed").await?;
    let archive = staging.path().join(".dops-seed.tar");
    let downloaded = download(engine, &id, &mount.container, &archive).await;
    remove_unstarted_container(engine, &id).await;
    if !downloaded? {
        // The image has nothing there: an empty folder, seeded.
        std::fs::create_dir_all(host)
            .map_err(|e| fail(format!("cannot create {}: {e}", host.display())))?;
        write_marker(&marker).map_err(fail)?;
        return Ok(false);
    }
    let dir = staging.path().to_path_buf();
    let content = tokio::task::spawn_blocking(move || unpack_file(&archive, &dir))
        .await
        .map_err(|e| fail(format!("the unpacking task failed: {e}")))?
        .map_err(|what| fail(as_non_root(what, nix::unistd::geteuid().as_raw())))?;
    // Into place: over the empty folder the engine may have created (rename replaces an empty
    // folder), never over content.
    std::fs::rename(&content, host).map_err(|e| {
        fail(format!(
            "cannot move {} to {}: {e}",
            content.display(),
            host.display()
        ))
    })?;
    drop(staging);
    write_marker(&marker).map_err(fail)?;
    Ok(true)
}

/// Seeding keeps the owners of the image's files, which only root may give: say so to a user who
/// runs dops without being root (a member of the `docker` group).
fn as_non_root(what: String, euid: u32) -> String {
    if euid != 0 && what.contains("ownership") {
        format!("{what}\n  dops runs as uid {euid}: the image's files there belong to other users, and only root can give files to another user; run this command as root (the other commands work as a member of the docker group)")
    } else {
        what
    }
}

/// True when `dir` exists and is not an empty folder.
fn has_content(dir: &Path) -> std::io::Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut rd) => Ok(rd.next().is_some()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The marker, written whole or not at all.
fn write_marker(marker: &Path) -> Result<(), String> {
    let tmp = marker.with_extension("dops-tmp");
    std::fs::write(&tmp, "seeded by dops on first use\n")
        .and_then(|()| std::fs::rename(&tmp, marker))
        .map_err(|e| format!("cannot write the marker {}: {e}", marker.display()))
}

/// Temporary folders left by an attempt that was killed (a failure removes its own).
fn remove_stale_staging(parent: &Path, prefix: &str) {
    let Ok(rd) = std::fs::read_dir(parent) else {
        return;
    };
    for e in rd.flatten() {
        if e.file_name().to_string_lossy().starts_with(prefix) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Copy `path` out of a container into the file `to` (a tar). False when the image has nothing
/// at that path.
async fn download(
    engine: &Engine,
    container: &str,
    path: &str,
    to: &Path,
) -> Result<bool, EngineError> {
    let mut stream = engine.api().download_from_container(
        container,
        Some(DownloadFromContainerOptions {
            path: path.to_string(),
        }),
    );
    let mut file = tokio::fs::File::create(to)
        .await
        .map_err(|e| EngineError::io(to, e))?;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(b) => file
                .write_all(&b)
                .await
                .map_err(|e| EngineError::io(to, e))?,
            Err(e) if is_not_found(&e) => return Ok(false),
            Err(e) => {
                return Err(EngineError::docker(
                    format!("copy {path} out of the image"),
                    e,
                ))
            }
        }
    }
    file.flush().await.map_err(|e| EngineError::io(to, e))?;
    Ok(true)
}

fn unpack_file(archive: &Path, dir: &Path) -> Result<PathBuf, String> {
    let file = std::fs::File::open(archive)
        .map_err(|e| format!("cannot read {}: {e}", archive.display()))?;
    let content = unpack(std::io::BufReader::new(file), dir)?;
    std::fs::remove_file(archive)
        .map_err(|e| format!("cannot remove {}: {e}", archive.display()))?;
    Ok(content)
}

/// Unpack a `GET /archive` tar (every entry under one top folder, the mount point's own name)
/// into `dir`; returns that top folder. Hard links, symbolic links, modes, owners and times are
/// kept. The error names the entry and the cause.
fn unpack<R: std::io::Read>(data: R, dir: &Path) -> Result<PathBuf, String> {
    let mut archive = tar::Archive::new(data);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(false);
    let mut top: Option<PathBuf> = None;
    // Folders last, deepest first, as `tar::Archive::unpack` does: a read-only folder must not
    // stop its own content from being written.
    let mut folders = Vec::new();
    let entries = archive
        .entries()
        .map_err(|e| format!("cannot read the archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("cannot read the archive: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("an entry with an unreadable path: {e}"))?
            .into_owned();
        let first = entry_top(&path)?;
        match &top {
            None => top = Some(first),
            Some(t) if *t == first => {}
            Some(t) => {
                return Err(format!(
                    "entry {} is not under {} (refused)",
                    path.display(),
                    t.display()
                ))
            }
        }
        if entry.header().entry_type() == tar::EntryType::Directory {
            folders.push(entry);
            continue;
        }
        unpack_entry(&mut entry, &path, dir)?;
    }
    folders.sort_by(|a, b| b.path_bytes().cmp(&a.path_bytes()));
    for mut f in folders {
        let path = f.path().map(|p| p.into_owned()).unwrap_or_default();
        unpack_entry(&mut f, &path, dir)?;
    }
    let top = top.ok_or_else(|| "the archive is empty".to_string())?;
    let content = dir.join(&top);
    match std::fs::symlink_metadata(&content) {
        Ok(m) if m.is_dir() => Ok(content),
        Ok(_) => Err(format!("{} is not a folder in the image", top.display())),
        Err(e) => Err(format!("{}: {e}", content.display())),
    }
}

/// The first component of an entry's path; `..` anywhere, or no name at all, is refused.
fn entry_top(path: &Path) -> Result<PathBuf, String> {
    let mut top = None;
    for c in path.components() {
        match c {
            Component::Normal(n) if top.is_none() => top = Some(PathBuf::from(n)),
            Component::Normal(_) | Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(format!(
                    "entry {} leaves the folder (refused)",
                    path.display()
                ))
            }
        }
    }
    top.ok_or_else(|| format!("entry {:?} has no name (refused)", path.display()))
}

fn unpack_entry<R: std::io::Read>(
    entry: &mut tar::Entry<'_, R>,
    path: &Path,
    dir: &Path,
) -> Result<(), String> {
    let link = entry
        .link_name()
        .ok()
        .flatten()
        .map(|l| format!(" (link to {})", l.display()))
        .unwrap_or_default();
    match entry.unpack_in(dir) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "entry {} leaves the folder (refused)",
            path.display()
        )),
        Err(e) => {
            // The tar crate's message, then its cause ("failed to unpack …: No such file …").
            let mut why = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                why.push_str(&format!(": {s}"));
                source = s.source();
            }
            Err(format!("cannot create {}{link}: {why}", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn a_user_who_is_not_root_is_told_why_owners_cannot_be_kept() {
        let what = "cannot create data/f: failed to set ownerships to uid=1234".to_string();
        assert_eq!(as_non_root(what.clone(), 0), what);
        assert!(as_non_root(what.clone(), 1001)
            .ends_with("dops runs as uid 1001: the image's files there belong to other users, and only root can give files to another user; run this command as root (the other commands work as a member of the docker group)"));
        assert_eq!(as_non_root("disk full".into(), 1001), "disk full");
    }

    #[test]
    fn the_seed_marker_sits_beside_the_folder() {
        assert_eq!(
            seed_marker(Path::new("/p/data/web-one/data")),
            PathBuf::from("/p/data/web-one/.data.dops-seeded")
        );
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(nix::unistd::geteuid().as_raw().into());
        h.set_gid(nix::unistd::getegid().as_raw().into());
        h.set_mtime(1_000_000);
        h
    }

    /// An archive as Docker's API gives it for `/data`.
    fn data_archive(extra: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = header(tar::EntryType::Directory, 0o750, 0);
        b.append_data(&mut h, "data/", std::io::empty()).unwrap();
        let mut h = header(tar::EntryType::Regular, 0o640, 5);
        b.append_data(&mut h, "data/a", &b"hello"[..]).unwrap();
        let mut h = header(tar::EntryType::Link, 0o640, 0);
        b.append_link(&mut h, "data/b", "data/a").unwrap();
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        b.append_link(&mut h, "data/sym", "a").unwrap();
        let mut h = header(tar::EntryType::Directory, 0o555, 0);
        b.append_data(&mut h, "data/ro/", std::io::empty()).unwrap();
        let mut h = header(tar::EntryType::Regular, 0o600, 2);
        b.append_data(&mut h, "data/ro/f", &b"ro"[..]).unwrap();
        extra(&mut b);
        b.into_inner().unwrap()
    }

    #[test]
    fn hard_links_symlinks_and_modes_are_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let content = unpack(&data_archive(|_| {})[..], tmp.path()).unwrap();
        assert_eq!(content, tmp.path().join("data"));
        let a = std::fs::metadata(content.join("a")).unwrap();
        let b = std::fs::metadata(content.join("b")).unwrap();
        assert_eq!(a.ino(), b.ino(), "b is a hard link to a");
        assert_eq!(a.nlink(), 2);
        assert_eq!(a.mode() & 0o7777, 0o640);
        assert_eq!(a.mtime(), 1_000_000);
        assert_eq!(
            std::fs::read_link(content.join("sym")).unwrap(),
            PathBuf::from("a")
        );
        assert_eq!(
            std::fs::metadata(&content).unwrap().permissions().mode() & 0o7777,
            0o750
        );
        assert_eq!(
            std::fs::metadata(content.join("ro"))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777,
            0o555
        );
        assert_eq!(std::fs::read(content.join("ro/f")).unwrap(), b"ro");
    }

    #[test]
    fn entries_never_write_outside() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("staging");
        std::fs::create_dir(&dir).unwrap();
        let outside = tmp.path().join("outside");
        // raw headers: the builder itself refuses these paths
        let raw = |name: &str, kind: tar::EntryType, link: Option<&str>| {
            data_archive(|b| {
                let mut h = header(kind, 0o644, 0);
                h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
                if let Some(l) = link {
                    h.set_link_name(l).unwrap();
                }
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            })
        };
        let cases = [
            (
                raw("data/../outside", tar::EntryType::Regular, None),
                "entry data/../outside leaves the folder (refused)",
            ),
            (
                raw("other/x", tar::EntryType::Regular, None),
                "entry other/x is not under data (refused)",
            ),
            (
                raw("/etc/x", tar::EntryType::Regular, None),
                "entry /etc/x is not under data (refused)",
            ),
            (
                raw("data/hl", tar::EntryType::Link, Some("../outside")),
                "cannot create data/hl (link to ../outside)",
            ),
            (
                raw("data/missing", tar::EntryType::Link, Some("data/nothing")),
                "cannot create data/missing (link to data/nothing)",
            ),
        ];
        for (archive, expected) in cases {
            let d = tempfile::tempdir_in(&dir).unwrap();
            let e = unpack(&archive[..], d.path()).unwrap_err();
            assert!(e.starts_with(expected), "{e}");
            assert!(!outside.exists());
        }
        // writing through a symbolic link that points out
        let through = data_archive(|b| {
            let mut h = header(tar::EntryType::Symlink, 0o777, 0);
            b.append_link(&mut h, "data/out", outside.to_str().unwrap())
                .unwrap();
            let mut h = header(tar::EntryType::Regular, 0o644, 1);
            b.append_data(&mut h, "data/out/x", &b"x"[..]).unwrap();
        });
        std::fs::create_dir(&outside).unwrap();
        let d = tempfile::tempdir_in(&dir).unwrap();
        let e = unpack(&through[..], d.path()).unwrap_err();
        assert!(e.starts_with("cannot create data/out/x"), "{e}");
        assert!(!outside.join("x").exists());
    }
}
