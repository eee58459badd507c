//! `dops getip:<svc>[,instance=…]`: the instance's address on the project network.

use super::instances::one_running;
use super::session::Session;
use crate::action::TargetAction;
use crate::engine;
use crate::output;

pub fn execute(s: &Session, action: &TargetAction) -> anyhow::Result<i32> {
    let project = s.project_name();
    s.block_on(async {
        let observed = s.observe().await?;
        let c = one_running(&observed, &project, action.target.as_ref())?;
        let ip = match c.ip {
            Some(ip) => ip.to_string(),
            None => engine::container::ip_of(s.engine().await?, &c.name, Some(&project)).await?,
        };
        if s.global.json {
            output::out(&format!(
                "{}\n",
                serde_json::json!({"container": c.name, "service": c.service, "instance": c.instance, "ip": ip})
            ));
        } else {
            output::out(&format!("{ip}\n"));
        }
        Ok(0)
    })
}
