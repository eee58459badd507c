//! `dops shell:<svc>[,instance=…]` (alias `ssh:`): an interactive shell through exec with a real
//! TTY, or `-- cmd args` to run one command and exit with its code. No SSH keys anywhere.

use super::engine_common::{one_running, project_dir, project_name_of, runtime};
use crate::action::{GlobalOpts, ShellAction};
use crate::engine::{self, exec};

pub fn execute(global: &GlobalOpts, action: &ShellAction) -> anyhow::Result<i32> {
    let dir = project_dir(global)?;
    let project = project_name_of(&dir);
    let rt = runtime()?;
    let code = rt.block_on(async {
        let eng = engine::connect().await?;
        let c = one_running(&eng, &project, Some(&action.target)).await?;
        let (cmd, tty) = if action.command.is_empty() {
            (exec::default_shell(), exec::want_tty())
        } else {
            (action.command.clone(), exec::want_tty())
        };
        anyhow::Ok(exec::exec(&eng, &c.name, cmd, tty).await?)
    })?;
    // The stdin reader thread may still be blocked in read(): leave without waiting for it.
    rt.shutdown_background();
    Ok(code.clamp(0, 255) as i32)
}
