//! A WebSocket client for the signaling protocol over TLS, used by the integration tests, the
//! load benchmark and (later) the RTSP bridge. It speaks exactly what a browser speaks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{WebSocketStream, client_async};

use crate::protocol::{ClientMessage, ServerMessage};

/// What went wrong on the client side.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// TCP or TLS failure.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// WebSocket failure.
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    /// The server closed the socket.
    #[error("closed by the server: {code} {reason}")]
    Closed {
        /// WebSocket close code.
        code: u16,
        /// Close reason text.
        reason: String,
    },
    /// Nothing arrived in time.
    #[error("timed out waiting for a message")]
    Timeout,
    /// The server sent something that is not a protocol message.
    #[error("undecodable server message: {0}")]
    Decode(String),
}

/// A TLS client configuration that trusts exactly the certificates in `pem` (a server's
/// self-signed certificate, or a private CA).
pub fn trusting(pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let invalid = |e: &dyn std::fmt::Display| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        roots
            .add(cert.map_err(|e| invalid(&e))?)
            .map_err(|e| invalid(&e))?;
    }
    Ok(Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// One signaling connection.
#[derive(Debug)]
pub struct SignalingClient {
    ws: WebSocketStream<TlsStream<TcpStream>>,
}

impl SignalingClient {
    /// Connects to `wss://{host}:{port}/ws` at `addr`, trusting the roots in `tls`.
    pub async fn connect(
        addr: SocketAddr,
        host: &str,
        tls: Arc<rustls::ClientConfig>,
    ) -> Result<Self, ClientError> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let stream = TlsConnector::from(tls).connect(name, tcp).await?;
        let request = format!("wss://{host}:{}/ws", addr.port()).into_client_request()?;
        let (ws, _) = client_async(request, stream).await?;
        Ok(Self { ws })
    }

    /// Sends one message.
    pub async fn send(&mut self, msg: &ClientMessage) -> Result<(), ClientError> {
        let text = serde_json::to_string(msg).map_err(|e| ClientError::Decode(e.to_string()))?;
        self.send_raw(text).await
    }

    /// Sends arbitrary text (for testing how the server treats bad input).
    pub async fn send_raw(&mut self, text: String) -> Result<(), ClientError> {
        self.ws.send(Message::text(text)).await?;
        Ok(())
    }

    /// Sends a binary frame (which the protocol does not use).
    pub async fn send_binary(&mut self, data: Vec<u8>) -> Result<(), ClientError> {
        self.ws.send(Message::binary(data)).await?;
        Ok(())
    }

    /// Writes raw bytes after the handshake, outside any frame (for testing how the server
    /// treats malformed or oversize frames: a header announcing more than it will send, say).
    pub async fn send_raw_bytes(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        use tokio::io::AsyncWriteExt;
        let stream = self.ws.get_mut();
        stream.write_all(bytes).await?;
        stream.flush().await?;
        Ok(())
    }

    /// The next protocol message, waiting at most `timeout`.
    pub async fn recv(&mut self, timeout: Duration) -> Result<ServerMessage, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .map_err(|_| ClientError::Timeout)?;
            match next {
                None => {
                    return Err(ClientError::Closed {
                        code: 1006,
                        reason: String::new(),
                    });
                }
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(Message::Text(t))) => {
                    return serde_json::from_str(t.as_str())
                        .map_err(|e| ClientError::Decode(format!("{e}: {t}")));
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Err(ClientError::Closed { code, reason });
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Reads until a message satisfies `pred`, returning it; fails on timeout or close.
    pub async fn recv_until(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&ServerMessage) -> bool,
    ) -> Result<ServerMessage, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let msg = self.recv(left).await?;
            if pred(&msg) {
                return Ok(msg);
            }
        }
    }

    /// Closes the connection politely.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    /// Drops the TCP connection without a close handshake (a network failure).
    pub fn drop_connection(self) {
        drop(self.ws);
    }
}
