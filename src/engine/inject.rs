//! The dops-init injection layer, the last layer of every dops image.
//!
//! After a service's own Dockerfile is built (untagged), the engine inspects the result and builds
//! one more image from a generated Dockerfile:
//!
//! ```text
//! FROM dops-init:<hash> AS dops-init        # a FROM-scratch image holding only the init binary
//! FROM sha256:<the service's image>
//! COPY --from=dops-init /dops/bin/dops-init /dops/bin/dops-init
//! ENTRYPOINT ["/dops/bin/dops-init"]
//! CMD <the main program>
//! HEALTHCHECK --interval=2s ... CMD ["/dops/bin/dops-init","health"]
//! ```
//!
//! The main program is the image's ENTRYPOINT + CMD, except when its ENTRYPOINT already is
//! `/dops/bin/dops-init` (the service is built FROM another dops image): then it is the CMD alone,
//! so a FROM chain has exactly one init and keeps the right program. The init binary travels in
//! its own small image, keyed by a hash of its content, so services do not upload it again and
//! Docker's cache keeps unchanged services unchanged.

use std::path::{Path, PathBuf};

use futures_util::StreamExt;

use super::connect::Engine;
use super::context::ContextTar;
use super::error::{is_not_found, EngineError};
use crate::labels;

pub use crate::meta::INIT_PATH;

/// Where the dops-init binary is: `DOPS_INIT_BIN`, else next to the running dops executable.
/// `explicit` (the build options' choice) wins over both.
pub fn find_init_binary(explicit: Option<&Path>) -> Result<PathBuf, EngineError> {
    if let Some(p) = explicit {
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        return Err(EngineError::InitNotFound {
            looked: p.display().to_string(),
        });
    }
    if let Some(p) = std::env::var_os("DOPS_INIT_BIN") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(EngineError::InitNotFound {
            looked: format!("DOPS_INIT_BIN={}", p.display()),
        });
    }
    let exe = std::env::current_exe().map_err(|e| EngineError::io("/proc/self/exe", e))?;
    let candidate = exe.with_file_name("dops-init");
    if candidate.is_file() {
        return Ok(candidate);
    }
    Err(EngineError::InitNotFound {
        looked: candidate.display().to_string(),
    })
}

/// The program dops-init runs, from the built image's ENTRYPOINT and CMD.
pub fn main_program(entrypoint: &[String], cmd: &[String]) -> Vec<String> {
    if entrypoint.len() == 1 && entrypoint[0] == INIT_PATH {
        return cmd.to_vec();
    }
    // A shell-form ENTRYPOINT ignores CMD (Docker's rule); it arrives as ["/bin/sh","-c","…"].
    let shell_form =
        entrypoint.len() == 3 && entrypoint[1] == "-c" && entrypoint[0].ends_with("sh");
    let mut main = entrypoint.to_vec();
    if !shell_form {
        main.extend(cmd.iter().cloned());
    }
    main
}

/// A Dockerfile string literal: `"…"` with `\` and `"` escaped.
fn quoted(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            // meta (issue 8): a literal `$` (method commands use variables), not a build variable.
            .replace('$', "\\$")
            .replace('\n', " ")
    )
}

/// The generated Dockerfile of the injection build (labels in one LABEL instruction: one layer).
pub fn injection_dockerfile(
    base: &str,
    init_image: &str,
    main: &[String],
    labels: &std::collections::BTreeMap<String, String>,
) -> String {
    let cmd = serde_json::to_string(main).unwrap_or_else(|_| "[]".into());
    let mut df = format!(
        "FROM {init_image} AS dops-init\n\
         FROM {base}\n\
         COPY --from=dops-init {INIT_PATH} {INIT_PATH}\n\
         ENTRYPOINT [\"{INIT_PATH}\"]\n\
         CMD {cmd}\n\
         HEALTHCHECK --interval=2s --timeout=5s --start-period=2s --retries=3 CMD [\"{INIT_PATH}\",\"health\"]\n"
    );
    if !labels.is_empty() {
        let pairs: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{}={}", quoted(k), quoted(v)))
            .collect();
        df.push_str(&format!("LABEL {}\n", pairs.join(" ")));
    }
    df
}

fn content_hash(data: &[u8]) -> String {
    // FNV-1a over 8-byte words: fast, stable across Rust versions, and plenty for a cache key.
    let mut acc: u64 = 0xcbf2_9ce4_8422_2325;
    for chunk in data.chunks(8) {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        acc ^= u64::from_le_bytes(w);
        acc = acc.wrapping_mul(0x0100_0000_01b3);
    }
    acc ^= data.len() as u64;
    acc = acc.wrapping_mul(0x0100_0000_01b3);
    format!("{acc:016x}")
}

