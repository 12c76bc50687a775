"""`import-asn`: an IP-to-AS table in the public iptoasn TSV format, for hosting by network.

The format (https://iptoasn.com, `ip2asn-combined.tsv.gz`, public domain) has one address range
per line, tab-separated: range_start, range_end, AS_number, country_code, AS_description. AS 0
marks ranges that are not routed. fediscope downloads nothing: the person running it fetches
the file and imports it (gzip or plain). Rows that cannot be read (wrong number of fields, an
address that is not one, a range that ends before it starts or mixes IPv4 and IPv6, an AS
number that is not one) are skipped and counted by reason; a file without a single readable
row is refused, and what was imported before stays.

Parsing here is pure; `crawler.store.asn` writes the table.
"""

from __future__ import annotations

import gzip
import ipaddress
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from crawler.fetch.response import utc_now
from crawler.store.asn import AsnRange, replace_asn_table
from crawler.store.schema import open_database

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_NAME = 200
MAX_AS_NUMBER = 2**32 - 1


class AsnImportError(ValueError):
    """The file cannot be read as an IP-to-AS table."""


@dataclass
class AsnTable:
    """The readable ranges of a file and the rows skipped, by reason."""

    ranges: list[AsnRange] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def skipped_rows(self) -> int:
        return sum(self.skipped.values())


def address_key(address: str) -> str | None:
    """A fixed-width key that sorts like the address: 32 hex digits of its IPv6 form (IPv4 as
    ::ffff:a.b.c.d). None when `address` is not an IP address."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv4Address):
        ip = ipaddress.IPv6Address(f"::ffff:{ip}")
    return f"{int(ip):032x}"


def parse_row(fields: list[str]) -> AsnRange | str:
    """One TSV row as a range, or the reason it cannot be one."""
    if len(fields) != 5:
        return "wrong_field_count"
    start_text, end_text, number, country, name = (f.strip() for f in fields)
    try:
        start, end = ipaddress.ip_address(start_text), ipaddress.ip_address(end_text)
    except ValueError:
        return "bad_address"
    if start.version != end.version:
        return "mixed_families"
    if int(end) < int(start):
        return "end_before_start"
    if not number.isdigit() or int(number) > MAX_AS_NUMBER:
        return "bad_as_number"
    start_key, end_key = address_key(start_text), address_key(end_text)
    assert start_key is not None and end_key is not None
    return AsnRange(
        str(start),
        str(end),
        start_key,
        end_key,
        int(number),
        country if len(country) == 2 and country.isalpha() else None,
        name[:MAX_NAME] or None,
    )


def parse_asn_table(text: str) -> AsnTable:
    """Read iptoasn TSV text (pure; no database)."""
    table = AsnTable()
    starts: set[str] = set()
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parsed = parse_row(line.split("\t"))
        if isinstance(parsed, str):
            table.skipped[parsed] += 1
        elif parsed.start_key in starts:
            table.skipped["duplicate_start"] += 1
        else:
            starts.add(parsed.start_key)
            table.ranges.append(parsed)
    return table


def read_table_file(file: str) -> str:
    """The text of a TSV file, gunzipped when it is gzip; AsnImportError when unreadable."""
    path = Path(file)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise AsnImportError(f"{file} is larger than {MAX_FILE_BYTES // 2**20} MiB")
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise AsnImportError(f"cannot read {file}: {exc}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise AsnImportError(f"{file} unpacks to more than {MAX_FILE_BYTES // 2**20} MiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AsnImportError(f"{file} is not UTF-8 text (a TSV from iptoasn.com?)") from exc


def import_asn(db_path: str, file: str) -> AsnTable:
    """Replace the stored IP-to-AS table with the file's readable ranges; return what was read.

    Nothing is replaced when the file has no readable row."""
    table = parse_asn_table(read_table_file(file))
    if not table.ranges:
        reasons = ", ".join(f"{n} {why}" for why, n in table.skipped.most_common()) or "empty"
        raise AsnImportError(
            f"{file} has no readable IP-to-AS row ({reasons}); expected tab-separated "
            "range_start, range_end, AS_number, country_code, AS_description"
        )
    db = open_database(db_path)
    try:
        replace_asn_table(
            db.conn, table.ranges, Path(file).name, utc_now(), table.skipped_rows, table.skipped
        )
    finally:
        db.conn.close()
    return table
