//! Scoring the estate again while the server runs. Dormancy grows with every day a grant goes
//! unused, so between imports the stored scores and their explanations fall behind; the server
//! scores every active grant again on a schedule, as `attest rescore` does.

use std::time::Duration;

use app::db::Db;

/// Scores the estate again every `every`, the first time one interval after the start, for
/// as long as the server runs. A failed run is logged here, once, and the next is tried at
/// its time.
pub fn spawn(db: Db, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        // A run that outlasts the interval is followed by the next one interval later, not at once.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let started = std::time::Instant::now();
            match app::scoring::server::repo::rescore(&db).await {
                Ok(scored) => tracing::info!(scored, ms = started.elapsed().as_millis() as u64, "estate scored again"),
                Err(e) => tracing::error!(error = %e, "scoring the estate again failed"),
            }
        }
    })
}
