//! The signaling protocol between Gavel and its clients (browser, tests, benchmark, RTSP bridge).
//!
//! Owns the versioned wire types; the server's WebSocket loop and the test client build on them.
//! This crate depends on no other Gavel crate and never does I/O in its protocol types.
//! The message set lands with the SFU work (see `PROTOCOL.md` once it exists); today it fixes
//! the version number that every message will carry.

/// Version of the signaling protocol; bumped on any incompatible change so old clients get a
/// clear "please reload" error instead of undefined behaviour.
pub const PROTOCOL_VERSION: u16 = 1;

/// Largest WebSocket frame the server accepts, in bytes: big enough for an SDP offer with
/// simulcast (typically 4-12 KiB), small enough that a client cannot make the server buffer much.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
