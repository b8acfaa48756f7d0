"""One fixed-window rate limiter in the cache, for the limits that are ours rather
than allauth's (sign-in keeps allauth's own): the public report form (per link and
per address) and test sends of a notice (per member).

A window opens with the first hit on its key and lasts `window` seconds. Keys are
the caller's; hash anything personal before it goes in (the cache holds no usable
link or address).
"""

from typing import NamedTuple

from django.core.cache import cache


class RateLimit(NamedTuple):
    key: str
    limit: int  # hits allowed in a window
    window: int  # seconds


def rate_reached(*limits: RateLimit) -> bool:
    """Whether any of the limits is used up already (counts nothing)."""
    counts = cache.get_many([limit.key for limit in limits])
    return any(counts.get(limit.key, 0) >= limit.limit for limit in limits)


def rate_take(*limits: RateLimit) -> bool:
    """Count one hit against every limit; False if that goes over one of them.

    Counted before the check (add() opens the window, incr() counts atomically), so
    two requests at once cannot both slip under a limit."""
    within = True
    for limit in limits:
        cache.add(limit.key, 0, timeout=limit.window)
        try:
            count = cache.incr(limit.key)
        except ValueError:  # the window closed between add() and incr()
            cache.set(limit.key, 1, timeout=limit.window)
            count = 1
        within = within and count <= limit.limit
    return within
