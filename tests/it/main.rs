//! Integration tests: the real daemon (in-process or as a binary) and the simulator on
//! 127.0.0.1 with temp stores.

mod binary;
mod client;
mod connect;
mod console;
mod demo;
mod export;
mod export_binary;
mod export_crash;
mod export_split;
mod faults;
mod journal;
mod listeners;
mod mirror;
mod notify;
mod ops;
mod ownership;
mod portal_removal;
mod portals;
mod postgres;
mod privacy;
mod removal_crash;
mod replicas;
mod schedule;
mod sim;
mod slow_clients;
mod store_damage;
mod support;
mod tidy;
mod webhooks;
