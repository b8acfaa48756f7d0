"""docs/api.md names every operation of the schema with its capability."""

import re
from pathlib import Path

from django.conf import settings

from portal.api.main import api

DOCS = Path(settings.BASE_DIR) / "docs" / "api.md"


def test_docs_list_every_operation_with_its_capability():
    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    # | `operation` | `METHOD /path` | `capability` [or `another`] [(...)] |
    rows = {
        match.group(1): set(re.findall(r"^`(\w+)`|(?<= or )`(\w+)`", match.group(2)))
        for match in re.finditer(r"^\| `(\w+)` \| [^|]+ \| ([^|]+) \|$", DOCS.read_text(), re.M)
    }
    rows = {name: {a or b for a, b in found} for name, found in rows.items()}

    for methods in schema["paths"].values():
        for operation in methods.values():
            name, needed = operation["operationId"], operation["x-capability"]
            assert name in rows, f"docs/api.md: add a row for {name}"
            assert rows[name] == set(needed if isinstance(needed, list) else [needed]), name
