"""The outbox: every email but notices (scheduled, and those a change in accounts, incidents or log copies calls for), sent and retried from ScheduledEmail rows."""
