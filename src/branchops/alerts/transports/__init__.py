"""The notification channels, listed explicitly (never discovered by scanning folders).

Each kind maps to ``module:Class``; the module is imported the first time the kind is
needed. :func:`validate_config` checks a channel's settings when an operator saves them;
:func:`build` makes a ready transport from stored settings. ``SECRET_FIELDS`` names, per
kind, the settings the caller stores sealed and never shows again (robot URLs carry their
access token, so they count as secrets).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import httpx

from branchops.alerts.transports.base import (
    ChannelConfig,
    ConfigError,
    Delivery,
    Notice,
    Transport,
    TransportError,
    parse_config,
)

__all__ = [
    "KINDS",
    "SECRET_FIELDS",
    "ConfigError",
    "Delivery",
    "Notice",
    "Transport",
    "TransportError",
    "build",
    "validate_config",
]

KINDS: Mapping[str, str] = MappingProxyType(
    {
        "email": "branchops.alerts.transports.mail:EmailTransport",
        "webhook": "branchops.alerts.transports.webhook:WebhookTransport",
        "dingtalk": "branchops.alerts.transports.dingtalk:DingTalkTransport",
        "feishu": "branchops.alerts.transports.feishu:FeishuTransport",
        "wecom": "branchops.alerts.transports.wecom:WeComTransport",
        "sms": "branchops.alerts.transports.sms:SmsTransport",
    }
)

SECRET_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "email": ("password",),
        "webhook": ("secret", "headers"),
        "dingtalk": ("url", "secret"),
        "feishu": ("url", "secret"),
        "wecom": ("url",),
        "sms": ("url", "headers"),
    }
)


def transport_class(kind: str) -> type[Transport[Any]]:
    try:
        path = KINDS[kind]
    except KeyError:
        raise ConfigError(f"no notification channel of kind {kind!r}") from None
    module_name, class_name = path.split(":")
    cls: type[Transport[Any]] = getattr(importlib.import_module(module_name), class_name)
    return cls


def validate_config(kind: str, raw: Mapping[str, Any]) -> ChannelConfig:
    """``raw`` as the kind's settings model; ConfigError (naming each bad field) otherwise."""
    return parse_config(kind, transport_class(kind).config_model, raw)


def build(
    kind: str,
    config: Mapping[str, Any],
    *,
    client: httpx.AsyncClient,
    clock: Callable[[], float] = time.time,
) -> Transport[Any]:
    """A transport for ``kind`` with validated ``config`` (ConfigError when invalid)."""
    cls = transport_class(kind)
    return cls(parse_config(kind, cls.config_model, config), client=client, clock=clock)
