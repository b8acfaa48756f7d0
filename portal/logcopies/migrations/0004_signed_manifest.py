"""Signed manifests (issue 16): `sha256` becomes the zip's own hash, beside the files
the manifest lists and the fingerprint of the key that signed it.

Copies made before held the data file's hash in `sha256`. Those still ready are read
once: the zip's hash is computed and the old manifest's data-file hash moves to
`files`; a copy whose file cannot be read loses the hash rather than keep one that
names the wrong file. They stay unsigned (no fingerprint) until they expire.
"""

import hashlib
import json
import zipfile

from django.db import migrations, models


def zip_hashes(apps, schema_editor):
    LogCopyRequest = apps.get_model("logcopies", "LogCopyRequest")
    for copy in LogCopyRequest.objects.filter(status="ready").exclude(file=""):
        try:
            with copy.file.open("rb") as fh:
                sha256 = hashlib.file_digest(fh, "sha256").hexdigest()
                fh.seek(0)
                with zipfile.ZipFile(fh) as archive:
                    manifest = json.loads(archive.read("manifest.json"))
                    name = manifest["data_file"]
                    size = archive.getinfo(name).file_size
            files = [{"name": name, "size": size, "sha256": manifest["sha256"]}]
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            sha256, files = "", []
        LogCopyRequest.objects.filter(pk=copy.pk).update(sha256=sha256, files=files)


class Migration(migrations.Migration):
    dependencies = [
        ("logcopies", "0003_logcopy_lease"),
    ]

    operations = [
        migrations.AddField(
            model_name="logcopyrequest",
            name="files",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="logcopyrequest",
            name="key_fingerprint",
            field=models.CharField(blank=True, max_length=80),
        ),
        migrations.AlterField(
            model_name="logcopyrequest",
            name="sha256",
            field=models.CharField(
                blank=True, help_text="SHA-256 of the downloaded .zip", max_length=64
            ),
        ),
        migrations.RunPython(zip_hashes, migrations.RunPython.noop, elidable=True),
    ]
