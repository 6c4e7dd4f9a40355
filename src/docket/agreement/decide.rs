//! A side's decision on the agreement: signed, or refused with a reason; the seal and the
//! platform's `mediation.agreement_signed` event when every side has decided.

use super::*;
use crate::docket::written::Decide;

/// Signs the agreement, or refuses it with a reason (each side that took part, once). When
/// every side has decided, the agreement is sealed and `mediation.agreement_signed` goes to
/// the platform, saying whether all signed.
#[utoipa::path(post, path = "/hearings/{hearing_id}/agreements/{agreement_id}/signatures",
    tag = "mediation", security(("join_token" = [])),
    params(("hearing_id" = String, Path, description = "Hearing id"),
        ("agreement_id" = String, Path, description = "Agreement id")),
    request_body = Decide,
    responses((status = 201, body = AgreementView), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub(in crate::docket) async fn decide(
    State(st): State<AppState>,
    ApiPath((hearing_id, agreement_id)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
    // Read after the caller is authenticated: no body is judged for an unknown caller.
    body: Result<ApiJson<Decide>, ApiError>,
) -> Result<(StatusCode, Json<AgreementView>), ApiError> {
    let (c, a) = open(&st, &hearing_id, &agreement_id, &headers).await?;
    let ApiJson(body) = body?;
    let signer = ledger::signer_among(
        &c,
        Capability::SignAgreement,
        &a.doc.signers,
        "you are not one of the sides asked to sign this agreement",
    )?;
    let (decision, reason) = ledger::decision_of(&body)?;
    let mut w = st.db.begin_write().await?;
    // Checked again under the write lock: no later draft since `open`.
    let version = i64::try_from(a.doc.version).unwrap_or(i64::MAX);
    if later_exists(&mut *w.tx, &a.hearing_id, version).await? {
        return Err(Conflict::LaterDraft.into());
    }
    let decided = AGREEMENTS
        .decide(
            &st,
            &mut w.tx,
            &a.id,
            &a.sha256,
            &a.doc,
            &signer,
            decision,
            reason.as_deref(),
        )
        .await?;
    AGREEMENTS
        .conclude(
            &st,
            w,
            &c.actor,
            &decided,
            (&a.hearing_id, &a.id, &a.sha256),
            reason.as_deref(),
            ("version", a.doc.version.into()),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(load(&st, &a.hearing_id, &a.id).await?.view()),
    ))
}