/// The tag of the init carrier image of this dops-init binary: `dops-init:<hash of its bytes>`.
pub fn init_image_tag(binary: &[u8]) -> String {
    format!("dops-init:{}", content_hash(binary))
}

/// The main program of a built image (its ENTRYPOINT/CMD as dops-init will run them).
pub async fn image_main_program(engine: &Engine, image: &str) -> Result<Vec<String>, EngineError> {
    let inspect = engine
        .api()
        .inspect_image(image)
        .await
        .map_err(|e| EngineError::docker(format!("inspect image {image}"), e))?;
    let config = inspect.config.unwrap_or_default();
    Ok(main_program(
        &config.entrypoint.unwrap_or_default(),
        &config.cmd.unwrap_or_default(),
    ))
}

// ---------------------------------------------------------------------------------------------
// meta (issue 8): the image metadata in the injection layer (written by the meta engineer).
//
// The injection context gets a folder `dops-layer/` copied onto `/`: the image's metadata JSON
// at `/dops/meta/<NN>-<project>-<service>.json` (the parents' files are already in the parent
// layers) and the `container` links to dops-init (`/dops/bin/container`,
// `/usr/local/bin/container`). The same metadata goes on the image as labels.

/// The folder of the injection context that is copied onto `/`.
pub const META_LAYER: &str = "dops-layer";
/// The Dockerfile line of the injection build that adds it.
pub const META_COPY: &str = "COPY dops-layer/ /\n";

/// What the build knows about itself now (clock, host, git state of the project folder, the
/// cause), before the injection: `step`'s `io.dops.build.cause` label (`--cause`) else the `CI`
/// environment. Its [`crate::meta::BuildMeta::identity_labels`] decide whether the injection is
/// redone; [`complete_meta`] adds what the service's image determines.
pub async fn build_facts(
    step: &crate::plan::BuildStep,
    dockerfile: &str,
) -> Result<crate::meta::BuildMeta, EngineError> {
    use crate::meta::{self, BuildMeta};
    let project = step
        .labels
        .get(labels::PROJECT)
        .cloned()
        .unwrap_or_else(|| step.image.split('/').next().unwrap_or("").to_string());
    // The project folder: the parent of `services/`, else the context itself.
    let project_dir = match step.context.parent() {
        Some(p) if p.file_name().is_some_and(|n| n == "services") => {
            p.parent().unwrap_or(p).to_path_buf()
        }
        _ => step.context.clone(),
    };
    let cause = step.labels.get(meta::keys::BUILD_CAUSE).cloned();
    let base_image = crate::dockerfile::base_image(dockerfile);
    let image = step.image.clone();
    let service = step.service.clone();
    tokio::task::spawn_blocking(move || {
        BuildMeta::collect(
            &project_dir,
            &project,
            &service,
            &image,
            base_image.as_deref(),
            cause.as_deref(),
            crate::meta::Methods::default(),
        )
    })
    .await
    .map_err(|e| EngineError::Other(format!("metadata task failed: {e}")))
}

/// The metadata of the image being built: `facts` ([`build_facts`]) with what `base`, the
/// service's own build (not yet injected), determines: its dops parent's labels (hence the
/// ancestry) and its `/dops/init.d` fragments (hence the methods).
pub async fn complete_meta(
    engine: &Engine,
    base: &str,
    step: &crate::plan::BuildStep,
    facts: crate::meta::BuildMeta,
) -> Result<crate::meta::BuildMeta, EngineError> {
    let inspect = engine
        .api()
        .inspect_image(base)
        .await
        .map_err(|e| EngineError::docker(format!("inspect image {base}"), e))?;
    let base_labels: std::collections::BTreeMap<String, String> = inspect
        .config
        .and_then(|c| c.labels)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let mut meta = facts;
    (meta.methods, meta.entrypoints) = probe_image(engine, base, &meta.project).await?;
    meta.with_base_labels(&base_labels)
        .map_err(|e| EngineError::Other(format!("{}: {e}", step.service)))
}

