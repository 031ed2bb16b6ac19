//! kamscope: a terminal monitor for Kamstrup electricity meters.
#![forbid(unsafe_code)]

pub mod app;
pub mod config;
pub mod input;
pub mod link;
pub mod protocol;
pub mod reader;
pub mod readout;
pub mod report;
pub mod tui;
pub mod ui;
