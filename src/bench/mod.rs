//! `gavel bench sfu`: a load generator that joins P publishers, each with S subscribers in its
//! own hearing, through the real signaling and the real SFU, and prints one summary line.
//!
//! With no `--server` it starts `gavel serve` as a child process on loopback (fresh data
//! directory), so the server's CPU and memory can be read from `/proc` apart from the load
//! generator's. With `--server URL --api-key KEY --ca-cert FILE` it loads that server instead
//! (CPU and memory are then not reported). Publishers join as judges and subscribers as clerks:
//! both roles enter directly, so no lobby stands in the way on any server. A command-line tool:
//! `anyhow` at its edge, like `main`.

pub(crate) mod asr;
mod load;
pub(crate) mod rtsp;

use gavel::clip;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use load::Meter;

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct SfuBench {
    /// Publishers (one hearing each).
    pub(crate) publishers: usize,
    /// Subscribers per publisher.
    pub(crate) subscribers: usize,
    /// Measured seconds (after a warm-up).
    pub(crate) duration: u64,
    /// Print JSON instead of `key=value`.
    pub(crate) json: bool,
    /// A running server to load instead of starting one: `(base URL, API key, CA file)`.
    pub(crate) server: Option<(String, String, std::path::PathBuf)>,
    /// The pre-encoded clip's directory (default: where set-up makes it).
    pub(crate) clip: Option<std::path::PathBuf>,
    /// Load trials (recorded by default) instead of pre-trial conferences (not recorded), to
    /// measure what recording costs.
    pub(crate) record: bool,
    /// CPUs for the server (every thread) and for this load generator.
    pub(crate) pin: Option<(usize, usize)>,
    /// Forward through the sans-IO media plane in this process (its thread's CPU is the
    /// server's) instead of a server's rooms.
    pub(crate) plane: bool,
    /// Subscribers watch over WHEP instead of joining.
    pub(crate) whep: bool,
}

/// Where the load goes.
struct Target {
    addr: SocketAddr,
    host: String,
    tls: Arc<rustls::ClientConfig>,
    api: Api,
    /// Our own child server, when we started one (measurable).
    child: Option<Child>,
}

impl Target {
    async fn own(cpu: Option<usize>) -> anyhow::Result<Self> {
        let child = start_server(cpu).await?;
        let cert = child._dir.path().join("data/tls/cert.pem");
        let base = format!("https://localhost:{}", child.addr.port());
        Ok(Self {
            addr: child.addr,
            host: "localhost".into(),
            tls: child.tls.clone(),
            api: Api::new(&base, &child.api_key, &cert)?,
            child: Some(child),
        })
    }

    async fn remote(base: &str, key: &str, ca: &Path) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(base).context("--server must be an https:// URL")?;
        anyhow::ensure!(url.scheme() == "https", "--server must be an https:// URL");
        let host = url.host_str().context("--server needs a host")?.to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let addr = tokio::net::lookup_host((host.as_str(), port))
            .await?
            .next()
            .context("--server host does not resolve")?;
        Ok(Self {
            addr,
            host,
            tls: trust(ca)?,
            api: Api::new(base.trim_end_matches('/'), key, ca)?,
            child: None,
        })
    }
}

/// The server under test: a child process we can measure.
struct Child {
    proc: tokio::process::Child,
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    api_key: String,
    _dir: tempfile::TempDir,
}

impl Child {
    fn pid(&self) -> Option<u32> {
        self.proc.id()
    }
}

/// Starts `gavel serve`, on `cpu` alone when given (every thread it ever starts inherits it).
async fn start_server(cpu: Option<usize>) -> anyhow::Result<Child> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut config = gavel::config::Config::default();
    config.server.data_dir = data.clone();
    gavel::app::install_crypto_provider();
    let (db, _) = gavel::app::open(&config).await?;
    let api_key = gavel::auth::apikey::create(&db, "bench", gavel::clock::now_ms()).await?;
    db.close().await;
    let exe = std::env::current_exe()?;
    let mut command = match cpu {
        Some(cpu) => {
            let mut c = tokio::process::Command::new("taskset");
            c.args(["-c", &cpu.to_string()]).arg(exe);
            c
        }
        None => tokio::process::Command::new(exe),
    };
    let mut proc = command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("GAVEL_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting gavel serve (with --pin: taskset, from util-linux)")?;
    let stdout = proc.stdout.take().context("server stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let port: u16 = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(l) = lines.next_line().await? {
            if let Some(rest) = l.strip_prefix("Gavel is running: open https://localhost:") {
                let port = rest.split('/').next().unwrap_or_default();
                return Ok(port.parse()?);
            }
        }
        bail!("the server exited before it was ready")
    })
    .await
    .context("waiting for the server")??;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let tls = trust(&data.join("tls/cert.pem"))?;
    Ok(Child {
        proc,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        tls,
        api_key,
        _dir: dir,
    })
}

