//! The outbox worker: POSTs due events to webhooks and records the outcome.
//!
//! One task per server. It wakes when an event is queued (a `Notify` from the API) or when the
//! next retry falls due, never busy-polls, and survives every error (a failing receiver or a
//! database hiccup is logged and retried). A row is marked delivered only after a 2xx, so a
//! crash mid-delivery means the event is sent again (at least once). After
//! `webhooks.max_attempts` failures the row is parked as failed and the failure is audited.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;
use tokio::sync::Notify;

use super::signature;
use crate::audit::AuditAction;
use crate::auth::Actor;
use crate::clock::now_ms;
use crate::config::WebhookConfig;
use crate::db::{Db, DbError};

/// Rows fetched per round.
const BATCH: i64 = 32;

/// Delay before attempt `attempts + 1`, doubling from `base` up to `max`.
pub fn backoff_ms(attempts: i64, base: u64, max: u64) -> u64 {
    let shift = attempts.clamp(0, 30) as u32;
    base.saturating_mul(1u64 << shift).min(max)
}

/// Runs the delivery loop until the task is dropped.
pub async fn run(db: Db, config: WebhookConfig, wake: Arc<Notify>) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_millis(config.timeout_ms))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("gavel/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook delivery disabled: HTTP client failed to build");
            return;
        }
    };
    loop {
        let wait = match deliver_due(&db, &config, &client).await {
            Ok(Some(next_due)) => {
                let ms = (next_due - now_ms()).clamp(0, config.poll_interval_ms as i64);
                Duration::from_millis(ms as u64)
            }
            Ok(None) => Duration::from_millis(config.poll_interval_ms),
            Err(e) => {
                tracing::warn!(error = %e, "webhook outbox read failed; retrying");
                Duration::from_millis(config.poll_interval_ms)
            }
        };
        if wait.is_zero() {
            continue;
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Delivers everything due now; returns when the next pending row falls due, if any.
async fn deliver_due(
    db: &Db,
    config: &WebhookConfig,
    client: &reqwest::Client,
) -> Result<Option<i64>, DbError> {
    let now = now_ms();
    let rows = sqlx::query(
        "SELECT o.id, o.webhook_id, o.event_id, o.event_type, o.payload, o.attempts, w.url, w.secret \
         FROM webhook_outbox o JOIN webhooks w ON w.id = o.webhook_id \
         WHERE o.delivered_at IS NULL AND o.failed_at IS NULL AND w.disabled_at IS NULL \
           AND o.next_attempt_at <= $1 \
         ORDER BY o.created_at, o.id LIMIT $2",
    )
    .bind(now)
    .bind(BATCH)
    .fetch_all(db.pool())
    .await?;
    // A receiver that fails once is not tried again this round, so one dead endpoint cannot
    // hold up every other webhook for a batch's worth of timeouts.
    let mut failing: HashSet<String> = HashSet::new();
    for r in &rows {
        let webhook_id: String = r.try_get("webhook_id")?;
        if failing.contains(&webhook_id) {
            continue;
        }
        let id: String = r.try_get("id")?;
        let event_id: String = r.try_get("event_id")?;
        let event_type: String = r.try_get("event_type")?;
        let payload: String = r.try_get("payload")?;
        let attempts: i64 = r.try_get("attempts")?;
        let url: String = r.try_get("url")?;
        let secret: String = r.try_get("secret")?;
        let sig = signature::sign(&secret, now_ms() / 1000, payload.as_bytes());
        if let Err(e) = super::target::check_resolved(&url, config).await {
            failing.insert(webhook_id);
            record_failure(db, config, &id, &event_type, attempts + 1, &e.to_string()).await?;
            continue;
        }
        let result = client
            .post(&url)
            .header("content-type", "application/json")
            .header("gavel-event", &event_type)
            .header("gavel-delivery", &event_id)
            .header("gavel-signature", sig)
            .body(payload)
            .send()
            .await;
        let failure = match result {
            Ok(res) if res.status().is_success() => None,
            Ok(res) => Some(format!("HTTP {}", res.status().as_u16())),
            Err(e) => Some(describe(&e)),
        };
        match failure {
            None => {
                sqlx::query(
                    "UPDATE webhook_outbox SET delivered_at = $1, attempts = $2 WHERE id = $3",
                )
                .bind(now_ms())
                .bind(attempts + 1)
                .bind(&id)
                .execute(db.pool())
                .await?;
                tracing::debug!(event = %event_type, "webhook delivered");
            }
            Some(reason) => {
                failing.insert(webhook_id);
                record_failure(db, config, &id, &event_type, attempts + 1, &reason).await?;
            }
        }
    }
    if rows.len() as i64 == BATCH {
        return Ok(Some(now));
    }
    let next: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(o.next_attempt_at) FROM webhook_outbox o JOIN webhooks w ON w.id = o.webhook_id \
         WHERE o.delivered_at IS NULL AND o.failed_at IS NULL AND w.disabled_at IS NULL",
    )
    .fetch_one(db.pool())
    .await?;
    Ok(next)
}

async fn record_failure(
    db: &Db,
    config: &WebhookConfig,
    id: &str,
    event_type: &str,
    attempts: i64,
    reason: &str,
) -> Result<(), DbError> {
    let now = now_ms();
    if attempts >= config.max_attempts {
        let mut w = db.begin_write().await?;
        let parked = sqlx::query(
            "UPDATE webhook_outbox SET attempts = $1, failed_at = $2, last_error = $3 \
             WHERE id = $4 AND failed_at IS NULL",
        )
        .bind(attempts)
        .bind(now)
        .bind(reason)
        .bind(id)
        .execute(&mut *w.tx)
        .await?
        .rows_affected();
        if parked == 0 {
            // Parked meanwhile (its webhook was deleted): that is on record already.
            return Ok(());
        }
        crate::audit::append(
            &mut w.tx,
            now,
            &Actor::System,
            AuditAction::WebhookDeliveryFailed,
            &format!("webhook_delivery:{id}"),
            serde_json::json!({ "event_type": event_type, "attempts": attempts, "error": reason }),
        )
        .await?;
        w.commit().await?;
        tracing::error!(event = %event_type, attempts, error = %reason, "webhook delivery abandoned");
    } else {
        let delay = backoff_ms(attempts - 1, config.retry_base_ms, config.retry_max_ms);
        sqlx::query(
            // Not over a parked event: a webhook deleted during the attempt keeps its reason.
            "UPDATE webhook_outbox SET attempts = $1, next_attempt_at = $2, last_error = $3 \
             WHERE id = $4 AND failed_at IS NULL",
        )
        .bind(attempts)
        .bind(now + delay as i64)
        .bind(reason)
        .bind(id)
        .execute(db.pool())
        .await?;
        tracing::info!(event = %event_type, attempts, retry_in_ms = delay, error = %reason, "webhook delivery failed; will retry");
    }
    Ok(())
}

/// A short reason without the URL (which may carry credentials in its query).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_the_cap() {
        let d: Vec<u64> = (0..6).map(|a| backoff_ms(a, 100, 1000)).collect();
        assert_eq!(d, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff_ms(500, 100, 1000), 1000);
    }
}
