//! Containers that are created from an image and never started, only read through the archive
//! API: how dops gets an image's files (seeding a persistent folder, probing `/dops/init.d`).

use super::connect::Engine;
use super::error::EngineError;

/// Create a container from `image` that is never started, only read through the archive API
/// (entrypoint dops-init, no network, labelled with `project`). `role` names it in the error
/// ("seed", "probe"). Returns the container id; remove it with [`remove_unstarted_container`].
pub(crate) async fn create_unstarted_container(
    engine: &Engine,
    image: &str,
    project: &str,
    role: &str,
) -> Result<String, EngineError> {
    let body = bollard::models::ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(vec![crate::meta::INIT_PATH.into()]),
        cmd: Some(vec!["true".into()]),
        labels: Some(std::collections::HashMap::from([(
            crate::labels::PROJECT.to_string(),
            project.to_string(),
        )])),
        network_disabled: Some(true),
        ..Default::default()
    };
    let created = engine
        .api()
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            body,
        )
        .await
        .map_err(|e| EngineError::docker(format!("create a {role} container from {image}"), e))?;
    Ok(created.id)
}

/// Force-remove a container made by [`create_unstarted_container`], with its anonymous
/// volumes; best effort, a failure is ignored.
pub(crate) async fn remove_unstarted_container(engine: &Engine, id: &str) {
    let _ = engine
        .api()
        .remove_container(
            id,
            Some(bollard::query_parameters::RemoveContainerOptions {
                v: true,
                force: true,
                link: false,
            }),
        )
        .await;
}