fn trust(pem: &Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let bytes = std::fs::read(pem).with_context(|| format!("reading {}", pem.display()))?;
    Ok(gavel_signaling::client::trusting(&bytes)?)
}

/// The case-API calls that set up the hearings and mint tokens.
struct Api {
    client: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    fn new(base: &str, key: &str, ca: &Path) -> anyhow::Result<Self> {
        let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
        Ok(Self {
            client: reqwest::Client::builder()
                .tls_certs_only([reqwest::Certificate::from_pem(&pem)?])
                .build()?,
            base: base.to_owned(),
            key: key.to_owned(),
        })
    }

    async fn post(&self, path: &str, body: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await?;
        let status = res.status();
        let v: serde_json::Value = res.json().await?;
        anyhow::ensure!(status.is_success(), "POST {path}: {status} {v}");
        Ok(v)
    }

    /// A new participant of `hearing` with `role`: their id and a join token.
    async fn token(&self, hearing: &str, role: &str, n: usize) -> anyhow::Result<(String, String)> {
        let p = self
            .post(
                &format!("/api/v1/hearings/{hearing}/participants"),
                json!({"display_name": format!("Load {role} {n}"), "role": role, "identity_ref": format!("bench-{n}")}),
            )
            .await?;
        let id = p["id"].as_str().context("participant id")?;
        let l = self
            .post(
                &format!("/api/v1/hearings/{hearing}/participants/{id}/join-links"),
                json!({}),
            )
            .await?;
        let token = l["token"].as_str().context("token")?.to_owned();
        Ok((id.to_owned(), token))
    }
}

