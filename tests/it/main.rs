//! Integration tests: the real daemon (in-process or as a binary) and the simulator on
//! 127.0.0.1 with temp stores.

mod binary;
mod client;
mod console;
mod demo;
mod export;
mod export_binary;
mod faults;
mod listeners;
mod mirror;
mod ops;
mod ownership;
mod schedule;
mod sim;
mod slow_clients;
mod support;
mod tidy;
mod webhooks;
