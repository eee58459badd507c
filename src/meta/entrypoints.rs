//! The DockerOps entry points `/entrypoints/*.sh` by image ancestry: each image's metadata
//! records the entry points it has (`BuildMeta::entrypoints`, read at build time from
//! the service's own image), and dops-init runs them parents first: an entry point's rank is
//! the first image of the chain that has it, then names order one image's entry points, as
//! DockerOps does for a single image. A child that replaces a parent's file keeps the parent's
//! place. Entry points no metadata names (an image built before dops recorded them, a file added
//! at run time) come last, in name order.

use std::collections::BTreeMap;

use super::error::MetaError;
use super::model::BuildMeta;

/// The folder of the entry points in an image.
pub const ENTRYPOINTS_DIR: &str = "/entrypoints";

/// Is `name` an entry point file name (`*.sh`, no folder)?
pub fn is_entrypoint_name(name: &str) -> bool {
    name.ends_with(".sh") && name.len() > 3 && !name.contains('/')
}

/// `names` (file names in `/entrypoints`), parents' first along `chain` (oldest first).
pub fn ancestry_order(names: &[String], chain: &[BuildMeta]) -> Vec<String> {
    let mut rank: BTreeMap<&str, usize> = BTreeMap::new();
    for (level, meta) in chain.iter().enumerate() {
        for n in &meta.entrypoints {
            rank.entry(n.as_str()).or_insert(level);
        }
    }
    let mut out: Vec<String> = names.to_vec();
    out.sort_by(|a, b| {
        let ra = rank.get(a.as_str()).copied().unwrap_or(chain.len());
        let rb = rank.get(b.as_str()).copied().unwrap_or(chain.len());
        ra.cmp(&rb).then_with(|| a.cmp(b))
    });
    out
}

/// The entry point names in a tar of `/entrypoints` (the engine's archive API: entries
/// `entrypoints/<name>`): files and symbolic links directly in the folder, sorted.
pub fn entrypoints_from_tar(archive: &[u8]) -> Result<Vec<String>, MetaError> {
    let mut names = Vec::new();
    let mut tar = tar::Archive::new(archive);
    for entry in tar.entries().map_err(MetaError::Tar)? {
        let entry = entry.map_err(MetaError::Tar)?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_symlink()) {
            continue;
        }
        let path = entry.path().map_err(MetaError::Tar)?;
        let path = path.to_string_lossy();
        let Some(name) = path.strip_prefix("entrypoints/") else {
            continue;
        };
        if is_entrypoint_name(name) {
            names.push(name.to_string());
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::model::tests::sample;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn level(entrypoints: &[&str]) -> BuildMeta {
        let mut m = sample(0, "x", "c");
        m.entrypoints = v(entrypoints);
        m
    }

    #[test]
    fn parents_first_whatever_the_names() {
        let chain = [
            level(&["entrypoint-base.sh", "zz-base.sh"]),
            level(&["entrypoint-app.sh", "entrypoint-base.sh", "zz-base.sh"]),
        ];
        let names = v(&["entrypoint-app.sh", "entrypoint-base.sh", "zz-base.sh"]);
        assert_eq!(
            ancestry_order(&names, &chain),
            v(&["entrypoint-base.sh", "zz-base.sh", "entrypoint-app.sh"])
        );
    }

    #[test]
    fn one_image_or_no_record_is_name_order() {
        let names = v(&["b.sh", "a.sh", "10-x.sh"]);
        assert_eq!(
            ancestry_order(&names, &[level(&["a.sh", "b.sh", "10-x.sh"])]),
            v(&["10-x.sh", "a.sh", "b.sh"])
        );
        assert_eq!(ancestry_order(&names, &[]), v(&["10-x.sh", "a.sh", "b.sh"]));
        // unknown ones last
        assert_eq!(
            ancestry_order(&names, &[level(&["b.sh"])]),
            v(&["b.sh", "10-x.sh", "a.sh"])
        );
    }

    #[test]
    fn names_from_the_archive() {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |path: &str, kind: tar::EntryType| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_size(0);
            h.set_mode(0o755);
            if kind.is_symlink() {
                h.set_link_name("/bin/true").unwrap();
            }
            b.append_data(&mut h, path, std::io::empty()).unwrap();
        };
        add("entrypoints", tar::EntryType::Directory);
        add("entrypoints/20-b.sh", tar::EntryType::Regular);
        add("entrypoints/10-a.sh", tar::EntryType::Symlink);
        add("entrypoints/notes.txt", tar::EntryType::Regular);
        add("entrypoints/sub", tar::EntryType::Directory);
        add("entrypoints/sub/30-c.sh", tar::EntryType::Regular);
        let archive = b.into_inner().unwrap();
        assert_eq!(
            entrypoints_from_tar(&archive).unwrap(),
            v(&["10-a.sh", "20-b.sh"])
        );
    }
}
