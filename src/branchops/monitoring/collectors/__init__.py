"""The collectors, listed explicitly (never discovered by scanning folders).

Each entry maps a check kind to ``module:Class``; the module is imported the first time
the kind is needed, so the engine pays only for what the estate uses. A collector class is
built with ``Class.from_context(context)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from branchops.monitoring.collectors.base import Collector

REGISTRY: Mapping[str, str] = MappingProxyType(
    {
        "icmp": "branchops.monitoring.collectors.icmp:IcmpCollector",
        "tcp": "branchops.monitoring.collectors.tcp:TcpCollector",
        "http": "branchops.monitoring.collectors.http:HttpCollector",
        "dns": "branchops.monitoring.collectors.dns:DnsCollector",
        "ntp": "branchops.monitoring.collectors.ntp:NtpCollector",
        "snmp_system": "branchops.monitoring.collectors.snmp:SnmpSystemCollector",
        "snmp_interfaces": "branchops.monitoring.collectors.snmp:SnmpInterfaceCollector",
        "snmp_profile": "branchops.monitoring.collectors.snmp:SnmpProfileCollector",
        "vpn_tunnel": "branchops.monitoring.collectors.snmp:VpnTunnelCollector",
        "prometheus": "branchops.monitoring.collectors.prometheus:PrometheusCollector",
    }
)


@dataclass
class Context:
    """What collectors may use, injected so that tests can replace any of it.

    ``shared`` holds objects collectors share within one engine (the SNMP client with its
    single UDP socket, the HTTP client pool): a collector creates one on first use with
    :meth:`shared_object` and the engine closes them all at the end.
    """

    clock: Callable[[], float]  # wall clock, unix seconds
    monotonic: Callable[[], float]
    profiles: Mapping[str, Any] = field(default_factory=dict)  # name -> DeviceProfile
    options: Mapping[str, Any] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)

    def shared_object(self, key: str, factory: Callable[[], Any]) -> Any:
        if key not in self.shared:
            self.shared[key] = factory()
        return self.shared[key]


def build(kind: str, context: Context) -> Collector:
    try:
        path = REGISTRY[kind]
    except KeyError:
        raise ValueError(f"no collector for check kind {kind!r}") from None
    module_name, class_name = path.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    collector: Collector = cls.from_context(context)
    return collector
