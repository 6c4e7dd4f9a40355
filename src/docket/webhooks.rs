//! Webhook registrations (the court platform's event endpoints).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::Row;

use super::model::{CreatedWebhook, NewWebhook, Webhook};
use crate::audit;
use crate::audit::AuditAction;
use crate::auth::random_bytes;
use crate::clock::{now_ms, rfc3339};
use crate::domain::validate::{FieldError, text};
use crate::http::AppState;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiPath, Platform};
use crate::webhook::{EventType, target};

fn parse_events(s: &str) -> Vec<EventType> {
    EventType::ALL
        .into_iter()
        .filter(|e| s.split(',').any(|x| x == e.as_str()))
        .collect()
}

/// Register a webhook; the response carries its signing secret, shown only this once.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = NewWebhook,
    security(("api_key" = [])),
    responses((status = 201, body = CreatedWebhook), (status = 422, body = Problem)))]
pub(super) async fn create(
    State(st): State<AppState>,
    Platform(caller): Platform,
    ApiJson(body): ApiJson<NewWebhook>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    let url = text("url", &body.url, 2048)?;
    let parsed = target::check_resolved(&url, &st.config.webhooks)
        .await
        .map_err(|e| FieldError::Invalid {
            field: "url",
            expected: e.expected(),
        })?;
    if body.events.is_empty() {
        return Err(FieldError::Empty { field: "events" }.into());
    }
    let events: Vec<EventType> = EventType::ALL
        .into_iter()
        .filter(|e| body.events.contains(e))
        .collect();
    let events_csv = events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let secret = format!("whsec_{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()));
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_ms();
    let mut w = st.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO webhooks (id, url, secret, events, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(&url)
    .bind(&secret)
    .bind(&events_csv)
    .bind(now)
    .execute(&mut *w.tx)
    .await?;
    audit::append(
        &mut w.tx,
        now,
        &caller.actor(),
        AuditAction::WebhookCreate,
        &format!("webhook:{id}"),
        serde_json::json!({ "host": parsed.host_str(), "events": events_csv }),
    )
    .await?;
    w.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            webhook: Webhook {
                id,
                url,
                events,
                created_at: rfc3339(now),
            },
            secret,
        }),
    ))
}

/// List active webhooks (secrets are not returned).
#[utoipa::path(get, path = "/webhooks", tag = "webhooks", security(("api_key" = [])),
    responses((status = 200, body = [Webhook])))]
pub(super) async fn list(
    State(st): State<AppState>,
    Platform(_caller): Platform,
) -> Result<Json<Vec<Webhook>>, ApiError> {
    let found = sqlx::query(
        "SELECT id, url, events, created_at FROM webhooks WHERE disabled_at IS NULL ORDER BY created_at, id",
    )
    .fetch_all(st.db.pool())
    .await?;
    let mut out = Vec::with_capacity(found.len());
    for r in found {
        out.push(Webhook {
            id: r.try_get("id")?,
            url: r.try_get("url")?,
            events: parse_events(&r.try_get::<String, _>("events")?),
            created_at: rfc3339(r.try_get("created_at")?),
        });
    }
    Ok(Json(out))
}

/// Remove a webhook; undelivered events for it are no longer sent.
#[utoipa::path(delete, path = "/webhooks/{webhook_id}", tag = "webhooks", security(("api_key" = [])),
    params(("webhook_id" = String, Path, description = "Webhook id")),
    responses((status = 204), (status = 404, body = Problem)))]
pub(super) async fn delete(
    State(st): State<AppState>,
    Platform(caller): Platform,
    ApiPath(webhook_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = super::path_id(&webhook_id, "webhook")?;
    let now = now_ms();
    let mut w = st.db.begin_write().await?;
    let done =
        sqlx::query("UPDATE webhooks SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
            .bind(now)
            .bind(&id)
            .execute(&mut *w.tx)
            .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("webhook"));
    }
    sqlx::query(
        "UPDATE webhook_outbox SET failed_at = $1, last_error = 'webhook deleted' \
         WHERE webhook_id = $2 AND delivered_at IS NULL AND failed_at IS NULL",
    )
    .bind(now)
    .bind(&id)
    .execute(&mut *w.tx)
    .await?;
    audit::append(
        &mut w.tx,
        now,
        &caller.actor(),
        AuditAction::WebhookDelete,
        &format!("webhook:{id}"),
        serde_json::json!({}),
    )
    .await?;
    w.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