/// Moves every thread of `pid` to `cpu`; threads it starts later inherit it.
fn pin_all_threads(pid: u32, cpu: usize) -> anyhow::Result<()> {
    let out = std::process::Command::new("taskset")
        .args(["-a", "-cp", &cpu.to_string(), &pid.to_string()])
        .output()
        .context("taskset (util-linux)")?;
    anyhow::ensure!(
        out.status.success(),
        "taskset: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// CPU time (user + system) of a process, microseconds, from `/proc/<pid>/stat`.
fn cpu_us(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports in clock ticks of 1/100 s on every architecture Gavel runs on.
    Some(ticks * 10_000)
}

/// Resident memory of a process, MiB, from `/proc/<pid>/status`.
fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Latencies logged in microseconds, in milliseconds and sorted.
fn sorted_ms(log: &std::sync::Mutex<Vec<u32>>) -> Vec<f64> {
    let mut ms: Vec<f64> = log
        .lock()
        .map(|l| l.iter().map(|u| f64::from(*u) / 1000.0).collect())
        .unwrap_or_default();
    ms.sort_by(f64::total_cmp);
    ms
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Joins P publishers and S subscribers each, one hearing per publisher, through `target`'s
/// case API and signaling.
async fn join_hearings(
    target: &Target,
    b: &SfuBench,
    meter: &std::sync::Arc<Meter>,
) -> anyhow::Result<Vec<load::LoadPeer>> {
    let api = &target.api;
    let mut peers = Vec::new();
    for p in 0..b.publishers {
        let docket = api
            .post("/api/v1/dockets", json!({"case_number": format!("BENCH-{p}-{}", gavel::clock::now_ms()), "title": "Load", "court": "Bench", "case_type": "civil"}))
            .await?;
        let d = docket["id"].as_str().context("docket id")?;
        let hearing = api
            .post(
                &format!("/api/v1/dockets/{d}/hearings"),
                // Pre-trial conferences are not recorded by default: the figure is forwarding
                // alone, comparable with other SFUs. Trials are recorded from the start.
                json!({"kind": if b.record { "trial" } else { "pre_trial" },
                    "scheduled_start": "2030-01-01T09:00:00Z"}),
            )
            .await?;
        let h = hearing["id"].as_str().context("hearing id")?.to_owned();
        // One publisher (a judge) and S subscribers (clerks): both enter without a lobby.
        // Over WHEP the subscribers watch the judge with the platform's key instead.
        let joining = if b.whep { 0 } else { b.subscribers };
        let roles =
            std::iter::once(("judge", true)).chain(std::iter::repeat_n(("clerk", false), joining));
        for (n, (role, publish)) in roles.enumerate() {
            let (id, token) = api.token(&h, role, n).await?;
            let peer = load::join(
                target.addr,
                &target.host,
                target.tls.clone(),
                token,
                publish,
                meter.clone(),
                None,
            )
            .await?;
            peers.push(peer);
            if publish && b.whep {
                let url = format!("{}/api/v1/hearings/{h}/participants/{id}/whep", api.base);
                for _ in 0..b.subscribers {
                    peers.push(load::watch(&api.client, &url, &api.key, meter.clone()).await?);
                }
            }
        }
    }
    Ok(peers)
}

/// The server's CPU time so far, microseconds (the plane thread's, or the child's), and with
/// the plane how long it has held packets.
async fn server_cpu_us(
    plane: Option<&gavel::sfu::plane::Plane>,
    pid: Option<u32>,
) -> (
    Option<u64>,
    Option<[gavel::sfu::plane::latency::Histogram; 2]>,
) {
    match plane {
        Some(p) => match p.stats().await {
            Ok(s) => (Some(s.cpu_us), Some([s.held, s.held_speech])),
            Err(_) => (None, None),
        },
        None => (pid.and_then(cpu_us), None),
    }
}

/// Runs the benchmark and returns the summary line.
pub(crate) async fn run(b: SfuBench) -> anyhow::Result<String> {
    anyhow::ensure!(
        b.publishers > 0 && b.duration > 0,
        "need publishers and a duration"
    );
    let clip = clip::load(&b.clip.clone().unwrap_or_else(clip::default_dir))?;
    gavel::app::install_crypto_provider();
    if let Some((_, generator)) = b.pin {
        pin_all_threads(std::process::id(), generator)?;
    }
    let meter = Meter::new(clip);
    let (mut target, plane, peers) = if b.plane {
        // The plane's thread pins itself; every thread of this process so far (and those the
        // load peers start) stays on the generator's CPU.
        let plane = gavel::sfu::plane::Plane::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            b.pin.map(|(server, _)| server),
        )?;
        let peers = load::on_plane(&plane, b.publishers, b.subscribers, &meter).await?;
        (None, Some(plane), (Vec::new(), peers))
    } else {
        let target = match &b.server {
            Some((url, key, ca)) => Target::remote(url, key, ca).await?,
            None => Target::own(b.pin.map(|(server, _)| server)).await?,
        };
        let peers = join_hearings(&target, &b, &meter).await?;
        (Some(target), None, (peers, Vec::new()))
    };
    // Warm up until every subscriber receives media (or 20 s), then measure.
    let expected_joins = b.publishers * b.subscribers;
    let warm = Instant::now();
    while meter.joins_ms.lock().map(|j| j.len()).unwrap_or(0) < expected_joins
        && warm.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = target
        .as_ref()
        .and_then(|t| t.child.as_ref())
        .and_then(Child::pid);
    let start_ms = meter.epoch.elapsed().as_millis() as u64;
    let (cpu0, held0) = server_cpu_us(plane.as_ref(), pid).await;
    let gen0 = cpu_us(std::process::id());
    meter.window_start_ms.store(start_ms, Ordering::Relaxed);
    meter
        .window_end_ms
        .store(start_ms + b.duration * 1000, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(b.duration)).await;
    let (cpu1, held1) = server_cpu_us(plane.as_ref(), pid).await;
    // What the server itself added (the plane measures it; the end-to-end latency also
    // holds the generator's own queueing, which at high fan-out is most of it).
    let held = held0
        .zip(held1)
        .map(|([a, sa], [b, sb])| [b.since(&a), sb.since(&sa)]);
    let held_ms = |which: usize, p: f64| {
        held.as_ref()
            .and_then(|h| h[which].quantile_us(p))
            .map(|us| (us / 10.0).round() / 100.0)
    };
    let gen1 = cpu_us(std::process::id());
    let rss = pid.and_then(rss_mb);
    // Let in-flight packets of the window arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    meter.stop.store(true, Ordering::Relaxed);

    let sent = meter.sent.load(Ordering::Relaxed);
    let expected = sent * b.subscribers as u64;
    let received = meter.received.load(Ordering::Relaxed);
    let secs = b.duration as f64;
    let loss_pct = if expected == 0 {
        100.0
    } else {
        100.0 * (expected.saturating_sub(received)) as f64 / expected as f64
    };
    let (lat, audio_lat) = (
        sorted_ms(&meter.latencies_us),
        sorted_ms(&meter.audio_latencies_us),
    );
    let mut joins: Vec<f64> = meter.joins_ms.lock().map(|j| j.clone()).unwrap_or_default();
    joins.sort_by(f64::total_cmp);
    let cpu_per_pkt = match (cpu0, cpu1) {
        (Some(a), Some(b)) if received > 0 => (b - a) as f64 / received as f64,
        _ => f64::NAN,
    };
    // Share of one core the server used over the window, percent.
    let cpu_pct = match (cpu0, cpu1) {
        (Some(a), Some(b)) => (b - a) as f64 / (secs * 1e6) * 100.0,
        _ => f64::NAN,
    };
    // The generator's own share of a core: near 100 % pinned, it (not the server) is what
    // limits loss and latency.
    let gen_pct = match (gen0, gen1) {
        (Some(a), Some(b)) => (b - a) as f64 / (secs * 1e6) * 100.0,
        _ => f64::NAN,
    };
    let bytes = meter.sent_bytes.load(Ordering::Relaxed) * b.subscribers as u64;
    let summary = json!({
        "publishers": b.publishers,
        "subscribers_per_publisher": b.subscribers,
        "duration_s": b.duration,
        "forwarded_pps": (received as f64 / secs).round(),
        "forwarded_mbps": (bytes as f64 * 8.0 / secs / 1e6 * 100.0).round() / 100.0,
        "loss_pct": (loss_pct * 1000.0).round() / 1000.0,
        "join_ms_p50": percentile(&joins, 0.5).round(),
        "join_ms_p99": percentile(&joins, 0.99).round(),
        "latency_ms_p50": (percentile(&lat, 0.5) * 1000.0).round() / 1000.0,
        "latency_ms_p99": (percentile(&lat, 0.99) * 1000.0).round() / 1000.0,
        "audio_latency_ms_p99": (percentile(&audio_lat, 0.99) * 1000.0).round() / 1000.0,
        "server_held_ms_p50": held_ms(0, 0.5),
        "server_held_ms_p99": held_ms(0, 0.99),
        "server_audio_held_ms_p99": held_ms(1, 0.99),
        "server_cpu_us_per_pkt": (cpu_per_pkt * 100.0).round() / 100.0,
        "server_cpu_pct": (cpu_pct * 10.0).round() / 10.0,
        "recorded_tracks": if b.record { b.publishers * 2 } else { 0 },
        "server_rss_mb": rss.map(|r| (r * 10.0).round() / 10.0),
        "gen_cpu_pct": (gen_pct * 10.0).round() / 10.0,
        "pinned": b.pin.map(|(s, g)| format!("{s},{g}")),
        "transport": if b.plane { "plane" } else { "per-connection" },
        "subscribers_over": if b.whep { "whep" } else { "hearing" },
        "whep_on_plane": meter.plane_viewers.load(std::sync::atomic::Ordering::Relaxed),
        "joined_subscribers": joins.len(),
    });
    drop(peers);
    if let Some(child) = target.as_mut().and_then(|t| t.child.as_mut()) {
        let _ = child.proc.start_kill();
    }
    if b.json {
        return Ok(summary.to_string());
    }
    let keys = [
        "forwarded_pps",
        "forwarded_mbps",
        "loss_pct",
        "join_ms_p50",
        "join_ms_p99",
        "latency_ms_p50",
        "latency_ms_p99",
        "audio_latency_ms_p99",
        "server_held_ms_p50",
        "server_held_ms_p99",
        "server_audio_held_ms_p99",
        "server_cpu_us_per_pkt",
        "server_cpu_pct",
        "recorded_tracks",
        "server_rss_mb",
        "gen_cpu_pct",
    ];
    Ok(keys
        .iter()
        .map(|k| format!("{k}={}", summary[k]))
        .collect::<Vec<_>>()
        .join(" "))
}
