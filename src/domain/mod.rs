//! The court's vocabulary as plain data and pure rules: roles and what they may do, hearing
//! kinds and states, field validation, audit entries.
//!
//! Invariant: nothing here does I/O, reads the clock, spawns or locks; time comes in as an
//! argument. That keeps every rule testable as a table, without sockets or a database.

pub mod audit;
pub mod device;
pub mod hearing;
pub mod ids;
pub mod role;
pub mod validate;

pub use hearing::{HearingKind, HearingState, IllegalTransition};
pub use ids::{HearingId, ParticipantId, TrackKey};
pub use role::{Capabilities, Capability, Role};
