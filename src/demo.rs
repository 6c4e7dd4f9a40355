//! `gavel demo`: a demonstration docket with one hearing and one participant per role, and a
//! join link for each, so a newcomer can try every role at once. Written through the same
//! tables and audit log as the API; actor `cli`.

use std::path::Path;

use crate::audit::AuditAction;
use crate::auth::Actor;
use crate::auth::jwt::{self, ISSUER, JOIN_AUDIENCE, JoinClaims};
use crate::auth::keyring::KeyRing;
use crate::clock::now_ms;
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::docket::participants_url;
use crate::domain::{HearingKind, Role};

/// One printed line: role, name, link.
#[derive(Debug, Clone)]
pub struct DemoLink {
    /// The role.
    pub role: Role,
    /// The demo participant's name.
    pub name: String,
    /// The join link.
    pub url: String,
}

fn demo_name(role: Role) -> &'static str {
    match role {
        Role::Judge => "Judge Wang",
        Role::Clerk => "Clerk Li",
        Role::Party => "Zhang San (plaintiff)",
        Role::Counsel => "Counsel Chen",
        Role::Witness => "Witness Zhao",
        Role::Expert => "Expert Sun",
        Role::Interpreter => "Interpreter Zhou",
        Role::Mediator => "Mediator Wu",
        Role::Observer => "Observer",
        Role::Courtroom => "Courtroom 1 — bench camera",
    }
}

/// Creates the demo docket and hearing (held in `language`, when not the court's own; the
/// caller has checked it) and returns one link per role, on `base_url`.
pub async fn create(
    db: &Db,
    keys: &KeyRing,
    config: &Config,
    base_url: &str,
    language: Option<&str>,
) -> Result<Vec<DemoLink>, DbError> {
    let now = now_ms();
    let docket_id = uuid::Uuid::new_v4().to_string();
    let hearing_id = uuid::Uuid::new_v4().to_string();
    let case_number = format!("DEMO-{}", &docket_id[..8]);
    let mut w = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO dockets (id, case_number, title, court, case_type, created_at) \
         VALUES ($1, $2, 'Demo v. Example (sale of goods)', 'Demo People''s Court', 'civil', $3)",
    )
    .bind(&docket_id)
    .bind(&case_number)
    .bind(now)
    .execute(&mut *w.tx)
    .await?;
    sqlx::query(
        "INSERT INTO hearings (id, docket_id, kind, title, scheduled_start, language, state, created_at, updated_at) \
         VALUES ($1, $2, $3, 'Demo hearing', $4, $5, 'open', $4, $4)",
    )
    .bind(&hearing_id)
    .bind(&docket_id)
    .bind(HearingKind::Trial.as_str())
    .bind(now)
    .bind(language)
    .execute(&mut *w.tx)
    .await?;
    crate::audit::append(
        &mut w.tx,
        now,
        &Actor::Cli,
        AuditAction::DemoCreate,
        &format!("hearing:{hearing_id}"),
        serde_json::json!({ "docket_id": docket_id, "case_number": case_number, "language": language }),
    )
    .await?;
    let mut links = Vec::new();
    for role in Role::ALL.into_iter().filter(|r| r.is_person()) {
        let pid = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO participants (id, hearing_id, display_name, role, identity_ref, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&pid)
        .bind(&hearing_id)
        .bind(demo_name(role))
        .bind(role.as_str())
        .bind(format!("demo-identity-{}", role.as_str()))
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
        crate::audit::append(
            &mut w.tx,
            now,
            &Actor::Cli,
            AuditAction::ParticipantCreate,
            &format!("participant:{pid}"),
            serde_json::json!({ "hearing_id": hearing_id, "role": role.as_str() }),
        )
        .await?;
        let jti = uuid::Uuid::new_v4().to_string();
        let claims = JoinClaims {
            iss: ISSUER.into(),
            aud: JOIN_AUDIENCE.into(),
            sub: pid.clone(),
            hid: hearing_id.clone(),
            role,
            iat: now / 1000,
            exp: now / 1000 + config.tokens.default_ttl_secs,
            jti: jti.clone(),
        };
        crate::audit::append(
            &mut w.tx,
            now,
            &Actor::Cli,
            AuditAction::JoinLinkIssue,
            &format!("participant:{pid}"),
            serde_json::json!({ "hearing_id": hearing_id, "jti": jti, "expires": claims.exp, "role": role.as_str() }),
        )
        .await?;
        let token = jwt::issue(keys, &claims);
        links.push(DemoLink {
            role,
            name: demo_name(role).to_owned(),
            url: participants_url(base_url, &hearing_id, &token),
        });
    }
    w.commit().await?;
    Ok(links)
}

/// Where the server notes the address it serves (in its data directory), for `gavel demo`.
pub const SERVER_URL_FILE: &str = "server-url";

/// Notes `url` as the address of the server running on `data_dir` (written whole, then renamed,
/// so a reader never sees half of it).
pub fn note_server_url(data_dir: &Path, url: &str) -> std::io::Result<()> {
    let tmp = data_dir.join(format!(".{SERVER_URL_FILE}.tmp"));
    std::fs::write(&tmp, url)?;
    std::fs::rename(&tmp, data_dir.join(SERVER_URL_FILE))
}

/// The base URL for demo links: `explicit` (checked), else the configured public URL, else the
/// address the server last started on `config`'s data directory noted, else the listen port.
pub fn base_url(config: &Config, explicit: Option<&str>) -> Result<String, DemoError> {
    if let Some(u) = explicit {
        return checked_url(u);
    }
    if config.server.public_url.is_some() {
        return Ok(config.public_url());
    }
    let noted = std::fs::read_to_string(config.server.data_dir.join(SERVER_URL_FILE))
        .ok()
        .and_then(|u| checked_url(u.trim()).ok());
    Ok(noted.unwrap_or_else(|| config.public_url()))
}

fn checked_url(u: &str) -> Result<String, DemoError> {
    let ok = u.len() <= 2048
        && (u.starts_with("https://") || u.starts_with("http://"))
        && !u
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '#' || c == '?');
    if ok {
        Ok(u.trim_end_matches('/').to_owned())
    } else {
        Err(DemoError::BadUrl(u.chars().take(100).collect()))
    }
}

/// Why demo links could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// `--server-url` is not an http(s) URL without query or fragment.
    #[error("--server-url must be an https:// (or http://) address without ? or #, got {0:?}")]
    BadUrl(String),
}
