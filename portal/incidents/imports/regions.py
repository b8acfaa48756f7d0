"""ISO 3166-2 codes for the states and provinces a dump names, where we know them.

The table is the provider's countries and regions, with the names it writes
(`portal.incidents.countries`). A region is found by its name or by its
code, with or without the country prefix ("New York", "NY", "US-NY"); anything else
keeps its name and gets no code.
"""

from functools import cache, lru_cache

from portal.incidents.countries import COUNTRIES


@cache
def _known() -> dict[tuple[str, str], str]:
    known: dict[tuple[str, str], str] = {}
    for country in COUNTRIES.values():
        for region in country.regions:
            if not region.code:
                continue
            for name in (region.name, region.code, region.code.partition("-")[2]):
                known[(country.code, name.casefold())] = region.code
    return known


@lru_cache(maxsize=4096)
def region_code(country: str, region: str) -> str:
    return _known().get((country, region.strip().casefold()), "")
