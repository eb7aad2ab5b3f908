"""Fault injection in the running lab, through the REST API (the same as ``branchops lab``).

The web process talks to the lab's control API on 127.0.0.1 (its address and token are in
``$BRANCHOPS_HOME/lab/control.json``). Only people who may change monitoring may inject.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from branchops.core.api import actor, error
from branchops.core.permissions import Action, Area, can
from branchops.lab.sim import client

KINDS_HELP = (
    "device-down, vpn-down, interface-down, packet-loss, latency, cpu-spike, clock-drift, "
    "cert-expiry or reboot"
)


class FaultIn(Schema):
    kind: str = Field(..., max_length=32, description=KINDS_HELP)
    target: str = Field(..., max_length=150, description="Device, device:interface, link or site.")
    percent: float | None = Field(None, ge=0, le=100, description="packet-loss")
    ms: float | None = Field(None, ge=0, le=60_000, description="latency")
    seconds: float | None = Field(None, ge=-86_400, le=86_400, description="clock-drift")
    days: float | None = Field(None, ge=-3650, le=3650, description="cert-expiry")


class HealIn(Schema):
    target: str | None = Field(None, max_length=150, description="Empty: heal everything.")


def _may_inject(request: HttpRequest) -> None:
    if not can(actor(request), Action.CHANGE, Area.MONITORING):
        raise PermissionDenied(_("Your role may not inject faults in the lab."))


def _call(request: HttpRequest, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, home=settings.HOME, **kwargs)
    except client.LabUnavailable as exc:
        return error(request, 503, "lab_unavailable", str(exc))
    except client.LabRefused as exc:
        return error(request, exc.status, exc.code, exc.message)


def router() -> Router:
    lab = Router(tags=["lab"])

    @lab.get("/faults/", operation_id="lab_faults", summary="Faults active in the lab")
    def faults(request: HttpRequest) -> Any:
        if not can(actor(request), Action.VIEW, Area.MONITORING):
            raise PermissionDenied(_("Your role may not see the lab."))
        return _call(request, client.faults)

    @lab.post("/faults/", operation_id="lab_inject", summary="Inject a fault in the lab")
    def inject(request: HttpRequest, payload: FaultIn) -> Any:
        _may_inject(request)
        options = {
            k: v for k, v in payload.dict(exclude={"kind", "target"}).items() if v is not None
        }
        return _call(request, client.inject, payload.kind, payload.target, **options)

    @lab.post("/heal/", operation_id="lab_heal", summary="Heal a target, or everything")
    def heal(request: HttpRequest, payload: HealIn) -> Any:
        _may_inject(request)
        return _call(request, client.heal, payload.target)

    return lab
