"""The public HTTP API: authentication, the gateway's own routes and the proxied service routes."""
