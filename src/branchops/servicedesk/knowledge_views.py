"""Knowledge base pages: the list with search, an article, writing and editing one, and the
suggestions fragment the new-ticket form asks for as the title is typed.

Everyone who may view tickets reads published articles; the desk (not a liaison) also sees
drafts and writes. Suggestions are computed by ``knowledge.suggest`` on published articles.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from branchops.core.models import User
from branchops.core.views import paginate
from branchops.servicedesk import knowledge
from branchops.servicedesk import review_forms as f
from branchops.servicedesk.knowledge_api import articles_for
from branchops.servicedesk.models import KnowledgeArticle
from branchops.servicedesk.review_views import _viewer, _writer, may_write
from branchops.servicedesk.services import Refused


@login_required
@require_GET
def kb_list(request: HttpRequest) -> HttpResponse:
    user = _viewer(request)
    form = f.ArticleSearchForm(request.GET or None)
    qs = articles_for(user)
    if form.is_valid():
        qs = knowledge.search(qs, form.cleaned_data["q"])
        if form.cleaned_data["status"]:
            qs = qs.filter(status=form.cleaned_data["status"])
    context = {
        "form": form,
        "page_obj": paginate(request, qs.order_by("-updated_at", "-id")),
        "can_write": may_write(user),
    }
    return render(request, "servicedesk/kb/article_list.html", context)


@login_required
@require_GET
def kb_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _viewer(request)
    article = get_object_or_404(articles_for(user), pk=pk)
    context = {"object": article, "can_write": may_write(user)}
    return render(request, "servicedesk/kb/article_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def kb_add(request: HttpRequest) -> HttpResponse:
    """A new article; ``?problem=<number>`` links it to the problem it explains."""
    user = _writer(request)
    if request.method == "POST":
        form = f.ArticleForm(request.POST, user=user)
        if form.is_valid():
            article = _save(request, form, user, None)
            if article is not None:
                return redirect("servicedesk:kb_detail", pk=article.pk)
    else:
        form = f.ArticleForm(initial={"problem": request.GET.get("problem", "")}, user=user)
    return render(request, "servicedesk/kb/article_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def kb_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _writer(request)
    article = get_object_or_404(articles_for(user), pk=pk)
    if request.method == "POST":
        form = f.ArticleForm(request.POST, user=user)
        if form.is_valid() and _save(request, form, user, article) is not None:
            return redirect("servicedesk:kb_detail", pk=article.pk)
    else:
        initial: dict[str, Any] = {
            k: getattr(article, k) for k in ("title", "symptom", "cause", "solution", "status")
        }
        initial.update(
            category=article.category_id,
            tags=", ".join(article.tags),
            problem=article.problem.number if article.problem else "",
        )
        form = f.ArticleForm(initial=initial, user=user)
    return render(request, "servicedesk/kb/article_form.html", {"form": form, "object": article})


def _save(
    request: HttpRequest, form: f.ArticleForm, user: User, article: KnowledgeArticle | None
) -> KnowledgeArticle | None:
    data = form.cleaned_data
    try:
        if article is None:
            saved = knowledge.write_article(by=user, **data)
        else:
            saved = knowledge.update_article(article, by=user, changes=data)
    except Refused as exc:
        form.refused(exc)
        return None
    messages.success(request, _("Article saved: %(title)s") % {"title": saved.title})
    return saved


@login_required
@require_GET
def kb_suggest(request: HttpRequest) -> HttpResponse:
    """The top articles for ``?title=&description=`` (an htmx fragment of the ticket form)."""
    _viewer(request)
    text = knowledge.ticket_text(request.GET.get("title", ""), request.GET.get("description", ""))
    context = {"suggestions": knowledge.suggest(text), "typed": bool(text.strip())}
    return render(request, "servicedesk/kb/includes/suggestions.html", context)
