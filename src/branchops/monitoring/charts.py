"""What the monitoring pages chart: metric names, series labels, units, per check kind.

The pages render this as JSON (``json_script``) with every label already translated;
``static/branchops/monitoring.js`` reads it, fetches each metric from
``/api/v1/metrics/query_range/`` with the browser's session and draws ECharts line charts.
So the script holds no UI text and the metric names live here, in one place.

A series label is a format with the series' labels as ``%(name)s`` fields, for example
``"%(interface)s in"``; ``match`` keeps only series whose labels have those values (the
query API filters on a few labels only, so ``stat="avg"`` is picked in the browser).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from branchops.monitoring.choices import CheckKind

# Units the script knows how to format: ms, percent, bps (bit/s with K/M/G), state (1 up,
# 0 down), days, count.
RANGES: tuple[tuple[str, int, str | Promise], ...] = (
    ("1h", 3600, _("1 h")),
    ("24h", 86_400, _("24 h")),
    ("7d", 7 * 86_400, _("7 d")),
    ("30d", 30 * 86_400, _("30 d")),
)


@dataclass(frozen=True)
class Metric:
    name: str
    label: str | Promise  # a format of the series' labels, e.g. "%(interface)s in"
    scale: float = 1.0
    match: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Chart:
    key: str
    title: str | Promise
    unit: str
    metrics: tuple[Metric, ...]
    step: bool = False  # a state that jumps (tunnel up/down), not a measurement
    band: bool = False  # shade min..max where the store gives them (rollups)
    top: str = ""  # keep the few series that matter most, by this label (interfaces, tunnels)
    extra: dict[str, str] = field(default_factory=dict)  # matchers of this chart only
    # Hidden when the device has no such series at all (a vendor profile that reads no
    # tunnels), instead of showing an empty chart.
    optional: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": str(self.title),
            "unit": self.unit,
            "step": self.step,
            "band": self.band,
            "top": self.top,
            "extra": self.extra,
            "optional": self.optional,
            "metrics": [
                {"name": m.name, "label": str(m.label), "scale": m.scale, "match": m.match}
                for m in self.metrics
            ],
        }


MS = 1000.0
PERCENT = 100.0

LATENCY = Chart(
    "latency",
    _("Latency"),
    "ms",
    (Metric("branchops_icmp_rtt_seconds", _("Average"), MS, {"stat": "avg"}),),
    band=True,
)
LOSS = Chart(
    "loss", _("Packet loss"), "percent", (Metric("branchops_icmp_loss_ratio", _("Loss"), PERCENT),)
)
JITTER = Chart(
    "jitter", _("Jitter"), "ms", (Metric("branchops_icmp_jitter_seconds", _("Jitter"), MS),)
)
TRAFFIC = Chart(
    "traffic",
    _("Interface traffic"),
    "bps",
    (
        Metric("branchops_if_in_bits_per_second", _("%(interface)s in")),
        Metric("branchops_if_out_bits_per_second", _("%(interface)s out")),
    ),
    top="interface",
)
CPU_MEMORY = Chart(
    "cpu_memory",
    _("CPU and memory"),
    "percent",
    (
        Metric("branchops_cpu_utilisation_ratio", _("CPU"), PERCENT),
        Metric("branchops_memory_utilisation_ratio", _("Memory"), PERCENT),
    ),
    band=True,
)
TUNNELS = Chart(
    "tunnels",
    _("VPN tunnels"),
    "state",
    (Metric("branchops_vpn_tunnel_up", "%(tunnel)s"),),
    step=True,
    top="tunnel",  # a concentrator has hundreds: those down the longest
    optional=True,
)
SESSIONS = Chart(
    "sessions",
    _("Sessions"),
    "count",
    (Metric("branchops_sessions", _("Sessions")),),
    optional=True,
)
ONLINE_USERS = Chart(
    "online_users",
    _("Online users"),
    "count",
    (Metric("branchops_online_users", _("Online users")),),
    optional=True,
)
UPTIME = Chart(
    "uptime",
    _("Uptime"),
    "days",
    (Metric("branchops_snmp_uptime_seconds", _("Uptime"), 1 / 86_400),),
)
TCP_CONNECT = Chart(
    "tcp",
    _("TCP connect time"),
    "ms",
    (Metric("branchops_tcp_connect_seconds", _("Connect time"), MS),),
)
HTTP_DURATION = Chart(
    "http",
    _("HTTP response time"),
    "ms",
    (Metric("branchops_http_duration_seconds", _("Response time"), MS),),
)
CERT_DAYS = Chart(
    "cert",
    _("Certificate expires in"),
    "days",
    (Metric("branchops_tls_cert_expiry_days", _("Days left")),),
)
NTP_OFFSET = Chart(
    "ntp", _("Clock offset"), "ms", (Metric("branchops_ntp_offset_seconds", _("Offset"), MS),)
)
DNS_DURATION = Chart(
    "dns",
    _("DNS answer time"),
    "ms",
    (Metric("branchops_dns_lookup_seconds", _("Lookup time"), MS),),
)

# The charts each kind of check feeds, in the order a device page shows them.
BY_KIND: dict[str, tuple[Chart, ...]] = {
    CheckKind.ICMP: (LATENCY, LOSS, JITTER),
    CheckKind.SNMP_INTERFACES: (TRAFFIC,),
    CheckKind.SNMP_SYSTEM: (CPU_MEMORY, UPTIME),
    CheckKind.SNMP_PROFILE: (TUNNELS, SESSIONS, ONLINE_USERS),
    CheckKind.VPN_TUNNEL: (TUNNELS,),
    CheckKind.TCP: (TCP_CONNECT,),
    CheckKind.HTTP: (HTTP_DURATION, CERT_DAYS),
    CheckKind.NTP: (NTP_OFFSET,),
    CheckKind.DNS: (DNS_DURATION,),
}
DEVICE_ORDER = (
    LATENCY,
    LOSS,
    JITTER,
    TRAFFIC,
    CPU_MEMORY,
    TUNNELS,
    SESSIONS,
    ONLINE_USERS,
    UPTIME,
    TCP_CONNECT,
    HTTP_DURATION,
    CERT_DAYS,
    NTP_OFFSET,
    DNS_DURATION,
)


def _run_charts(check_id: int) -> tuple[Chart, ...]:
    """Every check: did it pass, and how long did its runs take."""
    only = {"check_id": str(check_id)}
    return (
        Chart(
            "check_up",
            _("Passed"),
            "state",
            (Metric("branchops_check_up", _("Passed")),),
            step=True,
            extra=only,
        ),
        Chart(
            "check_duration",
            _("Run time"),
            "ms",
            (Metric("branchops_check_duration_seconds", _("Run time"), MS),),
            extra=only,
        ),
    )


# A VPN concentrator ends hundreds of tunnels: a month of all of them is tens of megabytes of
# JSON for one chart. Past this many, the device page leaves tunnels to each link's check.
MAX_TUNNEL_SERIES = 20


def for_device(kinds: Iterable[str], *, tunnels: int = 0) -> list[Chart]:
    """The charts of a device page, for the kinds of checks that watch it.

    ``tunnels``: how many VPN tunnels end at the device (as the far end of links).
    """
    wanted = {chart.key for kind in kinds for chart in BY_KIND.get(kind, ())}
    if tunnels > MAX_TUNNEL_SERIES:
        wanted.discard(TUNNELS.key)
    return [chart for chart in DEVICE_ORDER if chart.key in wanted]


def for_check(kind: str, check_id: int) -> list[Chart]:
    return [*BY_KIND.get(kind, ()), *_run_charts(check_id)]


def config(charts: Iterable[Chart], matchers: dict[str, str]) -> dict[str, Any]:
    """Everything the script needs, with the labels in the user's language."""
    return {
        "api": reverse("api:query_range"),
        "zone": settings.TIME_ZONE,
        "matchers": matchers,
        "ranges": [{"key": k, "seconds": s, "label": str(label)} for k, s, label in RANGES],
        "charts": [chart.as_json() for chart in charts],
        "text": {
            "empty": str(_("No data for this period.")),
            "error": str(_("The data could not be loaded.")),
            "loading": str(_("Loading…")),
            "up": str(_("Up")),
            "down": str(_("Down")),
            "days": str(_("days")),
            "min_max": str(_("min to max")),
        },
    }
