"""The knowledge base's REST resource: ``/kb-articles/`` (list with search, detail, create,
update) and ``/kb-articles/suggest/`` (the published articles most like a ticket's text).

Whoever may view tickets reads published articles; drafts, and writing, need "change
tickets" (the desk writes the knowledge base, a branch liaison reads it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from branchops.core import scoping
from branchops.core.api import actor
from branchops.core.choices import ChangeSource
from branchops.core.models import User
from branchops.core.permissions import Action, Area, can, is_site_scoped
from branchops.servicedesk import knowledge
from branchops.servicedesk.api import _answer, _one, _require, _Unknown
from branchops.servicedesk.models import Category, KnowledgeArticle, Problem, Ticket
from branchops.servicedesk.review_choices import ArticleStatus


class ArticleOut(Schema):
    id: int
    title: str
    symptom: str
    cause: str
    solution: str
    category: str | None = Field(None, description="Category code.")
    tags: list[str]
    problem: str | None = Field(None, description="Problem number.")
    status: ArticleStatus
    author: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    published_at: dt.datetime | None

    @staticmethod
    def resolve_category(obj: KnowledgeArticle) -> str | None:
        return obj.category.code if obj.category else None

    @staticmethod
    def resolve_problem(obj: KnowledgeArticle) -> str | None:
        return obj.problem.number if obj.problem else None

    @staticmethod
    def resolve_author(obj: KnowledgeArticle) -> str | None:
        return obj.author.get_username() if obj.author else None


class ArticlePage(Schema):
    count: int
    items: list[ArticleOut]


class ArticleFilter(Schema):
    q: str | None = Field(None, description="Text in title, symptom, cause, solution or tags.")
    status: ArticleStatus | None = None
    category: str | None = Field(None, description="Category code.")
    tag: str | None = None
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class ArticleIn(Schema):
    title: str = Field(..., min_length=1, max_length=200)
    symptom: str = Field(..., min_length=1)
    cause: str = ""
    solution: str = Field(..., min_length=1)
    category: str | None = Field(None, description="Category code.")
    tags: list[str] = Field(default_factory=list)
    problem: str | None = Field(None, description="Problem number.")
    status: ArticleStatus = ArticleStatus.DRAFT


class ArticlePatch(Schema):
    title: str | None = Field(None, min_length=1, max_length=200)
    symptom: str | None = Field(None, min_length=1)
    cause: str | None = None
    solution: str | None = Field(None, min_length=1)
    category: str | None = None
    tags: list[str] | None = None
    problem: str | None = None
    status: ArticleStatus | None = None


class SuggestFilter(Schema):
    text: str | None = Field(None, description="A ticket's title and description.")
    ticket: int | None = Field(None, description="Or a ticket id: its title and description.")


class SuggestionOut(Schema):
    id: int
    title: str
    score: float = Field(description="Cosine similarity, 0 to 1.")
    shared: list[str] = Field(description="The strongest terms article and text share.")


def articles_for(user: User) -> QuerySet[KnowledgeArticle]:
    """Published articles for everyone who may view tickets; drafts too for the desk."""
    qs = scoping.visible(user, KnowledgeArticle).select_related("category", "problem", "author")
    if not can(user, Action.CHANGE, Area.SERVICE_DESK) or is_site_scoped(user, Area.SERVICE_DESK):
        qs = qs.filter(status=ArticleStatus.PUBLISHED)
    return qs


def _may_write(user: User) -> None:
    _require(user, Action.CHANGE, _("Your role may not write knowledge articles."))
    scoping.require_change(user, Action.CHANGE, KnowledgeArticle())


def _problem(user: User, number: str | None) -> Problem | None:
    if number is None:
        return None
    found = scoping.visible(user, Problem).filter(number=number).first()
    if found is None:
        raise _Unknown("problem", _("Unknown: %(value)s") % {"value": number})
    return found


def knowledge_routes(r: Router) -> None:
    _read_routes(r)
    _write_routes(r)


def _read_routes(r: Router) -> None:
    @r.get(
        "/kb-articles/", response=ArticlePage, operation_id="kb_articles_list", tags=["knowledge"]
    )
    def list_articles(request: HttpRequest, filters: Query[ArticleFilter]) -> Any:
        qs = knowledge.search(articles_for(actor(request)), filters.q or "")
        exact = {"status": filters.status, "category__code": filters.category}
        qs = qs.filter(**{k: v for k, v in exact.items() if v is not None})
        if filters.tag:
            wanted = filters.tag.strip().lower()
            ids = [pk for pk, tags in qs.values_list("id", "tags") if wanted in tags]
            qs = qs.filter(pk__in=ids)
        page = list(qs[filters.offset : filters.offset + filters.limit])
        return {"count": qs.count(), "items": page}

    @r.get(
        "/kb-articles/suggest/",
        response=list[SuggestionOut],
        operation_id="kb_articles_suggest",
        summary="The published articles most like a ticket (top 3)",
        tags=["knowledge"],
    )
    def suggest(request: HttpRequest, filters: Query[SuggestFilter]) -> Any:
        user = actor(request)
        _require(user, Action.VIEW, _("Your role may not see tickets."))
        text = filters.text or ""
        if filters.ticket is not None:
            ticket = get_object_or_404(scoping.visible(user, Ticket), pk=filters.ticket)
            text = knowledge.ticket_text(ticket.title, ticket.description)
        return [
            {
                "id": s.article.pk,
                "title": s.article.title,
                "score": round(s.score, 4),
                "shared": list(s.shared),
            }
            for s in knowledge.suggest(text)
        ]

    @r.get(
        "/kb-articles/{int:pk}/",
        response=ArticleOut,
        operation_id="kb_articles_read",
        tags=["knowledge"],
    )
    def read_article(request: HttpRequest, pk: int) -> Any:
        return get_object_or_404(articles_for(actor(request)), pk=pk)


def _write_routes(r: Router) -> None:
    @r.post(
        "/kb-articles/",
        response={201: ArticleOut},
        operation_id="kb_articles_create",
        tags=["knowledge"],
    )
    def create_article(request: HttpRequest, payload: ArticleIn) -> Any:
        user = actor(request)
        _may_write(user)

        def call() -> KnowledgeArticle:
            return knowledge.write_article(
                by=user,
                title=payload.title,
                symptom=payload.symptom,
                cause=payload.cause,
                solution=payload.solution,
                category=_one(Category, "code", payload.category, "category"),
                tags=payload.tags,
                problem=_problem(user, payload.problem),
                status=payload.status,
                source=ChangeSource.API,
            )

        done = _answer(request, call)
        return done if not isinstance(done, KnowledgeArticle) else Status(201, done)

    @r.patch(
        "/kb-articles/{int:pk}/",
        response=ArticleOut,
        operation_id="kb_articles_update",
        tags=["knowledge"],
    )
    def update_article(request: HttpRequest, pk: int, payload: ArticlePatch) -> Any:
        user = actor(request)
        article = get_object_or_404(articles_for(user), pk=pk)
        _may_write(user)
        given = payload.dict(exclude_unset=True)

        def call() -> KnowledgeArticle:
            changes = {k: v for k, v in given.items() if k not in ("category", "problem")}
            if "category" in given:
                changes["category"] = _one(Category, "code", given["category"], "category")
            if "problem" in given:
                changes["problem"] = _problem(user, given["problem"])
            return knowledge.update_article(
                article, by=user, changes=changes, source=ChangeSource.API
            )

        return _answer(request, call)
