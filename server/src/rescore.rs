//! Scoring the estate again while the server runs. Dormancy grows with every day a grant goes
//! unused, so between imports the stored scores and their explanations fall behind; the server
//! scores every active grant again on a schedule, as `attest rescore` does.

use std::time::Duration;

use app::db::Db;

/// Scores the estate again every `every`, at each multiple of it since 1970-01-01 00:00 UTC
/// (daily at midnight UTC for a day), for as long as the server runs: a server restarted more
/// often than `every` still runs on time. A failed run is logged here, once, and the next is
/// tried at its time.
pub fn spawn(db: Db, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let period = u64::try_from(every.as_millis()).unwrap_or(u64::MAX).max(1);
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let into_period = u64::try_from(since_epoch.as_millis()).unwrap_or(0) % period;
        let first = tokio::time::Instant::now() + Duration::from_millis(period - into_period);
        let mut ticks = tokio::time::interval_at(first, every);
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
