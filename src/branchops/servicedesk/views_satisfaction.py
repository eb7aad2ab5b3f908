"""The public satisfaction page (满意度回访): opened from a signed link, no sign-in.

It shows the ticket's number, title and site, and a form with a score of 1 to 5 and a
comment. A bad or expired link, a ticket not resolved, and a second answer are told
politely, with a 4xx status; nothing else of the ticket is shown.
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from branchops.servicedesk import satisfaction
from branchops.servicedesk.services import Refused

SCORES = [
    (5, _("5 · very satisfied")),
    (4, _("4 · satisfied")),
    (3, _("3 · acceptable")),
    (2, _("2 · dissatisfied")),
    (1, _("1 · very dissatisfied")),
]


class SatisfactionForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("How satisfied are you with how this ticket was handled?"),
        choices=SCORES,
        coerce=int,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        max_length=satisfaction.MAX_COMMENT,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


@require_http_methods(["GET", "POST"])
def satisfaction_page(request: HttpRequest, token: str) -> HttpResponse:
    template = "servicedesk/satisfaction/answer.html"
    try:
        ticket = satisfaction.read_token(token)
    except Refused as exc:
        return render(request, template, {"problem": exc.message}, status=exc.status)
    context: dict[str, object] = {"ticket": ticket, "token": token}
    earlier = satisfaction.existing_answer(ticket)
    if earlier is not None:
        context["problem"] = satisfaction.already_answered(earlier).message
        return render(request, template, context, status=409 if request.method == "POST" else 200)
    form = SatisfactionForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                context["done"] = satisfaction.answer(
                    ticket, score=form.cleaned_data["score"], comment=form.cleaned_data["comment"]
                )
            except Refused as exc:
                if exc.field:
                    form.add_error(exc.field, exc.message)
                else:
                    context["problem"] = exc.message
                    return render(request, template, context, status=exc.status)
        if "done" not in context:
            context["form"] = form
            return render(request, template, context, status=400)
        return render(request, template, context)
    context["form"] = form
    return render(request, template, context)
