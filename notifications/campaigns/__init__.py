"""Campaigns: compose (audience, template, contact), review, launch, and the controls and progress pages of one campaign."""
