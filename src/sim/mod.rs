//! hubspot-sim as a library: a HubSpot API simulator and signed-webhook load generator.
