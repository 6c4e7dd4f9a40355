//! Integration tests: the real server (HTTPS, SQLite or PostgreSQL, webhook worker) on
//! loopback, driven as the court platform and participants would drive it.

#![allow(clippy::unwrap_used, unreachable_pub)]

mod agreement;
mod api;
mod asr;
mod audit;
mod auth;
mod binary;
mod browser;
mod captions;
mod courtroom;
mod courtroom_profiles;
mod courtroom_tls;
mod db_outage;
mod devices;
mod input;
mod layering;
mod main_view;
mod mandarin;
mod media;
mod media_client;
mod media_peer;
mod nettest;
mod plane;
mod plane_offering;
mod purity;
mod recording;
mod recording_archive;
mod recording_crash;
mod recording_recovery;
mod signaling;
mod simulcast;
mod support;
mod webhooks;
mod whip;
mod written;
