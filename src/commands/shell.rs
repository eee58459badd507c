//! `dops shell:<svc>[,instance=…]` (alias `ssh:`): an interactive shell through exec with a real
//! TTY, or `-- cmd args` to run one command and exit with its code. No SSH keys anywhere.

use super::instances::one_running;
use super::session::Session;
use crate::action::ShellAction;
use crate::engine::exec;
use crate::output;
use crate::project::EngineKind;

pub fn execute(s: &Session, action: &ShellAction) -> anyhow::Result<i32> {
    let code = s.block_on(async {
        let observed = s.observe().await?;
        let c = one_running(&observed, &s.project_name(), Some(&action.target))?;
        let cmd = if action.command.is_empty() {
            exec::default_shell()
        } else {
            action.command.clone()
        };
        // On a swarm, the instance's container is on some node: its engine runs the shell.
        let (engine, container) = match s.engine_kind() {
            EngineKind::Swarm => {
                crate::engine::swarm::tasks::on_its_node(s.swarm().await?, &c.name).await?
            }
            EngineKind::Local => (s.engine().await?.clone(), c.name.clone()),
        };
        anyhow::Ok(exec::exec(&engine, &container, cmd, exec::want_tty(), &output::Stdio).await?)
    })?;
    Ok(code.clamp(0, 255) as i32)
}
