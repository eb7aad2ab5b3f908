"""REST endpoints for a resource from a short declaration.

A :class:`Resource` names the model, its input and output schemas, its filters and the
service functions that enforce permissions and write the audit trail. :func:`crud_router`
turns it into list (paged, filtered, searched, ordered), detail, create, bulk create, full
and partial update, and delete endpoints. Handlers stay thin: they parse, call a service,
shape the answer.

This module does not use ``from __future__ import annotations``: ninja reads the handler
annotations at definition time, and they refer to the resource's own schema classes.
"""

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, Q, Window
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, FilterSchema, Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import TypeAdapter, create_model

from branchops.core.api import SOURCE, actor, api
from branchops.core.models import User

MAX_PAGE = 1000
MAX_BULK = 1000


class ResourceServices(Protocol):
    """What an app provides so that its resources can be served (see cmdb.services)."""

    def visible(self, user: User, model: type[Any]) -> models.QuerySet[Any]: ...

    def create(
        self, model: type[Any], data: Mapping[str, Any], *, actor: User, source: Any
    ) -> Any: ...

    def update(self, obj: Any, data: Mapping[str, Any], *, actor: User, source: Any) -> Any: ...

    def delete(self, obj: Any, *, actor: User, source: Any) -> None: ...

    def create_many(
        self, model: type[Any], rows: Sequence[Mapping[str, Any]], *, actor: User, source: Any
    ) -> list[Any]: ...


@dataclass(frozen=True)
class Resource:
    name: str
    model: type[models.Model]
    out: type[Schema]
    into: type[Schema]
    filters: type["Filters"]
    services: ResourceServices
    search: tuple[str, ...] = ()
    orderable: tuple[str, ...] = ("id",)
    select_related: tuple[str, ...] = ()
    prefetch_related: tuple[str, ...] = ()
    tag: str = ""
    # Turns validated input into model attributes, e.g. role slug to role id.
    to_model: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda d: d)
    # Pages are shaped without ninja's per-object getter (see ``plain_page``): only for
    # output schemas of plain attributes and static resolvers, checked by a test.
    plain: bool = False


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=MAX_PAGE, description="Rows per page (at most 1000).")
    offset: int = Field(0, ge=0, description="Rows to skip.")
    q: str | None = Field(None, max_length=200, description="Free-text search.")
    ordering: str | None = Field(
        None, max_length=64, description="Field to order by; '-' for descending."
    )


def partial(schema: type[Schema]) -> type[Schema]:
    """The same fields, all optional: the body of a PATCH."""
    fields: dict[str, Any] = {
        name: (info.annotation | None, None)  # type: ignore[operator]
        for name, info in schema.model_fields.items()
    }
    return create_model(f"{schema.__name__}Patch", __base__=Schema, **fields)


def page_of(schema: type[Schema]) -> type[Schema]:
    return create_model(
        f"{schema.__name__}Page",
        __base__=Schema,
        count=(int, ...),
        limit=(int, ...),
        offset=(int, ...),
        results=(list[schema], ...),
    )


def _search(resource: Resource, text: str) -> Q:
    condition = Q()
    for term in text.split():
        term_q = Q()
        for path in resource.search:
            term_q |= Q(**{f"{path}__icontains": term})
        condition &= term_q
    return condition


def _ordered(
    resource: Resource, qs: models.QuerySet[Any], ordering: str | None
) -> models.QuerySet[Any]:
    if not ordering:
        # By id unless asked: stable across pages and served by the primary key, where a
        # model's display ordering (site code, then name) would sort every matching row.
        return qs.order_by("pk")
    if ordering.lstrip("-") not in resource.orderable:
        raise HttpError(
            400,
            _("Cannot order by %(f)s; choose one of %(ok)s")
            % {"f": ordering, "ok": ", ".join(resource.orderable)},
        )
    return qs.order_by(ordering, "pk")


def plain_rows(out: type[Schema], objs: Sequence[Any]) -> list[dict[str, Any]]:
    """``objs`` as ``out`` would show them, as JSON-ready dicts.

    ninja validates every object of a page through a getter that wraps each attribute
    access, about half of a list request's CPU; this reads the attributes once and
    validates plain dicts against a twin of ``out`` without that getter.
    """
    twin = _plain_twin(out)
    readers = _readers(out)
    data = [{name: read(obj) for name, read in readers} for obj in objs]
    return twin.dump_python(twin.validate_python(data), mode="json")  # type: ignore[no-any-return]


@functools.cache
def _plain_twin(out: type[Schema]) -> TypeAdapter[Any]:
    fields: dict[str, Any] = {
        name: (info.annotation, info) for name, info in out.model_fields.items()
    }
    twin = create_model(f"{out.__name__}Plain", **fields)
    return TypeAdapter(list[twin])


@functools.cache
def _readers(out: type[Schema]) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    resolvers = out._ninja_resolvers
    readers = []
    for name in out.model_fields:
        resolver = resolvers.get(name)
        if resolver is None:
            readers.append((name, _attribute(name)))
        elif resolver._static and not resolver._takes_context:
            readers.append((name, resolver._func))
        else:
            raise TypeError(f"{out.__name__}.resolve_{name} is not a plain static resolver")
    return tuple(readers)


def _attribute(name: str) -> Callable[[Any], Any]:
    def read(obj: Any) -> Any:
        value = getattr(obj, name)
        if isinstance(value, models.Manager):
            raise TypeError(f"{name} is a relation; not for plain pages")
        return value

    return read


