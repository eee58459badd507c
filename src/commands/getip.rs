//! `dops getip:<svc>[,instance=…]`: the instance's address on the project network.

use super::engine_common::{one_running, project_dir, project_name_of, runtime};
use crate::action::{GlobalOpts, TargetAction};
use crate::engine;

pub fn execute(global: &GlobalOpts, action: &TargetAction) -> anyhow::Result<i32> {
    let dir = project_dir(global)?;
    let project = project_name_of(&dir);
    let rt = runtime()?;
    rt.block_on(async {
        let eng = engine::connect().await?;
        let c = one_running(&eng, &project, action.target.as_ref()).await?;
        let ip = match c.ip {
            Some(ip) => ip.to_string(),
            None => engine::apply::ip_of(&eng, &c.name, Some(&project)).await?,
        };
        if global.json {
            println!(
                "{}",
                serde_json::json!({"container": c.name, "service": c.service, "instance": c.instance, "ip": ip})
            );
        } else {
            println!("{ip}");
        }
        Ok(0)
    })
}
