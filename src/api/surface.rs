//! Which listener serves which routes: with `internal_listen` set, the listener HubSpot reaches
//! (`listen`) serves only webhooks and health checks, and `/metrics` needs no token on the
//! internal one; without it, `listen` serves everything and `/metrics` needs a `read` token.

use super::router::Route;
use crate::config::Scope;

/// Which listeners serve a route (see [`Surface`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// HubSpot's deliveries: `listen` only.
    Webhook,
    /// The query API and its description: `internal_listen` when set, else `listen`.
    Api,
    /// Operational data (`/metrics`): like `Api`, but where HubSpot cannot reach it
    /// (`internal_listen`) it needs no token.
    Operations,
    /// Health checks: every listener.
    Health,
    /// The OAuth callback an admin's browser is sent to from HubSpot's consent page: every
    /// listener, as its address is `server.public_url`; its single-use `state` is the proof.
    Callback,
}

/// The listener a request came in on, which decides what it may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `listen` with no `internal_listen`: every route; `/metrics` needs a `read` token.
    Shared,
    /// `listen` beside an `internal_listen`: webhooks and health checks.
    Public,
    /// `internal_listen`: the query API, `/metrics` without a token, health checks.
    Internal,
}

impl Surface {
    /// Whether a route of this exposure is served here (elsewhere it is not found).
    pub fn serves(self, exposure: Exposure) -> bool {
        match (self, exposure) {
            (Surface::Shared, _) | (_, Exposure::Health | Exposure::Callback) => true,
            (Surface::Public, exposure) => exposure == Exposure::Webhook,
            (Surface::Internal, exposure) => exposure != Exposure::Webhook,
        }
    }

    /// The token `route` needs on this listener.
    pub fn scope(self, route: &Route) -> Option<Scope> {
        match (self, route.exposure) {
            (Surface::Internal, Exposure::Operations) => None,
            _ => route.scope,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::router::ROUTES;
    use super::*;

    /// (path, served on Shared, Public, Internal; token needed on each where served).
    #[test]
    fn each_listener_serves_its_routes() {
        let find = |path: &str| ROUTES.iter().find(|route| route.path == path).unwrap();
        let cases = [
            ("/webhooks/hubspot", [true, true, false]),
            ("/healthz", [true, true, true]),
            ("/metrics", [true, false, true]),
            ("/v1/status", [true, false, true]),
        ];
        let surfaces = [Surface::Shared, Surface::Public, Surface::Internal];
        for (path, served) in cases {
            let route = find(path);
            for (surface, served) in surfaces.iter().zip(served) {
                assert_eq!(surface.serves(route.exposure), served, "{path} {surface:?}");
            }
        }
        let metrics = find("/metrics");
        assert_eq!(Surface::Shared.scope(metrics), Some(Scope::Read));
        assert_eq!(Surface::Internal.scope(metrics), None);
        assert_eq!(
            Surface::Internal.scope(find("/v1/status")),
            Some(Scope::Read)
        );
    }
}
