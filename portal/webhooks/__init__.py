"""Signed webhooks per account (issue 16): events delivered from an outbox, Standard Webhooks signatures."""
