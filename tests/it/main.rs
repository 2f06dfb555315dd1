mod client;
mod sim;
