"""Suspicion reports: the public form a notice links to, and the account's list and triage."""
