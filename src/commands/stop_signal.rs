//! The stop request of a command that runs until it is interrupted (`events`, `ui`,
//! `status --watch`): Ctrl-C (SIGINT) or SIGTERM.
//!
//! Create the future once and keep it for the command's whole life. tokio delivers a signal only
//! to the listeners that exist when it arrives, so a listener made afresh for each wait would
//! miss a Ctrl-C that came while the command was busy, and then SIGINT, whose default action
//! tokio has replaced, would be ignored.

/// Resolves when the command is asked to stop (Ctrl-C, SIGTERM).
pub async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
