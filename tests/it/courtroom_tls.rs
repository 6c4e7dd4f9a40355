//! RTSPS courtroom devices: trusted by the pin of their certificate, or by the court's own
//! authority; any other certificate leaves the device untrusted and out of the hearing.

use gavel_media_pipelines::rtsp_test_server::{Options, TestServer};
use gavel_signaling::MediaKind;
use serde_json::json;

use crate::courtroom::{T, open};
use crate::media_peer::{MediaPeer, peer};
use crate::support::{Backend, TestApp, wait_for};

/// Device `id` (listed at `path`) comes to be `untrusted`, and `judge` got nothing from it.
async fn assert_untrusted(app: &TestApp, path: &str, id: &str, judge: &MediaPeer) {
    wait_for(T, "the device's untrusted status", || async {
        let list = app.get_ok(path).await;
        let d = list.as_array()?.iter().find(|d| d["id"] == id)?.clone();
        (d["status"] == "untrusted").then_some(())
    })
    .await;
    assert_eq!(judge.received(id, MediaKind::Video).packets, 0);
}

/// An open hearing with a judge in it, and an RTSPS server presenting `cert` (PEM, with its
/// `key`) on loopback.
struct Scene {
    app: TestApp,
    judge: MediaPeer,
    /// The hearing's devices.
    path: String,
    /// The courtroom stream's `rtsps://` URL.
    url: String,
    _rtsp: TestServer,
    _dir: tempfile::TempDir,
}

impl Scene {
    async fn start(cert: &str, key: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert_file, cert).unwrap();
        std::fs::write(&key_file, key).unwrap();
        let rtsp = TestServer::start_with(&Options {
            tls: Some((&cert_file, &key_file)),
            ..Options::default()
        })
        .unwrap();
        let app = TestApp::spawn(Backend::Sqlite).await;
        let (_, hearing) = app.docket_and_hearing().await;
        open(&app, &hearing).await;
        let judge = peer(&app, &hearing, "judge").await;
        Self {
            path: format!("/api/v1/hearings/{hearing}/devices"),
            url: format!("rtsps://127.0.0.1:{}/courtroom", rtsp.port),
            app,
            judge,
            _rtsp: rtsp,
            _dir: dir,
        }
    }

    /// Registers the courtroom stream with `trust` (its `tls_pin` or `tls_ca` field); the
    /// answer, expected with `status`.
    async fn register(&self, trust: serde_json::Value, status: u16) -> serde_json::Value {
        let mut body = json!({"name": "Courtroom 3 — codec", "url": self.url});
        for (k, v) in trust.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.app.post_ok(&self.path, body, status).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rtsps_camera_is_pulled_with_its_pinned_certificate_and_refused_with_another() {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let pin = gavel_media_pipelines::tls_pin::fingerprint(made.cert.der());
    let scene = Scene::start(&made.cert.pem(), &made.signing_key.serialize_pem()).await;
    let id = |d: serde_json::Value| d["id"].as_str().unwrap().to_owned();
    let pinned = id(scene.register(json!({"tls_pin": pin}), 201).await);
    let other = id(scene
        .register(json!({"tls_pin": "ab".repeat(32)}), 201)
        .await);
    scene
        .judge
        .wait_received(&pinned, MediaKind::Video, 100)
        .await;
    assert_untrusted(&scene.app, &scene.path, &other, &scene.judge).await;
}

/// An authority of the court's own: `tls_ca` instead of a pin. A camera whose certificate it
/// signed is pulled; the same camera registered with another authority is refused as untrusted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rtsps_camera_signed_by_the_courts_authority_is_pulled_and_refused_under_another() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let authority = |name: &str| {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), Issuer::new(params, key))
    };
    let (court_ca, court) = authority("Court CA");
    let (other_ca, _) = authority("Someone else");
    let camera_key = KeyPair::generate().unwrap();
    let camera = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&camera_key, &court)
        .unwrap();
    let scene = Scene::start(&camera.pem(), &camera_key.serialize_pem()).await;
    // Not a certificate at all: refused at once.
    let nonsense = "-----BEGIN CERTIFICATE-----\nnonsense\n";
    scene.register(json!({"tls_ca": nonsense}), 422).await;
    let trusted = scene.register(json!({"tls_ca": court_ca}), 201).await;
    assert_eq!(trusted["tls_ca"], court_ca.as_str());
    let trusted = trusted["id"].as_str().unwrap().to_owned();
    let other = scene.register(json!({"tls_ca": other_ca}), 201).await;
    let other = other["id"].as_str().unwrap();
    scene
        .judge
        .wait_received(&trusted, MediaKind::Video, 100)
        .await;
    assert_untrusted(&scene.app, &scene.path, other, &scene.judge).await;
}
