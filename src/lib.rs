//! kamscope: a terminal monitor for Kamstrup electricity meters.
//!
//! Data flows one way: `link` (I/O) -> `task` (async, one per line) -> `wire::Pipeline` (record,
//! frame, decode) -> `app` (state) -> `ui` (drawing). `protocol` is sans-IO and uses nothing else
//! of the crate; `wire` holds what came down the wire and uses only `protocol`.
#![forbid(unsafe_code)]

pub mod app;
pub mod config;
pub mod link;
pub mod log;
pub mod protocol;
pub mod task;
pub mod tui;
pub mod ui;
pub mod wire;
