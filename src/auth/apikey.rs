//! Platform API keys: `gvl_` followed by 43 base64url characters (256 random bits).
//!
//! Only the SHA-256 of a key is stored; with 256 bits of entropy a fast hash is enough (no
//! password-style stretching needed) and lookups stay a single indexed query.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::Row;

use super::{Actor, random_bytes, sha256_hex};
use crate::audit;
use crate::audit::AuditAction;
use crate::db::{Db, DbError};

const PREFIX: &str = "gvl_";

/// A key that authenticated.
#[derive(Debug, Clone)]
pub struct ApiKeyIdentity {
    /// The key's row id.
    pub id: String,
    /// The name given at creation; used as the audit actor.
    pub name: String,
}

impl ApiKeyIdentity {
    /// The audit actor for this key.
    pub fn actor(&self) -> Actor {
        Actor::ApiKey {
            name: self.name.clone(),
        }
    }
}

/// Whether a bearer value has the shape of an API key (vs. a join token).
pub fn looks_like_api_key(s: &str) -> bool {
    s.len() == PREFIX.len() + 43 && s.starts_with(PREFIX)
}

/// Creates a key named `name` and returns it; it is shown once and cannot be recovered.
pub async fn create(db: &Db, name: &str, now_ms: i64) -> Result<String, DbError> {
    let key = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()));
    let id = uuid::Uuid::new_v4().to_string();
    let mut w = db.begin_write().await?;
    sqlx::query("INSERT INTO api_keys (id, name, key_hash, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&id)
        .bind(name)
        .bind(sha256_hex(key.as_bytes()))
        .bind(now_ms)
        .execute(&mut *w.tx)
        .await?;
    audit::append(
        &mut w.tx,
        now_ms,
        &Actor::Cli,
        AuditAction::ApikeyCreate,
        &format!("apikey:{id}"),
        serde_json::json!({ "name": name }),
    )
    .await?;
    w.commit().await?;
    Ok(key)
}

/// Looks up a presented key; `None` for unknown or revoked keys.
pub async fn authenticate(db: &Db, presented: &str) -> Result<Option<ApiKeyIdentity>, DbError> {
    if !looks_like_api_key(presented) {
        return Ok(None);
    }
    let row =
        sqlx::query("SELECT id, name FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
            .bind(sha256_hex(presented.as_bytes()))
            .fetch_optional(db.pool())
            .await?;
    Ok(match row {
        Some(r) => Some(ApiKeyIdentity {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
        }),
        None => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_has_the_documented_shape() {
        let key = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()));
        assert!(looks_like_api_key(&key));
        assert!(!looks_like_api_key("eyJhbGciOiJFZERTQSJ9.e30.sig"));
    }
}
