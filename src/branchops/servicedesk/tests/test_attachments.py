"""A ticket's files, from its page and through the API: attached, listed, downloaded as
they were sent; refused with a reason (type, size, closed ticket) and nothing kept; only
those who may change the ticket attach, only those who may see it download."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from branchops.core.choices import Role
from branchops.core.testing import ApiClient, make_user
from branchops.servicedesk.models import Attachment, Ticket
from branchops.servicedesk.tests.test_views_support import (
    build_desk,
    client_for,
    csrf_post,
    open_ticket,
)

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def desk() -> dict[str, Any]:
    return build_desk()


def attach_on_page(user: Any, ticket: Ticket, name: str, content: bytes, kind: str) -> Any:
    upload = SimpleUploadedFile(name, content, content_type=kind)
    url = reverse("servicedesk:ticket_attach", args=[ticket.pk])
    return csrf_post(client_for(user), url, {"file": upload}, follow=True)


def test_a_file_attached_on_the_page_is_listed_and_downloads_as_sent(
    desk: dict[str, Any],
) -> None:
    ticket = open_ticket(desk)
    page = attach_on_page(desk["engineer"], ticket, "终端截图.png", PNG, "image/png")
    assert "Attached 终端截图.png" in page.content.decode()
    assert 'data-bo-attachment="终端截图.png"' in page.content.decode()
    (saved,) = ticket.attachments.all()
    got = client_for(desk["noc"]).get(
        reverse("servicedesk:attachment_download", args=[ticket.pk, saved.pk])
    )
    assert got.status_code == 200
    assert b"".join(got.streaming_content) == PNG
    assert got["Content-Type"] == "image/png"
    assert "attachment;" in got["Content-Disposition"]
    assert ticket.events.filter(kind="attachment", detail="终端截图.png").count() == 1


def test_a_refused_file_is_explained_on_the_page_and_not_kept(desk: dict[str, Any]) -> None:
    ticket = open_ticket(desk)
    page = attach_on_page(desk["engineer"], ticket, "evil.html", b"<script>", "text/html")
    assert "Files of type text/html are not accepted." in page.content.decode()
    assert not Attachment.objects.exists()


def test_a_liaison_may_not_attach_nor_read_other_sites_files(desk: dict[str, Any]) -> None:
    ticket = open_ticket(desk, site="other")
    attach_on_page(desk["engineer"], ticket, "log.txt", b"link down", "text/plain")
    saved = ticket.attachments.get()
    liaison = make_user(Role.BRANCH_LIAISON, sites=(desk["own"],))
    url = reverse("servicedesk:attachment_download", args=[ticket.pk, saved.pk])
    assert client_for(liaison).get(url).status_code == 404
    refused = attach_on_page(liaison, open_ticket(desk), "x.txt", b"x", "text/plain")
    assert refused.status_code == 403
    assert Attachment.objects.count() == 1


def test_the_api_uploads_lists_and_downloads(desk: dict[str, Any]) -> None:
    ticket = open_ticket(desk)
    api = ApiClient(desk["engineer"])
    upload = SimpleUploadedFile("ping.csv", b"time,rtt\n1,2\n", content_type="text/csv")
    created = api.client.post(
        f"/api/v1/tickets/{ticket.pk}/attachments/", {"file": upload}, headers=api._headers()
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["name"], body["size"], body["uploaded_by"]) == ("ping.csv", 13, "li.eng")
    listed = api.get(f"/api/v1/tickets/{ticket.pk}/attachments/").json()
    assert [a["name"] for a in listed] == ["ping.csv"]
    got = api.client.get(body["url"], headers=api._headers())
    assert b"".join(got.streaming_content) == b"time,rtt\n1,2\n"


def test_the_api_refuses_a_file_naming_the_field(desk: dict[str, Any]) -> None:
    ticket = open_ticket(desk)
    api = ApiClient(desk["engineer"])
    upload = SimpleUploadedFile("tool.exe", b"MZ", content_type="application/x-msdownload")
    refused = api.client.post(
        f"/api/v1/tickets/{ticket.pk}/attachments/", {"file": upload}, headers=api._headers()
    )
    assert refused.status_code == 400
    assert "file" in refused.json()["error"]["fields"]
    assert not Attachment.objects.exists()
    auditor = ApiClient(make_user(Role.AUDITOR))
    upload = SimpleUploadedFile("a.txt", b"a", content_type="text/plain")
    denied = auditor.client.post(
        f"/api/v1/tickets/{ticket.pk}/attachments/", {"file": upload}, headers=auditor._headers()
    )
    assert denied.status_code == 403
