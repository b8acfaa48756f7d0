"""Delivery: the engine that sends a campaign's notices (dispatch, claim, send over SMTP, record, retry) and its Celery tasks."""
