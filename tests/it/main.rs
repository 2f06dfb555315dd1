//! Integration tests: the real daemon (in-process or as a binary) on 127.0.0.1 with temp stores.

mod binary;
mod mirror;
mod support;
mod tidy;
mod webhooks;
