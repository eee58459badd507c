//! Images for a swarm: built on the build engine as on one engine, then tagged by content and
//! pushed to the registry the nodes pull from. The tag is the image id's first 12 hex digits, so
//! a rebuild is a new reference (and a new service spec: the roll-out), and an unchanged image
//! is the same reference (nothing to roll out).

use bollard::query_parameters::{PushImageOptions, TagImageOptions};
use futures_util::StreamExt;

use super::target::Swarm;
use crate::engine::error::{is_lost_tail, is_not_found, EngineError};

/// An image as the nodes pull it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// `<registry>/<project>/<service>:<tag>`
    pub reference: String,
    /// The builder's image id.
    pub id: String,
}

/// The content tag of an image id (`sha256:0123…` → `0123456789ab`).
pub fn content_tag(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.chars().take(12).collect()
}

/// Tag `image` (`<project>/<service>`, on the builder) by content and push it.
pub async fn push(swarm: &Swarm, image: &str) -> Result<Pushed, EngineError> {
    let api = swarm.builder.api();
    let info = match api.inspect_image(image).await {
        Ok(i) => i,
        Err(e) if is_not_found(&e) => {
            return Err(EngineError::Other(format!(
                "image {image} is not on the build engine\nhint: dops build:{}",
                image.rsplit('/').next().unwrap_or(image)
            )))
        }
        Err(e) => return Err(EngineError::docker(format!("inspect image {image}"), e)),
    };
    let id = info.id.unwrap_or_default();
    let tag = content_tag(&id);
    let repo = format!("{}/{image}", swarm.registry_push);
    api.tag_image(
        image,
        Some(TagImageOptions {
            repo: Some(repo.clone()),
            tag: Some(tag.clone()),
        }),
    )
    .await
    .map_err(|e| EngineError::docker(format!("tag {image} as {repo}:{tag}"), e))?;
    // A push is redone once when its answer lost its tail (`is_lost_tail`): what was lost may be
    // the error, and pushing again only sends what the registry lacks.
    for attempt in 1..=2 {
        let mut stream = api.push_image(
            &repo,
            Some(PushImageOptions {
                tag: Some(tag.clone()),
                ..Default::default()
            }),
            None,
        );
        let mut lost = false;
        while let Some(item) = stream.next().await {
            let item = match item {
                Err(e) if is_lost_tail(&e) && attempt == 1 => {
                    lost = true;
                    continue;
                }
                item => item.map_err(|e| EngineError::docker(format!("push {repo}:{tag}"), e))?,
            };
            if let Some(d) = item.error_detail {
                return Err(EngineError::Other(format!(
                    "push {repo}:{tag}: {}\nhint: is the registry {} running, and reachable from the build engine (an insecure registry must be allowed there)?",
                    d.message.unwrap_or_default(),
                    swarm.registry_push
                )));
            }
        }
        if !lost {
            break;
        }
    }
    Ok(Pushed {
        reference: format!("{}/{image}:{tag}", swarm.registry),
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_the_content() {
        assert_eq!(content_tag("sha256:0123456789abcdef0123"), "0123456789ab");
        assert_eq!(content_tag("abc"), "abc");
    }
}
