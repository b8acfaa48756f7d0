"""The demo breach: a realistic synthetic month of stolen SMS and voice logs.

`demo_breach_seed` builds the operator, three customer accounts with a member in
every role, one published incident (1-31 March 2024), the log rows, each account's
directory and the exposures, all in one transaction. Everything it writes is drawn
from one `random.Random(seed)`, with fixed timestamps and ids drawn from that
generator, so the same seed gives the same data on SQLite and on PostgreSQL. Only
what the database makes itself (primary keys, `created_at`, password salts, exposure
ids) differs between runs.

- `data.py`: countries, numbering, carriers, regions, names: the tables it draws from
- `phones.py`: valid mobile numbers and who uses them how much
- `logs.py`: the log rows, streamed into COPY or bulk_create
- `directory.py`: each account's user directory
- `seed.py`: the whole, and its undoing
"""

from portal.incidents.demo.seed import (
    DEFAULT_ROWS,
    DEFAULT_SEED,
    MIN_ROWS,
    DemoAlreadySeededError,
    DemoSeedError,
    DemoSeedSummary,
    demo_breach_clear,
    demo_breach_seed,
)

__all__ = [
    "DEFAULT_ROWS",
    "DEFAULT_SEED",
    "MIN_ROWS",
    "DemoAlreadySeededError",
    "DemoSeedError",
    "DemoSeedSummary",
    "demo_breach_clear",
    "demo_breach_seed",
]
