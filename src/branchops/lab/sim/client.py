"""Talk to a running lab from another process: the CLI (``branchops lab fault|heal``) and the
web API (``/api/v1/lab/faults``) call these.

The running lab's URL and token come from ``$BRANCHOPS_HOME/lab/control.json``; only
127.0.0.1 URLs are followed. Synchronous on purpose: both callers are synchronous, and a
call is one short request on loopback.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from branchops.lab.sim.config import control_file

TIMEOUT_S = 15.0


class LabUnavailable(RuntimeError):
    """No lab is running (or it does not answer); the message says what to do."""


class LabRefused(ValueError):
    """The lab refused the request (400 and other 4xx): ``code`` and ``message`` say why."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def inject(
    kind: str, target: str, *, home: Path | None = None, **options: float | None
) -> dict[str, Any]:
    """Inject a fault into the running lab; returns its report (effects, warnings, faults)."""
    body: dict[str, Any] = {"kind": kind, "target": target}
    body.update({name: value for name, value in options.items() if value is not None})
    return request("POST", "/v1/faults", body, home=home)


def heal(target: str | None = None, *, home: Path | None = None) -> dict[str, Any]:
    """Heal ``target`` (device, device:ifName, link, site or fault id), or every fault."""
    body: dict[str, Any] = {"all": True} if target is None else {"target": target}
    return request("POST", "/v1/heal", body, home=home)


def faults(*, home: Path | None = None) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = request("GET", "/v1/faults", None, home=home)["faults"]
    return result


def status(*, home: Path | None = None) -> dict[str, Any]:
    return request("GET", "/v1/status", None, home=home)


def _endpoint(home: Path | None) -> tuple[str, str]:
    path = control_file(home)
    not_running = f"no lab is running (no {path}); start one with `branchops lab`"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        url, token = str(info["url"]), str(info["token"])
    except FileNotFoundError:
        raise LabUnavailable(not_running) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LabUnavailable(f"{path} cannot be read ({exc}); is a lab running?") from None
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname != "127.0.0.1":
        raise LabUnavailable(f"{path} names {url!r}; the lab's control API lives on 127.0.0.1")
    return url, token


def request(
    method: str, path: str, body: object | None, *, home: Path | None = None
) -> dict[str, Any]:
    url, token = _endpoint(home)
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    call = urllib.request.Request(url + path, data=data, method=method, headers=headers)  # noqa: S310 - http://127.0.0.1 only, checked above
    try:
        with urllib.request.urlopen(call, timeout=TIMEOUT_S) as answer:  # noqa: S310
            result: dict[str, Any] = json.loads(answer.read())
            return result
    except urllib.error.HTTPError as exc:
        raise _refusal(exc) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LabUnavailable(
            f"the lab at {url} does not answer ({reason}); "
            "it may have stopped: start `branchops lab`"
        ) from None


def _refusal(exc: urllib.error.HTTPError) -> LabRefused:
    try:
        detail = json.loads(exc.read())["error"]
        return LabRefused(exc.code, str(detail["code"]), str(detail["message"]))
    except (ValueError, KeyError, TypeError, OSError):
        return LabRefused(exc.code, "http-error", f"the lab answered {exc.code} {exc.reason}")
