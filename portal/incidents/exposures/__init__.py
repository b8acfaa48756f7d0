"""Exposures: who in an account was exposed (dashboard, list, search, timeline, export), and their rebuild from the log rows."""
