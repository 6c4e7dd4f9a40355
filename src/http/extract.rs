//! Request extractors that validate before a handler runs: JSON bodies, platform API keys and
//! participants' join tokens. Each failure becomes an [`ApiError`] with a clear message.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::auth::apikey::{self, ApiKeyIdentity};
use crate::auth::devicekey;
use crate::auth::jwt::JoinClaims;
use crate::clock::now_ms;
use crate::hearing::JoinRefusal;
use crate::http::AppState;

/// A JSON body, parsed strictly (types with `deny_unknown_fields`), size-limited by the
/// router's body limit.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::PayloadTooLarge)?;
        // An empty body means "no options" ({}), so bodies that are all optional may be left out.
        let bytes: &[u8] = if bytes.is_empty() {
            b"{}"
        } else if is_json {
            &bytes
        } else {
            return Err(ApiError::UnsupportedMediaType("application/json"));
        };
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let value = T::deserialize(&mut de).map_err(json_error)?;
        de.end().map_err(json_error)?;
        Ok(ApiJson(value))
    }
}

fn json_error(e: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => ApiError::Schema(e.to_string()),
        _ => ApiError::MalformedJson(e.to_string()),
    }
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let v = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized(
            "missing Authorization: Bearer header",
        ))?;
    let v = v
        .to_str()
        .map_err(|_| ApiError::Unauthorized("malformed Authorization header"))?;
    match v.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() => {
            Ok(token.trim())
        }
        _ => Err(ApiError::Unauthorized(
            "expected Authorization: Bearer <token>",
        )),
    }
}

/// The court platform, authenticated by an API key.
#[derive(Debug, Clone)]
pub struct Platform(pub ApiKeyIdentity);

impl FromRequestParts<AppState> for Platform {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        if !apikey::looks_like_api_key(token) {
            return Err(ApiError::Unauthorized(
                "this endpoint needs a platform API key",
            ));
        }
        match apikey::authenticate(&state.db, token).await? {
            Some(id) => Ok(Platform(id)),
            None => Err(ApiError::Unauthorized("unknown or revoked API key")),
        }
    }
}

/// A WHIP device (a courtroom's encoder), if the bearer value is shaped like a device key:
/// `None` for any other token (the handler tries it as a join token), a refusal for a key
/// that is unknown or whose device was removed.
#[derive(Debug, Clone)]
pub struct DeviceKey(pub Option<DeviceIdentity>);

/// The device a key belongs to.
#[derive(Debug, Clone)]
pub struct DeviceIdentity {
    /// Its id (its participant id in the room).
    pub id: String,
    /// The hearing it was registered for.
    pub hearing_id: String,
    /// The name on its tile.
    pub name: String,
}

impl FromRequestParts<AppState> for DeviceKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        use sqlx::Row;
        let Ok(token) = bearer(parts) else {
            return Ok(DeviceKey(None));
        };
        if !devicekey::looks_like_device_key(token) {
            return Ok(DeviceKey(None));
        }
        let row = sqlx::query(
            "SELECT id, hearing_id, name FROM devices WHERE key_hash = $1 AND kind = 'whip' \
             AND removed_at IS NULL",
        )
        .bind(devicekey::hash(token))
        .fetch_optional(state.db.pool())
        .await?
        .ok_or(ApiError::Unauthorized("unknown or removed device key"))?;
        Ok(DeviceKey(Some(DeviceIdentity {
            id: row.try_get("id")?,
            hearing_id: row.try_get("hearing_id")?,
            name: row.try_get("name")?,
        })))
    }
}

/// A participant, authenticated by a valid join token (signature and times checked; the
/// handler checks the hearing and that the participant still exists).
#[derive(Debug, Clone)]
pub struct Joiner(pub JoinClaims);

impl FromRequestParts<AppState> for Joiner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        Ok(Joiner(verify_join_token(state, token)?))
    }
}

/// Query parameters, parsed strictly; a bad parameter is a 422 problem.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::Schema(e.body_text()))
    }
}

/// Path parameters; a segment that cannot be decoded cannot name a resource, so it is a 404.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_| ApiError::NotFound("resource"))
    }
}

/// Checks a join token's signature and times (see [`crate::hearing::admit::verify`]).
pub fn verify_join_token(state: &AppState, token: &str) -> Result<JoinClaims, JoinRefusal> {
    let leeway = state.config.tokens.leeway_secs;
    crate::hearing::admit::verify(&state.keys, token, now_ms(), leeway)
}
