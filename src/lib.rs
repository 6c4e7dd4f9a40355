//! Gavel: the server library behind the `gavel` binary. Integration tests drive it through
//! [`app::Server`], exactly as `gavel serve` does.

pub mod app;
pub mod audit;
pub mod auth;
pub mod checkpoint;
pub mod cli;
pub mod clip;
pub mod clock;
pub mod config;
pub mod courtroom;
pub mod crashpoint;
pub mod db;
pub mod demo;
pub mod docket;
pub mod domain;
pub mod engine;
pub mod fault;
pub mod hearing;
pub mod http;
pub mod recording;
pub mod rooms;
pub mod sfu;
pub mod transcribe;
pub mod web;
pub mod webhook;
pub mod whip;
pub mod written;
