"""The parameters of each check kind, validated wherever they come from (templates, the API,
the UI, YAML files). Collectors receive them already validated in ``CheckSpec.params``.

Secrets never sit in parameters: SNMP checks name a credential (``credential``) that the
engine resolves when it builds the spec.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Port = Annotated[int, Field(ge=1, le=65535)]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IcmpParams(Params):
    count: int = Field(5, ge=1, le=50, description="Echo requests per run.")
    spacing_ms: int = Field(200, ge=10, le=5000, description="Time between two requests.")
    size: int = Field(56, ge=0, le=1472, description="Payload bytes.")
    loss_down_ratio: float = Field(
        1.0, gt=0, le=1, description="Loss at or above which it is down."
    )
    loss_degraded_ratio: float = Field(0.2, ge=0, le=1)


class TcpParams(Params):
    port: Port


class HttpParams(Params):
    url: str | None = Field(None, description="Full URL; else built from scheme, port, path.")
    scheme: Literal["http", "https"] = "http"
    port: Port | None = None
    path: str = "/"
    method: Literal["GET", "HEAD"] = "GET"
    expect_status: list[int] = Field(default_factory=lambda: [200])
    body_match: str | None = Field(None, description="Regular expression the body must match.")
    verify_tls: bool = True
    cert_warning_days: int = Field(30, ge=0, le=3650)
    max_body_bytes: int = Field(1_048_576, ge=0, le=16_777_216)


class DnsParams(Params):
    name: str = Field(..., min_length=1, max_length=253)
    record: Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS", "PTR", "SOA"] = "A"
    server_port: Port = 53
    expect: list[str] = Field(default_factory=list, description="Answers that must be present.")


class NtpParams(Params):
    port: Port = 123
    offset_degraded_ms: float = Field(100, gt=0, description="DOMAIN.md: within 100 ms.")
    offset_down_ms: float = Field(1000, gt=0)


class SnmpParams(Params):
    credential: str = Field(..., min_length=1, description="Name of an SNMP credential.")
    profile: str | None = Field(None, description="Device profile; else chosen by platform.")


class SnmpInterfaceParams(SnmpParams):
    interfaces: Literal["all", "up", "uplinks"] | list[str] = "up"


class VpnTunnelParams(SnmpParams):
    tunnel: str | None = Field(None, description="Tunnel name on the device; else the link name.")


class PrometheusParams(Params):
    url: str | None = None
    port: Port = 9100
    path: str = "/metrics"
    metrics: list[str] = Field(
        default_factory=list, description="Metric names (or prefixes ending in *) to keep."
    )
    max_body_bytes: int = Field(16_777_216, ge=1024, le=104_857_600)


class PassiveParams(Params):
    stale_after_s: int = Field(300, ge=10, le=86_400, description="Silence this long is down.")


PARAMS: dict[str, type[Params]] = {
    "icmp": IcmpParams,
    "tcp": TcpParams,
    "http": HttpParams,
    "dns": DnsParams,
    "ntp": NtpParams,
    "snmp_system": SnmpParams,
    "snmp_interfaces": SnmpInterfaceParams,
    "snmp_profile": SnmpParams,
    "vpn_tunnel": VpnTunnelParams,
    "prometheus": PrometheusParams,
    "agent": PassiveParams,
    "push": PassiveParams,
}


class ParamsError(ValueError):
    """Parameters that do not fit their kind; ``fields`` maps a field to its problems."""

    def __init__(self, kind: str, fields: dict[str, list[str]]) -> None:
        super().__init__(f"invalid parameters for {kind}: {fields}")
        self.kind = kind
        self.fields = fields


def parse(kind: str, raw: dict[str, Any] | None) -> Params:
    schema = PARAMS.get(kind)
    if schema is None:
        raise ParamsError(kind, {"kind": [f"unknown check kind {kind!r}"]})
    try:
        return schema.model_validate(raw or {})
    except ValidationError as exc:
        fields: dict[str, list[str]] = {}
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "__all__"
            fields.setdefault(key, []).append(err["msg"])
        raise ParamsError(kind, fields) from exc
