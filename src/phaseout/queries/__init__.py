"""The one read side: device listings, the dashboard's and API's aggregates, shared by the
CLI, the web pages, the API, exports and reports.  Reads only; depends on the store's schema and
the domain, never on the rules (the application composes reads with rules where needed)."""
