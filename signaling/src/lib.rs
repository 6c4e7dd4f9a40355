//! The signaling protocol between Gavel and its clients (browser, tests, benchmark, RTSP bridge).
//!
//! Owns the versioned wire types ([`protocol`]), their validation ([`parse_client`]), and a
//! WebSocket client ([`client`]) used by tests and tools. Depends on no other Gavel crate: roles
//! and ids travel as validated strings and the server converts them. `PROTOCOL.md` documents
//! every message with an example, and a test parses each example.

pub mod client;
pub mod parse;
pub mod protocol;
mod protocol_doc;

pub use parse::*;
pub use protocol::*;

/// Version of the signaling protocol; bumped on any incompatible change so old clients get a
/// clear "please reload" error instead of undefined behaviour.
pub const PROTOCOL_VERSION: u16 = 1;

/// Largest WebSocket message the server accepts, in bytes: big enough for an SDP offer with
/// simulcast (typically 4-12 KiB), small enough that a client cannot make the server buffer much.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
