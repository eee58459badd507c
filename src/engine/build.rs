//! Image builds: parents first, independent services in parallel (bounded by the cores), one
//! progress line per service showing its current step, `-v` for the full output.
//!
//! A service is built in two API calls: its own Dockerfile (untagged, so a failure leaves the
//! previous `<project>/<service>` image exactly as it was), then the dops-init injection layer
//! (`inject`), which is the only build of a service that tags. A failed build reports the failing
//! step's output and its Dockerfile line. The init carrier image (`inject::init_image_tag`) is
//! built here too, once per dops-init binary, by the same build call.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use bollard::query_parameters::BuildImageOptions;
use futures_util::StreamExt;

use super::connect::Engine;
use super::context::{service_context, ContextTar};
use super::error::{is_lost_tail, is_not_found, EngineError};
use super::inject::{self, find_init_binary, injection_dockerfile};
use super::progress::{Progress, Reporter};
use crate::labels;
use crate::plan::BuildStep;

/// How to run a set of builds.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Stream every line of the build output (`-v`).
    pub verbose: bool,
    /// At most this many builds at once; 0 = the number of cores.
    pub jobs: usize,
    /// The dops-init to inject; None = `DOPS_INIT_BIN`, else the one next to the dops executable.
    pub init_bin: Option<PathBuf>,
}

/// One finished build.
#[derive(Debug, Clone)]
pub struct Built {
    pub service: String,
    pub image: String,
    pub id: String,
    pub seconds: f64,
}

