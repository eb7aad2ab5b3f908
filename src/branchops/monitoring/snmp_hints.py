"""The ``simulate`` hints of SNMP device profiles: how the lab makes each vendor OID's value.

One grammar for everyone who reads profiles: the lab serves from it, the collector tests
build simulated devices from it.

The vocabulary is the one docs/collectors-snmp.md defines for profile authors:

=====================  ================================================================
``percent A..B``       Gauge32 walking around a per-device level inside A..B (0..100);
                       a metric whose name contains ``cpu`` goes to 91..99 in a cpu-spike
``gauge A..B``         Gauge32 walking inside A..B; in a VPN tunnel table, a metric whose
                       name contains ``rtt`` or ``latency`` adds both ends' latency fault
``counter R/s``        Counter64 growing at about R per second since boot
``const N``            INTEGER N
``tunnel-names``       label column of a ``vpn_tunnels`` table: one row per VPN link of
                       the device, labelled with the link's name
``tunnel-state``       the tunnel's state, as the ``states`` key mapped to 1 (up) or to 0
                       (down); plain 1/2 without ``states``
``names A, B, ...``    label column of any other table: one row per name
=====================  ================================================================

Anything else stops the lab with an error naming the profile, the OID and the hint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

HintKind = Literal["percent", "gauge", "counter", "const", "tunnel-names", "tunnel-state", "names"]
VALUE_KINDS: Final = frozenset({"percent", "gauge", "counter", "const", "tunnel-state"})
LABEL_KINDS: Final = frozenset({"tunnel-names", "names"})
_RANGE = re.compile(r"^(percent|gauge)\s+(\d+)\s*\.\.\s*(\d+)$")
_RATE = re.compile(r"^counter\s+(\d+(?:\.\d+)?)\s*/s$")
_CONST = re.compile(r"^const\s+(-?\d+)$")
_NAMES = re.compile(r"^names\s+(.+)$")


class HintError(ValueError):
    """A profile's ``simulate`` hint the lab cannot follow."""


@dataclass(frozen=True, slots=True)
class Hint:
    kind: HintKind
    low: float = 0.0
    high: float = 0.0
    rate: float = 0.0
    const: int = 0
    names: tuple[str, ...] = ()

    @property
    def is_label(self) -> bool:
        return self.kind in ("tunnel-names", "names")


def parse(text: str, *, profile: str, oid: str) -> Hint:
    """The hint ``text`` of the object ``oid`` in ``profile``; HintError names all three."""
    hint = " ".join(text.split())
    where = f"profile {profile!r}, OID {oid}"
    if not hint:
        raise HintError(f"{where}: no simulate hint; the lab needs one (see docs/lab.md)")
    if hint in ("tunnel-names", "tunnel-state"):
        return Hint(hint)  # type: ignore[arg-type]  # narrowed by the membership test
    if match := _RANGE.match(hint):
        kind, low, high = match.group(1), float(match.group(2)), float(match.group(3))
        if low > high or (kind == "percent" and high > 100):
            raise HintError(
                f"{where}: simulate hint {hint!r} needs A <= B (and B <= 100 for percent)"
            )
        return Hint(kind, low=low, high=high)  # type: ignore[arg-type]
    if match := _RATE.match(hint):
        return Hint("counter", rate=float(match.group(1)))
    if match := _CONST.match(hint):
        return Hint("const", const=int(match.group(1)))
    if match := _NAMES.match(hint):
        names = tuple(n.strip() for n in match.group(1).split(","))
        if all(names):
            return Hint("names", names=names)
    raise HintError(
        f"{where}: unknown simulate hint {text!r}; known: 'percent A..B', 'gauge A..B', "
        "'counter R/s', 'const N', 'tunnel-names', 'tunnel-state', 'names A, B, ...'"
    )
