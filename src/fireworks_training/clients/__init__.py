"""The clients: one base client, one module per resource, async first (docs/architecture.md)."""
