"""The operator console: incidents, imports and accounts."""