/// Build these steps (already in parent-first order), running independent ones in parallel.
/// Every build is attempted unless one of its parents failed; the first failure is returned.
pub async fn build_all(
    engine: &Engine,
    steps: &[BuildStep],
    opts: &BuildOptions,
    report: &Reporter,
) -> Result<Vec<Built>, EngineError> {
    if steps.is_empty() {
        return Ok(Vec::new());
    }
    let init_bin = find_init_binary(opts.init_bin.as_deref())?;
    let init_image = ensure_init_image(engine, &init_bin).await?;
    let jobs = if opts.jobs == 0 {
        // The cores, but at least two: a build mostly waits on the engine.
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .max(2)
    } else {
        opts.jobs
    };
    let in_plan: BTreeSet<&str> = steps.iter().map(|s| s.service.as_str()).collect();
    let mut pending: Vec<&BuildStep> = steps.iter().collect();
    let mut done: BTreeMap<String, Built> = BTreeMap::new();
    let mut failed: BTreeMap<String, EngineError> = BTreeMap::new();
    let mut running: BTreeSet<String> = BTreeSet::new();
    let mut set = tokio::task::JoinSet::new();
    let shared = Arc::new((init_image, report.clone()));

    loop {
        // Skip the children of failed builds.
        let mut i = 0;
        while i < pending.len() {
            let step = pending[i];
            let broken = step
                .parents
                .iter()
                .find(|p| failed.contains_key(*p) && in_plan.contains(p.as_str()));
            if let Some(parent) = broken {
                let err = EngineError::ParentFailed {
                    service: step.service.clone(),
                    parent: parent.clone(),
                };
                report(Progress::BuildNote(format!("✗ {}", err)));
                failed.insert(step.service.clone(), err);
                pending.remove(i);
            } else {
                i += 1;
            }
        }
        // Start what is ready.
        let mut i = 0;
        while i < pending.len() && running.len() < jobs {
            let step = pending[i];
            let ready = step
                .parents
                .iter()
                .all(|p| !in_plan.contains(p.as_str()) || done.contains_key(p));
            if ready {
                pending.remove(i);
                running.insert(step.service.clone());
                let engine = engine.clone();
                let step = step.clone();
                let shared = shared.clone();
                set.spawn(async move {
                    let (init_image, report) = &*shared;
                    let r = build_one(&engine, &step, init_image, report).await;
                    (step.service.clone(), r)
                });
            } else {
                i += 1;
            }
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let (service, result) =
            joined.map_err(|e| EngineError::Other(format!("build task failed: {e}")))?;
        running.remove(&service);
        match result {
            Ok(b) => {
                report(Progress::BuildEnded {
                    service: service.clone(),
                    summary: format!("✓ built {} ({}, {:.1}s)", b.service, b.image, b.seconds),
                });
                done.insert(service, b);
            }
            Err(e) => {
                report(Progress::BuildEnded {
                    service: service.clone(),
                    summary: format!("✗ build of {service} failed"),
                });
                failed.insert(service, e);
            }
        }
    }
    report(Progress::BuildsOver);
    if failed.is_empty() {
        // Keep the plan's order.
        return Ok(steps
            .iter()
            .filter_map(|s| done.remove(&s.service))
            .collect());
    }
    // Report the first real failure (not a "parent failed" consequence) in plan order.
    let first = steps
        .iter()
        .find(|s| {
            failed
                .get(&s.service)
                .is_some_and(|e| !matches!(e, EngineError::ParentFailed { .. }))
        })
        .or_else(|| steps.iter().find(|s| failed.contains_key(&s.service)))
        .map(|s| s.service.clone())
        .unwrap_or_default();
    let others: Vec<String> = failed.keys().filter(|k| **k != first).cloned().collect();
    let err = failed
        .remove(&first)
        .unwrap_or_else(|| EngineError::Other("build failed".into()));
    if others.is_empty() {
        Err(err)
    } else {
        Err(EngineError::Other(format!(
            "{err}\n(also not built: {})",
            others.join(", ")
        )))
    }
}

/// The built-in DNS service (no folder in the project: it is embedded in dops).
pub const DNS_SERVICE: &str = "dops-dns";
/// Its Dockerfile: the static dops binary on an empty image.
pub const DNS_DOCKERFILE: &str =
    "FROM scratch\nCOPY dops /dops/bin/dops\nCMD [\"/dops/bin/dops\",\"dns\",\"serve\"]\n";

/// The dops binary put into built-in service contexts: `DOPS_BIN` or the running executable.
fn dops_binary() -> Result<PathBuf, EngineError> {
    match std::env::var_os("DOPS_BIN") {
        Some(p) => Ok(PathBuf::from(p)),
        None => std::env::current_exe().map_err(|e| EngineError::io("/proc/self/exe", e)),
    }
}

/// The context tar of a build step and its Dockerfile text. The built-in `dops-dns` uses its
/// embedded Dockerfile when the project has no folder for it, and always gets the dops binary.
fn build_context(step: &BuildStep) -> Result<(Vec<u8>, String), EngineError> {
    let dir = &step.context;
    let has_folder = !dir.as_os_str().is_empty() && dir.join("Dockerfile").is_file();
    let mut tar = ContextTar::new();
    let dockerfile = if has_folder {
        let path = dir.join("Dockerfile");
        let text = std::fs::read_to_string(&path).map_err(|e| EngineError::io(&path, e))?;
        if step.service != DNS_SERVICE {
            return Ok((service_context(dir, "Dockerfile")?, text));
        }
        let ignore = super::context::Ignore::load(dir, "Dockerfile")?;
        for rel in super::context::context_files(dir, &ignore)? {
            tar.add_path(&dir.join(&rel), &rel)?;
        }
        text
    } else if step.service == DNS_SERVICE {
        tar.add_bytes("Dockerfile", DNS_DOCKERFILE.as_bytes(), 0o644)?;
        DNS_DOCKERFILE.to_string()
    } else {
        let path = dir.join("Dockerfile");
        return Err(EngineError::io(
            &path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no Dockerfile"),
        ));
    };
    if !dir.join("dops").exists() {
        tar.add_path(&dops_binary()?, "dops")?;
    }
    Ok((tar.finish()?, dockerfile))
}

async fn build_one(
    engine: &Engine,
    step: &BuildStep,
    init_image: &str,
    report: &Reporter,
) -> Result<Built, EngineError> {
    let start = Instant::now();
    report(Progress::BuildStarted {
        service: step.service.clone(),
    });
    let for_context = step.clone();
    let (body, dockerfile) = tokio::task::spawn_blocking(move || build_context(&for_context))
        .await
        .map_err(|e| EngineError::Other(format!("context task failed: {e}")))??;

    let labels: std::collections::HashMap<String, String> = step
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let options = BuildImageOptions {
        dockerfile: "Dockerfile".into(),
        t: None,
        nocache: step.no_cache,
        rm: true,
        forcerm: true,
        labels: Some(labels.clone()),
        ..Default::default()
    };
    let base = run_build(
        engine,
        &step.service,
        options,
        body,
        Some(&dockerfile),
        report,
    )
    .await?;

    // The injection layer: its result is fully determined by the service image, the init and the
    // labels, which the final image records; when they are unchanged the tag is already right.
    // The labels include what the metadata says about this build but its time (git state,
    // cause, …): a build at a new commit gets its own metadata even when nothing else changed.
    let mut labels = labels;
    labels.insert(labels::BASE.to_string(), base.clone());
    labels.insert(labels::INIT_IMAGE.to_string(), init_image.to_string());
    let facts = inject::build_facts(step, &dockerfile).await?;
    labels.extend(facts.identity_labels());
    if let Some(current) = super::observe::image_info(engine, &step.image).await? {
        let same = labels.iter().all(|(k, v)| current.labels.get(k) == Some(v));
        if same {
            return Ok(Built {
                service: step.service.clone(),
                image: step.image.clone(),
                id: current.id,
                seconds: start.elapsed().as_secs_f64(),
            });
        }
    }
    report(Progress::BuildStep {
        service: step.service.clone(),
        step: "injecting dops-init".into(),
    });
    let main = inject::image_main_program(engine, &base).await?;
    let mut tar = ContextTar::new();
    // meta (issue 8): the metadata layer and labels.
    let meta = inject::complete_meta(engine, &base, step, facts).await?;
    inject::add_meta_layer(&mut tar, &meta)?;
    labels.extend(meta.labels());
    let mut injection = injection_dockerfile(
        &base,
        init_image,
        &main,
        &labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    );
    injection.push_str(inject::META_COPY);
    // --- end meta ---
    tar.add_bytes("Dockerfile", injection.as_bytes(), 0o644)?;
    let options = BuildImageOptions {
        dockerfile: "Dockerfile".into(),
        t: Some(step.image.clone()),
        rm: true,
        forcerm: true,
        labels: None,
        ..Default::default()
    };
    let id = run_build(engine, &step.service, options, tar.finish()?, None, report).await?;
    Ok(Built {
        service: step.service.clone(),
        image: step.image.clone(),
        id,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Make sure the init carrier image `dops-init:<hash>` exists; returns its tag.
async fn ensure_init_image(engine: &Engine, binary: &Path) -> Result<String, EngineError> {
    let data = std::fs::read(binary).map_err(|e| EngineError::io(binary, e))?;
    let tag = inject::init_image_tag(&data);
    match engine.api().inspect_image(&tag).await {
        Ok(_) => return Ok(tag),
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(EngineError::docker(format!("inspect {tag}"), e)),
    }
    let mut tar = ContextTar::new();
    tar.add_bytes(
        "Dockerfile",
        format!(
            "FROM scratch\nCOPY dops-init {}\nLABEL {}=true\n",
            inject::INIT_PATH,
            labels::INIT
        )
        .as_bytes(),
        0o644,
    )?;
    tar.add_bytes("dops-init", &data, 0o755)?;
    let body = tar.finish()?;
    let options = BuildImageOptions {
        dockerfile: "Dockerfile".into(),
        t: Some(tag.clone()),
        rm: true,
        forcerm: true,
        ..Default::default()
    };
    // The same build call as a service's, an answer that loses its tail included.
    run_build(engine, &tag, options, body, None, &super::progress::quiet()).await?;
    Ok(tag)
}

/// Run one build, following its output; returns the image id.
///
/// When the engine's answer loses its tail in transit ([`is_lost_tail`]), the build's outcome is
/// confirmed from the engine if the id arrived (and the tag, if any, names it); otherwise the
/// build is run once more, from the engine's cache.
async fn run_build(
    engine: &Engine,
    service: &str,
    options: BuildImageOptions,
    body: Vec<u8>,
    dockerfile: Option<&str>,
    report: &Reporter,
) -> Result<String, EngineError> {
    let body = bytes::Bytes::from(body);
    let mut attempt = 1;
    loop {
        let followed = follow_build(
            engine,
            service,
            options.clone(),
            body.clone(),
            dockerfile,
            report,
        )
        .await?;
        let lost = match followed {
            Followed::Done(id) => return Ok(id),
            Followed::LostTail { id, error } => {
                if let Some(id) = id {
                    if tag_names(engine, options.t.as_deref(), &id).await? {
                        return Ok(id);
                    }
                }
                error
            }
        };
        if attempt == 2 {
            return Err(EngineError::docker(
                format!("build {service} (its answer was cut short twice)"),
                lost,
            ));
        }
        attempt += 1;
        tracing::warn!(
            service,
            "the engine's answer to the build was cut short ({lost}); building again"
        );
    }
}

/// How one build call's answer ended.
enum Followed {
    /// The build succeeded with this image id.
    Done(String),
    /// The answer lost its tail; the id, if it arrived before.
    LostTail {
        id: Option<String>,
        error: bollard::errors::Error,
    },
}

/// True when the build's outcome is confirmed: `tag` (if the build had one) names image `id`.
async fn tag_names(engine: &Engine, tag: Option<&str>, id: &str) -> Result<bool, EngineError> {
    let Some(tag) = tag else { return Ok(true) };
    Ok(super::observe::image_info(engine, tag)
        .await?
        .is_some_and(|image| same_image(&image.id, id)))
}

/// Docker names an image by `sha256:<hex>` in the aux message and by a short hex prefix in
/// "Successfully built <id>".
fn same_image(full: &str, reported: &str) -> bool {
    let full = full.strip_prefix("sha256:").unwrap_or(full);
    let reported = reported.strip_prefix("sha256:").unwrap_or(reported);
    !reported.is_empty() && full.starts_with(reported)
}

/// One build call, following its output.
async fn follow_build(
    engine: &Engine,
    service: &str,
    options: BuildImageOptions,
    body: bytes::Bytes,
    dockerfile: Option<&str>,
    report: &Reporter,
) -> Result<Followed, EngineError> {
    let mut stream = engine
        .api()
        .build_image(options, None, Some(bollard::body_full(body)));
    let mut id: Option<String> = None;
    let mut partial = String::new();
    let mut lines = StepLines {
        service,
        report,
        header: None,
        output: Vec::new(),
        built: None,
    };
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(s) = info.stream {
                    partial.push_str(&s);
                    while let Some(nl) = partial.find('\n') {
                        let line: String = partial.drain(..=nl).collect();
                        lines.push(line.trim_end_matches(['\n', '\r']));
                    }
                }
                if let Some(aux) = info.aux.and_then(|a| a.id) {
                    id = Some(aux);
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                if !partial.is_empty() {
                    let rest = std::mem::take(&mut partial);
                    lines.push(&rest);
                }
                let step = lines
                    .header
                    .as_deref()
                    .map(|h| locate_step(h, dockerfile))
                    .filter(|s| !s.is_empty());
                let mut output = lines.output.join("\n");
                if !output.is_empty() {
                    output.push('\n');
                }
                output.push_str(&error);
                return Err(EngineError::BuildFailed {
                    service: service.to_string(),
                    step,
                    output,
                });
            }
            Err(error) if is_lost_tail(&error) => {
                return Ok(Followed::LostTail {
                    id: id.or(lines.built),
                    error,
                })
            }
            Err(e) => return Err(EngineError::docker(format!("build {service}"), e)),
        }
    }
    let id = id.or(lines.built);
    id.map(Followed::Done)
        .ok_or_else(|| EngineError::BuildFailed {
            service: service.to_string(),
            step: None,
            output: "the engine did not report an image id".into(),
        })
}

/// The output of one build, line by line: the current step and what it printed.
struct StepLines<'a> {
    service: &'a str,
    report: &'a Reporter,
    header: Option<String>,
    output: Vec<String>,
    /// From "Successfully built <id>", in case the engine sent no aux id.
    built: Option<String>,
}

impl StepLines<'_> {
    fn push(&mut self, line: &str) {
        (self.report)(Progress::BuildOutput {
            service: self.service.to_string(),
            line: line.to_string(),
        });
        if line.starts_with("Step ") {
            (self.report)(Progress::BuildStep {
                service: self.service.to_string(),
                step: line.to_string(),
            });
            self.header = Some(line.to_string());
            self.output.clear();
        } else if !line.trim().is_empty() {
            if self.output.len() >= 200 {
                self.output.remove(0);
            }
            self.output.push(line.to_string());
            if let Some(s) = line.strip_prefix("Successfully built ") {
                self.built = Some(s.trim().to_string());
            }
        }
    }
}

