"""Alerts from other systems: Prometheus Alertmanager, Zabbix, and a generic JSON event.

The web process validates and normalises each payload (``from_alertmanager``, ...) into
signal dicts and stores them as ``InboundEvent`` rows; the engine's pipeline ``take``s them
in the same transaction as the alerts it writes, so nothing is lost or taken twice.
Unknown fields are ignored; what is missing or malformed is named in an ``InboundError``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from branchops.alerts.choices import AlertSource
from branchops.alerts.pipeline.signal import Signal, fingerprint_of, labels_fingerprint

MAX_EVENTS_PER_REQUEST = 1000

SEVERITY_WORDS = {
    "critical": 1, "disaster": 1, "emergency": 1, "high": 1, "p1": 1, "1": 1,
    "major": 2, "error": 2, "average": 2, "warning": 2, "p2": 2, "2": 2,
    "minor": 3, "info": 3, "information": 3, "not classified": 3, "low": 3, "p3": 3, "3": 3,
}  # fmt: skip


class InboundError(ValueError):
    """The payload cannot be used; ``problems`` name each bad field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def severity_of(value: Any, default: int = 2) -> int:
    if value is None or value == "":
        return default
    word = str(value).strip().lower()
    if word not in SEVERITY_WORDS:
        raise InboundError([f"severity: {value!r} is not one of 1, 2, 3, critical, major, minor"])
    return SEVERITY_WORDS[word]


def moment(value: Any, field: str) -> float:
    """Unix seconds from a number or an ISO 8601 / RFC 3339 text; now when absent."""
    if value is None or value == "":
        return time.time()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        if "." in text:  # Go writes nanoseconds; Python reads at most microseconds
            head, _, tail = text.partition(".")
            digits = "".join(c for c in tail if c.isdigit())
            text = f"{head}.{digits[:6]}{tail[len(digits) :]}"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            raise InboundError([f"{field}: {value!r} is not a time"]) from None
        if parsed.tzinfo is None:
            from django.utils import timezone

            parsed = timezone.make_aware(parsed)
        return parsed.timestamp()
    raise InboundError([f"{field}: {value!r} is not a time"])


def _text(data: Mapping[str, Any], key: str, limit: int) -> str:
    value = data.get(key)
    return "" if value is None else str(value)[:limit]


