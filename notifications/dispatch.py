"""Due campaigns become delivery rows and batches for the workers (issue 6)."""


def campaigns_dispatch_due() -> int:
    return 0


def deliveries_requeue_stale() -> int:
    return 0
