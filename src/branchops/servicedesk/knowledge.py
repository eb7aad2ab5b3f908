"""The knowledge base (知识库): articles, and the articles most like a ticket.

Chinese has no spaces between words, so similarity works on **character bigrams** of each
run of Chinese characters (一个 "防火墙" gives 防火, 火墙) plus lower-cased Latin words and
numbers ("vpn", "sg6000"). Each published article's title (counted twice: titles are
chosen words) and symptom become a TF-IDF vector; a ticket's title and description are
compared by cosine similarity. Everything runs in Python: the published articles' index is
built once and kept until they change (one small query per call to know), and a query only
touches the articles sharing one of its terms. Fine for a few thousand articles; no search
engine needed.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from branchops.core import audit
from branchops.core.choices import ChangeSource
from branchops.core.models import User
from branchops.servicedesk.models import Category, KnowledgeArticle, Problem
from branchops.servicedesk.review_choices import ArticleStatus
from branchops.servicedesk.services import Refused

SUGGESTIONS = 3
MIN_SCORE = 0.05
"""Below this cosine similarity an article shares little more than a common word."""

MAX_TAGS = 20
EDITABLE = ("title", "symptom", "cause", "solution", "category", "tags", "problem", "status")

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"[{_CJK}]+|[a-z0-9]+(?:[._-][a-z0-9]+)*")
_CJK_RUN = re.compile(rf"[{_CJK}]")


def _invalid(message: str, field: str) -> Refused:
    return Refused(message, status=400, field=field)


# --- similarity --------------------------------------------------------------------------


def terms(text: str) -> list[str]:
    """Bigrams of Chinese runs (a lone character stands for itself) and Latin words."""
    found: list[str] = []
    for run in _RUNS.findall(text.lower()):
        if _CJK_RUN.match(run):
            if len(run) == 1:
                found.append(run)
            else:
                found.extend(run[i : i + 2] for i in range(len(run) - 1))
        elif len(run) > 1 or run.isdigit():
            found.append(run)
    return found


def _article_terms(article: KnowledgeArticle) -> Counter[str]:
    return Counter(terms(article.title) * 2 + terms(article.symptom))


def _weights(counts: Mapping[str, int], idf: Mapping[str, float]) -> dict[str, float]:
    vector = {t: (1 + math.log(n)) * idf.get(t, 0.0) for t, n in counts.items()}
    norm = math.sqrt(sum(w * w for w in vector.values()))
    return {t: w / norm for t, w in vector.items()} if norm else {}


@dataclass(frozen=True, slots=True)
class Suggestion:
    article: KnowledgeArticle
    score: float  # cosine similarity, 0-1
    shared: tuple[str, ...]  # the strongest terms both share, for "why this one"


class Index:
    """TF-IDF vectors of a set of articles, with postings (term -> articles having it), so a
    query only touches the articles that share one of its terms."""

    def __init__(self, articles: Iterable[KnowledgeArticle]) -> None:
        docs = [(a.pk, _article_terms(a)) for a in articles]
        frequency: Counter[str] = Counter()
        for _pk, counts in docs:
            frequency.update(counts.keys())
        # Smoothed IDF: a term every article has still counts a little.
        self.idf = {t: math.log((1 + len(docs)) / (1 + n)) + 1 for t, n in frequency.items()}
        self.postings: dict[str, list[tuple[int, float]]] = {}
        for pk, counts in docs:
            for term, weight in _weights(counts, self.idf).items():
                self.postings.setdefault(term, []).append((pk, weight))

    def scores(self, text: str) -> dict[int, dict[str, float]]:
        """{article id: {shared term: its share of the cosine}} for the articles ``text``
        shares a term with."""
        found: dict[int, dict[str, float]] = {}
        for term, weight in _weights(Counter(terms(text)), self.idf).items():
            for pk, other in self.postings.get(term, ()):
                found.setdefault(pk, {})[term] = weight * other
        return found


_built: dict[str, tuple[tuple[Any, ...], Index]] = {}


def published_index() -> Index:
    """The index of the published articles, rebuilt only when they change (their count, the
    newest id or the latest edit moved: every write stamps ``updated_at``)."""
    published = KnowledgeArticle.objects.filter(status=ArticleStatus.PUBLISHED)
    key = tuple(
        published.aggregate(n=Count("id"), last=Max("id"), edited=Max("updated_at")).values()
    )
    cached = _built.get("published")
    if cached is None or cached[0] != key:
        cached = _built["published"] = (key, Index(published.only("id", "title", "symptom")))
    return cached[1]


def suggest(
    text: str,
    *,
    limit: int = SUGGESTIONS,
    articles: Iterable[KnowledgeArticle] | None = None,
) -> list[Suggestion]:
    """The published articles (or ``articles``) most like ``text`` (a ticket's title and
    description), best first, at most ``limit``."""
    if not terms(text):
        return []
    rows = list(articles) if articles is not None else None
    index = Index(rows) if rows is not None else published_index()
    ranked = sorted(
        ((sum(parts.values()), pk, parts) for pk, parts in index.scores(text).items()),
        key=lambda r: (-r[0], -r[1]),
    )
    best = [r for r in ranked if r[0] >= MIN_SCORE][:limit]
    by_pk = (
        {a.pk: a for a in rows}
        if rows is not None
        else KnowledgeArticle.objects.select_related("category").in_bulk([r[1] for r in best])
    )
    return [
        Suggestion(
            by_pk[pk], score, tuple(t for t, _w in sorted(parts.items(), key=lambda p: -p[1])[:5])
        )
        for score, pk, parts in best
        if pk in by_pk
    ]


def ticket_text(title: str, description: str = "") -> str:
    return f"{title}\n{description}"


# --- search ------------------------------------------------------------------------------


def search(qs: QuerySet[KnowledgeArticle], text: str) -> QuerySet[KnowledgeArticle]:
    """Articles whose title, symptom, cause, solution or tags contain ``text``."""
    text = text.strip()
    if not text:
        return qs
    wanted = text.lower()
    # Tags are matched in Python: SQLite keeps JSON with \u escapes, so a Chinese tag would
    # never match a database lookup there.
    tagged = [pk for pk, tags in qs.values_list("id", "tags") if any(wanted in t for t in tags)]
    return qs.filter(
        Q(title__icontains=text)
        | Q(symptom__icontains=text)
        | Q(cause__icontains=text)
        | Q(solution__icontains=text)
        | Q(pk__in=tagged)
    )


# --- writing articles --------------------------------------------------------------------


def checked_tags(tags: Iterable[str] | str) -> list[str]:
    """Tags as stored: stripped, lower-cased Latin, no duplicates, in the given order."""
    items = tags.replace("\uff0c", ",").split(",") if isinstance(tags, str) else list(tags)
    found: list[str] = []
    for raw in items:
        tag = str(raw).strip().lower()
        if len(tag) > 50:
            raise _invalid(_("A tag has at most 50 characters."), "tags")
        if tag and tag not in found:
            found.append(tag)
    if len(found) > MAX_TAGS:
        raise _invalid(_("At most %(n)d tags.") % {"n": MAX_TAGS}, "tags")
    return found


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    for key in ("title", "symptom", "cause", "solution"):
        if key in values:
            values[key] = str(values[key] or "").strip()
    if "title" in values:
        if not values["title"]:
            raise _invalid(_("Give the article a title."), "title")
        values["title"] = values["title"][:200]
    if "symptom" in values and not values["symptom"]:
        raise _invalid(_("Describe the symptom: it is how the article is found."), "symptom")
    if "solution" in values and not values["solution"]:
        raise _invalid(_("Write the solution."), "solution")
    if "tags" in values:
        values["tags"] = checked_tags(values["tags"])
    if "status" in values and values["status"] not in ArticleStatus.values:
        raise _invalid(_("Unknown status %(to)s.") % {"to": values["status"]}, "status")
    for key, model in (("category", Category), ("problem", Problem)):
        if values.get(key) is not None and not isinstance(values[key], model):
            raise _invalid(_("Unknown: %(value)s") % {"value": values[key]}, key)
    return values


def write_article(
    *,
    by: User | None,
    title: str,
    symptom: str,
    solution: str,
    cause: str = "",
    category: Category | None = None,
    tags: Sequence[str] | str = (),
    problem: Problem | None = None,
    status: str = ArticleStatus.DRAFT,
    source: ChangeSource = ChangeSource.UI,
) -> KnowledgeArticle:
    """A new article, a draft unless ``status`` says published."""
    values = _checked(
        {
            "title": title,
            "symptom": symptom,
            "cause": cause,
            "solution": solution,
            "category": category,
            "tags": tags,
            "problem": problem,
            "status": status,
        }
    )
    now = timezone.now()
    with transaction.atomic():
        article = KnowledgeArticle.objects.create(
            **values,
            author=by,
            created_at=now,
            updated_at=now,
            published_at=now if values["status"] == ArticleStatus.PUBLISHED else None,
        )
        audit.record_saved(article, actor=by, source=source)
    return article


def update_article(
    article: KnowledgeArticle,
    *,
    by: User | None,
    changes: Mapping[str, Any],
    source: ChangeSource = ChangeSource.UI,
) -> KnowledgeArticle:
    """Edit an article; publishing stamps ``published_at``, going back to draft clears it."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise _invalid(_("These fields cannot be changed here."), sorted(unknown)[0])
    values = _checked(dict(changes))
    with transaction.atomic():
        current = KnowledgeArticle.objects.select_for_update().get(pk=article.pk)
        before = audit.snapshot(current)
        changed = [k for k, v in values.items() if getattr(current, k) != v]
        if not changed:
            return current
        for key in changed:
            setattr(current, key, values[key])
        if "status" in changed:
            published = current.status == ArticleStatus.PUBLISHED
            current.published_at = timezone.now() if published else None
            changed.append("published_at")
        current.updated_at = timezone.now()
        current.save(update_fields=[*changed, "updated_at"])
        audit.record_saved(current, actor=by, source=source, before=before)
    return current