def _labels(value: Any, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InboundError([f"{field}: must be an object of name: value"])
    return {str(k)[:100]: str(v)[:300] for k, v in list(value.items())[:64]}


def _signal(
    source: str,
    fingerprint: str,
    *,
    name: str,
    firing: bool,
    severity: int,
    title: str,
    at: float,
    summary: str,
    labels: dict[str, str],
) -> dict[str, Any]:
    return {
        "fingerprint": fingerprint,
        "source": source,
        "name": name[:100] or "external",
        "firing": firing,
        "severity": severity,
        "title": (title or name)[:300],
        "at": at,
        "summary": summary[:2000],
        "labels": labels,
    }


def from_alertmanager(payload: Any) -> list[dict[str, Any]]:
    """Alertmanager's webhook (version 4): one signal per alert in the group."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("alerts"), list):
        raise InboundError(["alerts: a list of alerts is required"])
    signals: list[dict[str, Any]] = []
    problems: list[str] = []
    for i, alert in enumerate(payload["alerts"][:MAX_EVENTS_PER_REQUEST]):
        try:
            signals.append(_alertmanager_alert(alert))
        except InboundError as exc:
            problems.extend(f"alerts[{i}].{p}" for p in exc.problems)
    if problems:
        raise InboundError(problems)
    return signals


def _alertmanager_alert(alert: Any) -> dict[str, Any]:
    if not isinstance(alert, Mapping):
        raise InboundError(["must be an object"])
    labels = _labels(alert.get("labels"), "labels")
    annotations = _labels(alert.get("annotations"), "annotations")
    if "alertname" not in labels:
        raise InboundError(["labels.alertname: required"])
    status = alert.get("status", "firing")
    if status not in ("firing", "resolved"):
        raise InboundError([f"status: {status!r} is neither firing nor resolved"])
    firing = status == "firing"
    at = moment(alert.get("startsAt" if firing else "endsAt"), "startsAt/endsAt")
    fp = alert.get("fingerprint")
    fingerprint = (
        fingerprint_of("am", fp) if isinstance(fp, str) and fp else labels_fingerprint("am", labels)
    )
    return _signal(
        AlertSource.ALERTMANAGER,
        fingerprint,
        name=labels["alertname"],
        firing=firing,
        severity=severity_of(labels.get("severity"), default=2),
        title=annotations.get("summary") or labels["alertname"],
        at=at,
        summary=annotations.get("description", ""),
        labels=labels,
    )


def from_zabbix(payload: Any) -> list[dict[str, Any]]:
    """Zabbix's webhook media type, with the parameters docs/alerts-ingest.md lists."""
    if not isinstance(payload, Mapping):
        raise InboundError(["body: a JSON object is required"])
    problems = [f"{k}: required" for k in ("event_id", "host") if not payload.get(k)]
    status = str(payload.get("status", payload.get("event_value", "PROBLEM"))).upper()
    if status not in ("PROBLEM", "RESOLVED", "OK", "1", "0"):
        problems.append(f"status: {status!r} is neither PROBLEM nor RESOLVED")
    if problems:
        raise InboundError(problems)
    firing = status in ("PROBLEM", "1")
    host = _text(payload, "host", 100)
    name = _text(payload, "trigger_name", 300) or _text(payload, "name", 300) or "zabbix"
    labels = {"host": host, "trigger_id": _text(payload, "trigger_id", 50)}
    labels.update(_labels(payload.get("tags"), "tags"))
    return [
        _signal(
            AlertSource.ZABBIX,
            fingerprint_of("zabbix", _text(payload, "event_id", 50)),
            name="zabbix-trigger",
            firing=firing,
            severity=severity_of(payload.get("severity"), default=2),
            title=f"{host}: {name}",
            at=moment(payload.get("event_time"), "event_time"),
            summary=_text(payload, "message", 2000),
            labels=labels,
        )
    ]


def from_generic(payload: Any) -> list[dict[str, Any]]:
    """BranchOps' own JSON: one event or {"events": [...]}."""
    events = payload.get("events") if isinstance(payload, Mapping) else None
    items = events if isinstance(events, list) else [payload]
    signals: list[dict[str, Any]] = []
    problems: list[str] = []
    for i, item in enumerate(items[:MAX_EVENTS_PER_REQUEST]):
        try:
            signals.append(_generic_event(item))
        except InboundError as exc:
            prefix = f"events[{i}]." if isinstance(events, list) else ""
            problems.extend(prefix + p for p in exc.problems)
    if problems:
        raise InboundError(problems)
    return signals


def _generic_event(item: Any) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise InboundError(["must be an object"])
    name = _text(item, "name", 100)
    if not name:
        raise InboundError(["name: required"])
    status = item.get("status", "firing")
    if status not in ("firing", "resolved"):
        raise InboundError([f"status: {status!r} is neither firing nor resolved"])
    labels = _labels(item.get("labels"), "labels")
    for key in ("site", "device", "system"):
        if item.get(key):
            labels[key] = str(item[key])[:100]
    fingerprint = _text(item, "fingerprint", 200) or labels_fingerprint(name, labels)
    return _signal(
        AlertSource.GENERIC,
        fingerprint_of("generic", fingerprint),
        name=name,
        firing=status == "firing",
        severity=severity_of(item.get("severity"), default=2),
        title=_text(item, "title", 300) or name,
        at=moment(item.get("at"), "at"),
        summary=_text(item, "message", 2000),
        labels=labels,
    )


def internal_signal(
    source: str,
    key: str,
    *,
    name: str,
    firing: bool,
    severity: int,
    title: str,
    summary: str = "",
    labels: dict[str, str] | None = None,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """A signal raised by another BranchOps app (the service desk's SLA breaches), for
    :func:`submit`; ``key`` identifies the problem within ``source``."""
    return _signal(
        source,
        fingerprint_of(source, key),
        name=name,
        firing=firing,
        severity=min(3, max(1, severity)),
        title=title,
        at=(at.timestamp() if at else time.time()),
        summary=summary,
        labels=labels or {},
    )


def submit(source: str, signals: list[dict[str, Any]]) -> int:
    """Hand normalised signals to the engine (web side)."""
    from branchops.alerts.models import InboundEvent

    InboundEvent.objects.bulk_create(
        [InboundEvent(source=source, payload=s) for s in signals], batch_size=1000
    )
    return len(signals)


def take(limit: int = 10_000) -> list[Signal]:
    """The waiting inbound events as signals, removed from the table (engine side; call
    inside the transaction that writes their alerts)."""
    from branchops.alerts.models import InboundEvent

    rows = list(InboundEvent.objects.order_by("id").values_list("id", "payload")[:limit])
    if not rows:
        return []
    InboundEvent.objects.filter(id__lte=rows[-1][0]).delete()
    signals = [Signal(**payload) for _, payload in rows]
    return Targets.of(signals).resolve(signals)


@dataclass
class Targets:
    """Devices, sites and systems named in a batch's labels, looked up in three queries."""

    devices: dict[str, tuple[int, int]]  # name or management address -> (device, site)
    sites: dict[str, int]
    systems: dict[str, int]

    @classmethod
    def of(cls, signals: list[Signal]) -> Targets:
        from branchops.cmdb.models import Device, InformationSystem, Site

        names = {n for s in signals if (n := _device_name(s.labels))}
        addresses = {n for n in names if _maybe_ip(n)}
        devices = {
            name: (pk, site)
            for pk, site, name in Device.objects.filter(name__in=names - addresses).values_list(
                "id", "site_id", "name"
            )
        }
        for pk, site, ip in Device.objects.filter(management_ip__in=addresses).values_list(
            "id", "site_id", "management_ip"
        ):
            devices[str(ip)] = (pk, site)
        codes = {s.labels["site"] for s in signals if s.labels.get("site")}
        systems = {s.labels["system"] for s in signals if s.labels.get("system")}
        return cls(
            devices,
            dict(Site.objects.filter(code__in=codes).values_list("code", "id")),
            dict(InformationSystem.objects.filter(code__in=systems).values_list("code", "id")),
        )

    def resolve(self, signals: list[Signal]) -> list[Signal]:
        return [self.one(s) for s in signals]

    def one(self, signal: Signal) -> Signal:
        device = self.devices.get(_device_name(signal.labels))
        site_id = device[1] if device else self.sites.get(signal.labels.get("site", ""))
        return replace(
            signal,
            device_id=device[0] if device else None,
            site_id=site_id,
            system_id=self.systems.get(signal.labels.get("system", "")),
        )


def _device_name(labels: Mapping[str, str]) -> str:
    return labels.get("device") or labels.get("host") or labels.get("instance", "").split(":")[0]


def _maybe_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