/// Put the metadata layer into the injection context.
pub fn add_meta_layer(
    tar: &mut ContextTar,
    meta: &crate::meta::BuildMeta,
) -> Result<(), EngineError> {
    tar.add_bytes(
        &format!("{META_LAYER}{}", meta.json_path()),
        meta.to_json().as_bytes(),
        0o644,
    )?;
    tar.add_symlink(&format!("{META_LAYER}/dops/bin/container"), "dops-init")?;
    tar.add_symlink(&format!("{META_LAYER}/usr/local/bin/container"), INIT_PATH)?;
    Ok(())
}

/// What an image holds that its metadata records: the management methods its `/dops/init.d`
/// fragments declare and its entry points (`/entrypoints/*.sh`), read through one short-lived,
/// never-started container and the archive API (none when a folder is absent).
async fn probe_image(
    engine: &Engine,
    image: &str,
    project: &str,
) -> Result<(crate::meta::Methods, Vec<String>), EngineError> {
    let id = super::scratch::create_unstarted_container(engine, image, project, "probe").await?;
    let initd = download(engine, &id, image, crate::meta::INITD_DIR).await;
    let entrypoints = download(engine, &id, image, crate::meta::ENTRYPOINTS_DIR).await;
    super::scratch::remove_unstarted_container(engine, &id).await;
    let methods = match initd? {
        None => crate::meta::Methods::default(),
        Some(archive) => crate::meta::methods_from_initd_tar(&archive)
            .map_err(|e| EngineError::Other(format!("{image}: {}: {e}", crate::meta::INITD_DIR)))?,
    };
    let entrypoints = match entrypoints? {
        None => Vec::new(),
        Some(archive) => crate::meta::entrypoints_from_tar(&archive).map_err(|e| {
            EngineError::Other(format!("{image}: {}: {e}", crate::meta::ENTRYPOINTS_DIR))
        })?,
    };
    Ok((methods, entrypoints))
}

/// A folder of a container as a tar archive; None when the folder does not exist.
async fn download(
    engine: &Engine,
    id: &str,
    image: &str,
    path: &str,
) -> Result<Option<Vec<u8>>, EngineError> {
    use bollard::query_parameters::DownloadFromContainerOptions;
    let mut stream = engine.api().download_from_container(
        id,
        Some(DownloadFromContainerOptions {
            path: path.to_string(),
        }),
    );
    let mut archive = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => archive.extend_from_slice(&bytes),
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => {
                return Err(EngineError::docker(format!("read {path} from {image}"), e));
            }
        }
    }
    Ok((!archive.is_empty()).then_some(archive))
}
// --- end meta ---

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_main_program_is_entrypoint_plus_cmd() {
        assert_eq!(
            main_program(&v(&["/app"]), &v(&["--port", "80"])),
            v(&["/app", "--port", "80"])
        );
        assert_eq!(main_program(&[], &v(&["sh"])), v(&["sh"]));
        assert_eq!(
            main_program(&v(&["/bin/sh", "-c", "exec app"]), &v(&["ignored"])),
            v(&["/bin/sh", "-c", "exec app"])
        );
    }

    #[test]
    fn an_image_that_already_has_the_init_keeps_its_cmd_as_the_main_program() {
        assert_eq!(
            main_program(&v(&[INIT_PATH]), &v(&["httpd", "-f"])),
            v(&["httpd", "-f"])
        );
    }

    #[test]
    fn the_generated_dockerfile_sets_the_init_and_the_main_program() {
        let labels = std::collections::BTreeMap::from([
            ("io.dops.service".to_string(), "web".to_string()),
            ("odd".to_string(), "a \"q\" \\ b".to_string()),
        ]);
        let df = injection_dockerfile("sha256:abc", "dops-init:0123", &v(&["sleep", "1"]), &labels);
        assert!(df.ends_with("LABEL \"io.dops.service\"=\"web\" \"odd\"=\"a \\\"q\\\" \\\\ b\"\n"));
        assert!(df.starts_with("FROM dops-init:0123 AS dops-init\nFROM sha256:abc\n"));
        assert!(df.contains("ENTRYPOINT [\"/dops/bin/dops-init\"]\n"));
        assert!(df.contains("CMD [\"sleep\",\"1\"]\n"));
        assert!(df.contains("HEALTHCHECK --interval=2s"));
        assert!(df.contains("CMD [\"/dops/bin/dops-init\",\"health\"]"));
    }

    #[test]
    fn the_hash_depends_on_the_content() {
        assert_ne!(content_hash(b"abc"), content_hash(b"abd"));
        assert_eq!(content_hash(b"abc"), content_hash(b"abc"));
        assert_ne!(content_hash(b"abc"), content_hash(b"abc\0"));
    }
}
