"""The text encoding of an uploaded dump, found before any row is read.

Providers' tools write UTF-8 (with or without a BOM), UTF-16 with a BOM (Excel's
"Unicode text"), or Windows-1252 / Latin-1 (older Windows tools). A dump read in the
wrong encoding loses every row with an accent (Québec, São Paulo), so the importer
decides once, for the whole file, and refuses a file it cannot read whole:

1. a byte-order mark says it (UTF-8, UTF-16, UTF-32);
2. else the whole file is checked as UTF-8 while it is hashed on upload (C speed, about
   a gigabyte a second): no invalid byte anywhere, and it is UTF-8;
3. else charset-normalizer names the encoding from a sample around the first bytes
   that are not UTF-8, and the whole file must decode in it, or it is refused with the
   name of what was found.

`Utf8Reader` then hands the readers UTF-8 bytes whatever the file was written in, so
they have one job: lines of UTF-8.
"""

import codecs
from typing import BinaryIO

from charset_normalizer import from_bytes
from django.utils.translation import gettext_noop

from portal.incidents.imports.errors import ImportRefusedError
from portal.incidents.reasons import Reason

UTF8 = "utf-8"
SAMPLE = 256 << 10
# Single-byte encodings of Western European text, all read as Windows-1252.
WESTERN = {"cp1252", "latin_1", "iso8859_15"}
CHUNK = 1 << 20
_BOMS = (
    # Longest first: a UTF-32 LE BOM starts with the UTF-16 LE one.
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, UTF8),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# What a name charset-normalizer gives is called on the batch page.
_READABLE = {
    "utf_8": "UTF-8",
    "utf-8": "UTF-8",
    "utf-16": "UTF-16",
    "utf-32": "UTF-32",
    "cp1252": "Windows-1252",
    "latin_1": "Latin-1 (ISO 8859-1)",
    "iso8859_15": "Latin-9 (ISO 8859-15)",
}


def encoding_label(encoding: str) -> str:
    return _READABLE.get(encoding, encoding.replace("_", "-").upper())


class EncodingSniffer:
    """Fed the upload's chunks in order (as it is hashed), tells its encoding."""

    def __init__(self) -> None:
        self._head = b""
        self._decoder = codecs.getincrementaldecoder(UTF8)()
        self._offset = 0
        self._bom = ""
        self._bad_at: int | None = None
        self._sample = b""

    def feed(self, chunk: bytes) -> None:
        if self._offset == 0 and not self._bom:
            self._head += chunk[:4]
            self._bom = next((name for bom, name in _BOMS if self._head.startswith(bom)), "")
        if self._bom not in ("", UTF8):
            self._offset += len(chunk)
            return
        if self._bad_at is None:
            try:
                self._decoder.decode(chunk)
            except UnicodeDecodeError as error:
                self._bad_at = self._offset + error.start
                # Keep some text before the first bad byte and plenty after it: the
                # accents are what tells one single-byte encoding from another.
                start = max(0, error.start - 4096)
                self._sample = chunk[start : error.start + SAMPLE]
        elif len(self._sample) < SAMPLE:
            self._sample += chunk[: SAMPLE - len(self._sample)]
        self._offset += len(chunk)

    def encoding(self) -> str:
        """The file's encoding (a Python codec name), or ImportRefusedError."""
        if self._bom:
            if self._bom == UTF8 and self._bad_at is not None:
                raise ImproperlyEncodedError(
                    Reason(
                        gettext_noop(
                            "The file starts with a UTF-8 byte-order mark but is not UTF-8 "
                            "throughout (byte %(byte)s is not): save it again as UTF-8."
                        ),
                        byte=f"{self._bad_at + 1:,}",
                    )
                )
            return self._bom
        if self._bad_at is None:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self._bad_at = self._offset
                return self._guess()
            return UTF8
        return self._guess()

    def _guess(self) -> str:
        results = from_bytes(self._sample) if self._sample else None
        best = results.best() if results else None
        if best is None:
            raise ImproperlyEncodedError(
                Reason(
                    gettext_noop(
                        "The file is not UTF-8 (byte %(byte)s is not), and its encoding could "
                        "not be recognised: save it as UTF-8."
                    ),
                    byte=f"{self._bad_at + 1:,}",
                )
            )
        # On a short sample (a few accents in a dump that is mostly digits) Windows-1252
        # and its neighbours read the same text, and charset-normalizer may name any of
        # them: Windows-1252 is what a provider's Windows tool writes, so it wins
        # whenever it reads the sample as well as the best.
        western = WESTERN & {best.encoding, *best.could_be_from_charset} or any(
            match.encoding in WESTERN and match.chaos <= best.chaos for match in results
        )
        if western:
            # Windows-1252 is Latin-1 with printable characters where Latin-1 has
            # control codes: what Windows tools mean when they write "Latin-1".
            return "cp1252"
        raise ImproperlyEncodedError(
            Reason(
                gettext_noop(
                    "The file is not UTF-8 (byte %(byte)s is not); it looks like %(encoding)s, "
                    "which the importer does not read. Save it as UTF-8 (or UTF-16, or "
                    "Windows-1252) and upload it again."
                ),
                byte=f"{self._bad_at + 1:,}",
                encoding=encoding_label(best.encoding),
            )
        )


class ImproperlyEncodedError(ImportRefusedError):
    pass


def encoding_checked(stream: BinaryIO, encoding: str) -> None:
    """Refuse the file unless all of it decodes in `encoding`, naming the encoding."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    try:
        while chunk := stream.read(CHUNK):
            decoder.decode(chunk)
            offset += len(chunk)
    except UnicodeDecodeError as error:
        raise ImproperlyEncodedError(
            Reason(
                gettext_noop(
                    "The file is not UTF-8, and looks like %(encoding)s, but byte %(byte)s is "
                    "not %(encoding)s either: save the file as UTF-8."
                ),
                encoding=encoding_label(encoding),
                byte=f"{offset + error.start + 1:,}",
            )
        ) from None
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ImproperlyEncodedError(
            Reason(
                gettext_noop(
                    "The file is %(encoding)s but ends in the middle of a character (after "
                    "byte %(byte)s): it looks cut short. Upload the whole file."
                ),
                encoding=encoding_label(encoding),
                byte=f"{offset:,}",
            )
        ) from None


class Utf8Reader:
    """A binary stream in another encoding, read as UTF-8 bytes (no BOM)."""

    def __init__(self, stream: BinaryIO, encoding: str):
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder(encoding)()
        self.first = True
        self.bytes_read = 0  # of the file as written, for progress

    def read(self, size: int = -1) -> bytes:
        while True:
            data = self.stream.read(size)
            self.bytes_read += len(data)
            text = self.decoder.decode(data, final=not data)
            if self.first and text:
                text = text.removeprefix("\ufeff")
                self.first = False
            if text or not data:
                return text.encode(UTF8)


def utf8_stream(stream: BinaryIO, encoding: str) -> BinaryIO:
    if encoding in ("", UTF8):
        return stream
    return Utf8Reader(stream, encoding)  # type: ignore[return-value]