def _page_and_count(qs: models.QuerySet[Any], offset: int, limit: int) -> tuple[list[Any], int]:
    """One page and the total in one query (a window count rides along with each row)."""
    rows = list(qs.annotate(_total=Window(Count("pk")))[offset : offset + limit])
    if rows:
        return rows, int(rows[0]._total)
    return rows, (qs.count() if offset else 0)  # past the end, the window says nothing


def _queryset(resource: Resource, request: HttpRequest) -> models.QuerySet[Any]:
    qs = resource.services.visible(actor(request), resource.model)
    if resource.select_related:
        qs = qs.select_related(*resource.select_related)
    if resource.prefetch_related:
        qs = qs.prefetch_related(*resource.prefetch_related)
    return qs


def crud_router(resource: Resource) -> Router:
    router = Router(tags=[resource.tag or resource.name])
    _add_collection_routes(router, resource)
    _add_item_routes(router, resource)
    return router


def _add_collection_routes(router: Router, resource: Resource) -> None:
    out, into, filters_cls, name = resource.out, resource.into, resource.filters, resource.name
    page_cls = page_of(out)

    @router.get("/", response=page_cls, operation_id=f"{name}_list", summary=f"List {name}")
    def list_objects(
        request: HttpRequest, filters: Query[filters_cls], page: Query[PageParams]
    ) -> Any:
        qs = filters.filter(_queryset(resource, request))
        if page.q:
            qs = qs.filter(_search(resource, page.q))
        qs = _ordered(resource, qs, page.ordering)
        rows, count = _page_and_count(qs, page.offset, page.limit)
        result = {"count": count, "limit": page.limit, "offset": page.offset, "results": rows}
        if resource.plain:
            result["results"] = plain_rows(out, rows)
            return api.create_response(request, result, status=200)
        return result

    @router.post(
        "/", response={201: out}, operation_id=f"{name}_create", summary=f"Create one of {name}"
    )
    def create_object(request: HttpRequest, payload: into) -> Any:
        data = resource.to_model(payload.model_dump())
        with input_names(data):
            obj = resource.services.create(
                resource.model, data, actor=actor(request), source=SOURCE
            )
        return Status(201, _reload(resource, request, obj.pk))

    @router.post(
        "/bulk/",
        response={201: list[out]},
        operation_id=f"{name}_bulk_create",
        summary=f"Create many {name}, all or none",
    )
    def bulk_create(request: HttpRequest, payload: list[into]) -> Any:
        if len(payload) > MAX_BULK:
            raise HttpError(413, _("At most %(n)d objects per request.") % {"n": MAX_BULK})
        rows = [resource.to_model(p.model_dump()) for p in payload]
        objs = resource.services.create_many(
            resource.model, rows, actor=actor(request), source=SOURCE
        )
        by_pk = {o.pk: o for o in _queryset(resource, request).filter(pk__in=[o.pk for o in objs])}
        return Status(201, [by_pk[o.pk] for o in objs])


@contextmanager
def input_names(data: Mapping[str, Any]) -> Iterator[None]:
    """Report model errors under the names the client sent (``site_id``, not ``site``)."""
    try:
        yield
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        renamed = {
            (f"{key}_id" if f"{key}_id" in data and key not in data else key): errors
            for key, errors in exc.error_dict.items()
        }
        raise ValidationError(renamed) from exc


def _reload(resource: Resource, request: HttpRequest, pk: int) -> Any:
    return get_object_or_404(_queryset(resource, request), pk=pk)


def _add_item_routes(router: Router, resource: Resource) -> None:
    out, into, name = resource.out, resource.into, resource.name
    patch_cls = partial(into)

    @router.get(
        "/{int:pk}/", response=out, operation_id=f"{name}_read", summary=f"Read one of {name}"
    )
    def read_object(request: HttpRequest, pk: int) -> Any:
        return _reload(resource, request, pk)

    @router.put(
        "/{int:pk}/", response=out, operation_id=f"{name}_replace", summary=f"Replace one of {name}"
    )
    def replace_object(request: HttpRequest, pk: int, payload: into) -> Any:
        return _change(resource, request, pk, payload.model_dump())

    @router.patch(
        "/{int:pk}/",
        response=out,
        operation_id=f"{name}_update",
        summary=f"Change fields of one of {name}",
    )
    def update_object(request: HttpRequest, pk: int, payload: patch_cls) -> Any:
        return _change(resource, request, pk, payload.model_dump(exclude_unset=True))

    @router.delete(
        "/{int:pk}/",
        response={204: None},
        operation_id=f"{name}_delete",
        summary=f"Delete one of {name}",
    )
    def delete_object(request: HttpRequest, pk: int) -> Any:
        obj = _reload(resource, request, pk)
        resource.services.delete(obj, actor=actor(request), source=SOURCE)
        return Status(204, None)


def _change(resource: Resource, request: HttpRequest, pk: int, data: dict[str, Any]) -> Any:
    obj = _reload(resource, request, pk)
    data = resource.to_model(data)
    with input_names(data):
        resource.services.update(obj, data, actor=actor(request), source=SOURCE)
    return _reload(resource, request, pk)


class Filters(FilterSchema):
    """Filters whose ``filter_<field>`` methods run only for fields the client gave.

    (ninja's default evaluates every method, even for absent fields, which here would cost a
    query per absent region filter.)
    """

    def custom_expression(self) -> Q:
        condition = Q()
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            method = getattr(self, f"filter_{name}", None)
            condition &= method(value) if callable(method) else Q(**{name: value})
        return condition