/// "Step 3/5 : RUN false" → "Dockerfile:7: RUN false" (the Dockerfile line of that instruction).
pub fn locate_step(header: &str, dockerfile: Option<&str>) -> String {
    let rest = header.trim_start_matches("Step ");
    let (num, instr) = match rest.split_once(" : ") {
        Some((n, i)) => (n, i),
        None => (rest, ""),
    };
    let n: Option<usize> = num.split('/').next().and_then(|n| n.trim().parse().ok());
    let line = dockerfile.and_then(|text| {
        let ins = crate::dockerfile::instructions(text);
        n.and_then(|n| ins.get(n.wrapping_sub(1)).cloned())
    });
    match line {
        Some((l, text)) => format!("Dockerfile:{l}: {text}"),
        None if !instr.is_empty() => format!("step {num}: {instr}"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reported_id_names_the_image_in_either_spelling() {
        let full = "sha256:3d546227362a50e2f4cabf5e77ed810d00342791f59022b19a3084d864fb378e";
        assert!(same_image(full, full));
        assert!(same_image(full, "3d546227362a"));
        assert!(!same_image(full, "3d546227362b"));
        assert!(!same_image(full, ""));
        assert!(!same_image(full, "sha256:"));
    }

    #[test]
    fn only_tokio_utils_end_of_stream_remnant_is_a_lost_tail() {
        // The error as tokio-util's decoder makes it at the end of a stream, through bollard's
        // conversion; any other I/O error is a real failure.
        let lost: bollard::errors::Error =
            std::io::Error::other("bytes remaining on stream").into();
        assert!(is_lost_tail(&lost));
        let reset: bollard::errors::Error =
            std::io::Error::from(std::io::ErrorKind::ConnectionReset).into();
        assert!(!is_lost_tail(&reset));
    }

    #[test]
    fn a_step_header_maps_to_its_dockerfile_line() {
        let df = "FROM busybox\n# c\nRUN true\n\nRUN exit 3\n";
        assert_eq!(
            locate_step("Step 3/3 : RUN exit 3", Some(df)),
            "Dockerfile:5: RUN exit 3"
        );
        assert_eq!(locate_step("Step 9/9 : RUN x", Some(df)), "step 9/9: RUN x");
    }

    #[test]
    fn the_builtin_dns_context_is_the_embedded_dockerfile_and_the_dops_binary() {
        let step = BuildStep {
            service: DNS_SERVICE.into(),
            image: "p/dops-dns".into(),
            context: PathBuf::new(),
            parents: vec![],
            no_cache: false,
            labels: Default::default(),
            builtin: true,
        };
        let (tar, dockerfile) = build_context(&step).unwrap();
        assert_eq!(dockerfile, DNS_DOCKERFILE);
        let names = crate::engine::context::tar_entry_names(&tar);
        assert_eq!(names, vec!["Dockerfile", "dops"]);
    }
}
