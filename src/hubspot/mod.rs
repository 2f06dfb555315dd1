//! HubSpot API client: auth, rate limits, retries, and the CRM read/write endpoints.
