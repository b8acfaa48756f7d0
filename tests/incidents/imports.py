"""Shared set-up for the import tests: the samples of /work/shared/samples (copied, so
the suite does not depend on that folder), and helpers to create and run a batch."""

import csv
import io

from django.core.files.base import ContentFile

from portal.incidents.imports.services import import_batch_create, import_batch_run
from portal.incidents.models import ImportBatch

# /work/shared/samples/provider-dump.csv. Its README: 8 rows seen, 5 imported,
# 1 duplicate (the last line repeats m-000001), 1 rejected (line 7: not-a-number),
# 1 for the unknown account DAUNKNOWN00.
PROVIDER_DUMP = (
    "message_id,account_id,sent_at,phone,carrier,country,state,message_type,context,credits,route\n"
    "m-000001,DA7QK4M2ZP,2024-03-01T08:14:02+00:00,+1 (212) 555-0143,Verizon Wireless,US,New York,sms,authentication,1,r12\n"
    "m-000002,DA7QK4M2ZP,2024-03-01T08:15:40+00:00,+12125550143,Verizon Wireless,US,NY,sms,authentication,1,r12\n"
    "m-000003,DA7QK4M2ZP,1709290000,07700 900123,EE,GB,England,phone,enrollment,2,r03\n"
    "m-000004,DA3HN8WQ1C,2024-03-02T23:59:59-05:00,+49 1512 3456789,Telekom,DE,Bayern,sms,administrator login,1,r07\n"
    "m-000005,DA3HN8WQ1C,2024-03-31T12:00:00Z,(415) 555-0199,T-Mobile,US,California,voice,authentication,2,r12\n"
    "m-000006,DA3HN8WQ1C,2024-03-31T12:00:00Z,not-a-number,T-Mobile,US,California,sms,authentication,1,r12\n"
    "m-000007,DAUNKNOWN00,2024-03-05T10:00:00Z,+33 6 12 34 56 78,Orange,FR,Ile-de-France,sms,authentication,1,r09\n"
    "m-000001,DA7QK4M2ZP,2024-03-01T08:14:02+00:00,+1 (212) 555-0143,Verizon Wireless,US,New York,sms,authentication,1,r12\n"
)

# /work/shared/samples/duo-telephony-v2.json: a Duo Admin API v2 telephony log, two items.
DUO_LOG = """{
  "stat": "OK",
  "response": {
    "items": [
      {
        "context": "authentication",
        "credits": 1,
        "phone": "+12125550143",
        "telephony_id": "4b3b1e7a-0c1d-4a0e-9a51-2f7f3f1d9c01",
        "ts": "2024-03-04T14:22:10.125000+00:00",
        "txid": "9d1f0c4e-5b7a-4f2e-8c3d-1a2b3c4d5e6f",
        "type": "sms"
      },
      {
        "context": "enrollment",
        "credits": 2,
        "phone": "+447700900123",
        "telephony_id": "0e9f8d7c-6b5a-4938-8271-605f4e3d2c1b",
        "ts": "2024-03-09T07:01:55.000000+00:00",
        "txid": "1b2c3d4e-5f60-4718-92a3-b4c5d6e7f809",
        "type": "phone"
      }
    ],
    "metadata": {
      "next_offset": null,
      "total_objects": {"relation": "eq", "value": 2}
    }
  }
}
"""

HEADER = "message_id,account_id,sent_at,phone,carrier,country,state,message_type\n"

COUNTS = ("seen", "imported", "duplicate", "rejected", "unknown_account")


def counts(batch: ImportBatch) -> dict[str, int]:
    return {name: getattr(batch, name) for name in COUNTS}


def created(incident, content: str | bytes, *, format="csv", name=None, organization=None):
    data = content.encode() if isinstance(content, str) else content
    name = name or {"csv": "dump.csv", "jsonl": "dump.jsonl", "duo": "duo.json"}[format]
    return import_batch_create(
        incident=incident,
        upload=ContentFile(data, name=name),
        original_name=name,
        format=format,
        organization=organization,
    )


def imported(incident, content: str | bytes, **options) -> ImportBatch:
    return import_batch_run(batch=created(incident, content, **options))


def report(batch: ImportBatch) -> list[dict[str, str]]:
    """The error report as the download writes it (in the active language), as dicts
    by its header."""
    from portal.incidents.imports.errors import report_csv

    with batch.error_report.open("rb") as file:
        return list(csv.DictReader(io.StringIO(b"".join(report_csv(file)).decode())))
