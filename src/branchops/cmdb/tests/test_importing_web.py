"""The import and export page: sign-in, CSRF, upload and report, dry run, downloads,
liaison scope, and user data escaped in the report."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from branchops.cmdb.importing.samples import csv_file, ensure_catalog, workbook
from branchops.cmdb.models import Device
from branchops.core.choices import Role
from branchops.core.models import AuditEvent, User
from branchops.core.testing import make_device, make_site, make_user

pytestmark = pytest.mark.django_db

HEADERS = [
    "Site code",
    "Device name",
    "Device role",
    "Manufacturer",
    "Device model",
    "Management IP",
]
GOOD = ["BR-1", "fw01", "firewall", "Hillstone", "SG-6000-E2300", "10.0.0.1"]
XSS = "<script>alert('x')</script>"


def client_for(user: User, *, csrf: bool = True) -> Client:
    client = Client(enforce_csrf_checks=csrf, headers={"accept-language": "en"})
    client.force_login(user)
    return client


@pytest.fixture
def estate():  # type: ignore[no-untyped-def]
    ensure_catalog()
    return {"own": make_site(code="BR-1"), "other": make_site(code="BR-2"), "admin": make_user()}


def upload(client: Client, data: bytes, name: str = "devices.xlsx", **fields: str):  # type: ignore[no-untyped-def]
    page = client.get(reverse("cmdb:import"))
    assert page.status_code == 200
    token = client.cookies["csrftoken"].value
    file = io.BytesIO(data)
    file.name = name
    return client.post(
        reverse("cmdb:import"), {"csrfmiddlewaretoken": token, "file": file, **fields}
    )


def test_sign_in_required() -> None:
    answer = Client().get(reverse("cmdb:import"))
    assert answer.status_code == 302
    assert reverse("core:login") in answer["Location"]
    assert Client().get(reverse("cmdb:export", args=["sites", "csv"])).status_code == 302


def test_page_offers_upload_templates_and_exports(estate) -> None:  # type: ignore[no-untyped-def]
    html = client_for(estate["admin"]).get(reverse("cmdb:import")).content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert "csrfmiddlewaretoken" in html
    for kind in ("sites", "devices", "links", "systems", "contracts"):
        assert reverse("cmdb:import_template", args=[kind, "xlsx"]) in html
        assert reverse("cmdb:export", args=[kind, "csv"]) in html


def test_upload_without_csrf_token_is_refused(estate) -> None:  # type: ignore[no-untyped-def]
    client = client_for(estate["admin"])
    file = io.BytesIO(workbook([HEADERS, GOOD]))
    file.name = "d.xlsx"
    assert client.post(reverse("cmdb:import"), {"file": file}).status_code == 403
    assert not Device.objects.exists()


def test_upload_shows_every_error_and_writes_nothing(estate) -> None:  # type: ignore[no-untyped-def]
    rows = [HEADERS, GOOD, ["BR-1", "fw02", "firewall", "Hillstone", "SG-6000-E2300", "bad-ip"]]
    answer = upload(client_for(estate["admin"]), workbook(rows), kind="devices")
    assert answer.status_code == 200
    html = answer.content.decode()
    assert "1 problem(s) found in devices.xlsx; nothing was imported." in html
    assert "<td>Management IP</td><td>Enter a valid IPv4 or IPv6 address.</td>" in html
    assert '<td class="text-nowrap">3</td>' in html
    assert not Device.objects.exists()


def test_dry_run_then_import(estate) -> None:  # type: ignore[no-untyped-def]
    client = client_for(estate["admin"])
    data = csv_file([HEADERS, GOOD], encoding="gbk")
    html = upload(client, data, "d.csv", dry_run="on").content.decode()
    assert "Dry run: 1 row(s) are valid" in html
    assert not Device.objects.exists()
    html = upload(client, data, "d.csv").content.decode()
    assert "Imported 1 row(s): 1 created" in html
    assert Device.objects.get().name == "fw01"
    assert AuditEvent.objects.get().source == "import"


def test_user_data_in_the_report_is_escaped(estate) -> None:  # type: ignore[no-untyped-def]
    rows = [HEADERS, ["BR-1", "x", XSS, "Hillstone", "SG-6000-E2300", ""]]
    html = upload(client_for(estate["admin"]), workbook(rows)).content.decode()
    assert XSS not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; is not known." in html


def test_file_over_the_size_limit(estate, settings) -> None:  # type: ignore[no-untyped-def]
    settings.IMPORT_MAX_BYTES = 1024
    html = upload(client_for(estate["admin"]), b"x" * 5000, "big.csv").content.decode()
    assert "The file is 4.9 KB; the limit is 1.0 KB." in html
    assert 'id="import-report"' not in html


def test_liaison_imports_and_exports_only_own_sites(estate) -> None:  # type: ignore[no-untyped-def]
    liaison = make_user(Role.BRANCH_LIAISON, sites=(estate["own"],))
    make_device(estate["other"], name="secret-fw", serial="SECRET")
    client = client_for(liaison)
    page = client.get(reverse("cmdb:import")).content.decode()
    assert '<option value="devices">' in page
    assert '<option value="contracts">' not in page  # contracts are read-only for liaisons
    rows = [HEADERS, GOOD, ["BR-2", "fw09", "firewall", "Hillstone", "SG-6000-E2300", ""]]
    html = upload(client, workbook(rows), kind="devices").content.decode()
    assert "You may only change objects at your own sites." in html
    assert not Device.objects.filter(name="fw01").exists()
    upload(client, workbook(rows[:2]), kind="devices")
    export = client.get(reverse("cmdb:export", args=["devices", "csv"]))
    assert export["Content-Disposition"].startswith('attachment; filename="devices-')
    body = export.content.decode("utf-8-sig")
    assert "fw01" in body
    assert "secret" not in body.lower()


def test_template_download_in_the_users_language(estate) -> None:  # type: ignore[no-untyped-def]
    estate["admin"].language = "en"
    estate["admin"].save()
    client = client_for(estate["admin"])
    answer = client.get(reverse("cmdb:import_template", args=["devices", "xlsx"]))
    assert answer["Content-Type"].startswith("application/vnd.openxmlformats")
    assert answer["Content-Disposition"] == 'attachment; filename="devices-template.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).worksheets[0]
    assert sheet.cell(1, 1).value == "Site code"
    estate["admin"].language = "zh-hans"
    estate["admin"].save()
    answer = client.get(reverse("cmdb:import_template", args=["sites", "csv"]))
    header = next(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert header[0] == "站点编码"


def test_unknown_kind_or_format_is_404(estate) -> None:  # type: ignore[no-untyped-def]
    client = client_for(estate["admin"])
    assert client.get(reverse("cmdb:export", args=["racks", "csv"])).status_code == 404
    assert client.get(reverse("cmdb:import_template", args=["sites", "pdf"])).status_code == 404
