"""ISP / autonomous-system lookup from an iptoasn.com `ip2asn-combined.tsv` file (public domain):
lines `range_start  range_end  AS_number  country  AS_description`, tab-separated."""

from __future__ import annotations

import bisect
import ipaddress
from pathlib import Path


class Ip2AsnLookup:
    """Loads the ranges once; each lookup is a binary search."""

    def __init__(self, path: Path) -> None:
        self._starts: dict[int, list[int]] = {4: [], 6: []}
        self._rows: dict[int, list[tuple[int, str]]] = {4: [], 6: []}
        with path.open(encoding="utf-8", errors="replace") as handle:
            entries = []
            for line in handle:
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 5 or parts[2] in ("0", ""):
                    continue
                try:
                    start, end = ipaddress.ip_address(parts[0]), ipaddress.ip_address(parts[1])
                except ValueError:
                    continue
                entries.append((start.version, int(start), int(end), f"AS{parts[2]} {parts[4]}".strip()))
        for version, start_int, end_int, name in sorted(entries):
            self._starts[version].append(start_int)
            self._rows[version].append((end_int, name))

    def lookup(self, ip: str) -> str | None:
        address = ipaddress.ip_address(ip)
        starts, rows = self._starts[address.version], self._rows[address.version]
        at = bisect.bisect_right(starts, int(address)) - 1
        if at < 0:
            return None
        end, name = rows[at]
        return name if int(address) <= end else None
