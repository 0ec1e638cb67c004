//! Integration tests: one binary, modules by topic. They run the real
//! `podcap` binary and the real tiny.en model (scripts/test fetches it).

mod util;

mod audio;
mod batch;
mod browser;
mod check;
mod cli_errors;
mod deploy;
mod e2e;
mod engine;
mod engine_api;
mod model;
mod styles;
