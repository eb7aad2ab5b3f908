"""A NOC operator's day shift ends: the phone ticket they logged was started, paused for a
spare part (asked for from the ticket's page), resumed and resolved; they write the handover,
which lists what is still open and not the resolved ticket, and the night operator signs it
under their own login. Real headless Chromium against a live server."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

import pytest
from django.utils import timezone
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from branchops.core.choices import Role
from branchops.core.testing import PASSWORD, make_site, make_user
from branchops.servicedesk import handover, oncall, services
from branchops.servicedesk.models import (
    AssignmentGroup,
    HandoverLog,
    PriorityMatrix,
    SparePartRequest,
    Ticket,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(os.environ.get("BRANCHOPS_SCREENSHOTS", tempfile.gettempdir()))


def wait(browser: WebDriver) -> WebDriverWait[WebDriver]:
    return WebDriverWait(browser, 15, ignored_exceptions=(StaleElementReferenceException,))


def shipped_desk_rows() -> None:
    if not PriorityMatrix.objects.exists():
        from django.apps import apps

        from branchops.servicedesk.migrations._shipped import load

        load(apps, None)


def text_of(browser: WebDriver, css: str) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, css).text)


def sign_in(browser: WebDriver, base: str, username: str) -> None:
    browser.delete_all_cookies()
    browser.get(f"{base}/login/")
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD + Keys.ENTER)
    wait(browser).until(lambda b: "/login/" not in b.current_url)


def click(browser: WebDriver, css: str) -> None:
    """Click, with the element scrolled to the middle first (not under the sticky footer)."""
    element = browser.find_element(By.CSS_SELECTOR, css)
    script = "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});"
    browser.execute_script(script, element)
    element.click()


def move(browser: WebDriver, to: str, note: str = "") -> None:
    if note:
        box = browser.find_element(By.ID, "id_move-note")
        box.clear()
        box.send_keys(note)
    click(browser, f'[data-bo-move="{to}"]')


def status_is(words: str) -> object:
    return lambda b: text_of(b, "#ticket-status") == words


def test_a_shift_hands_over_and_the_next_one_signs(browser: WebDriver, live_server: object) -> None:
    shipped_desk_rows()
    site = make_site(code="BR-0042", name="示例证券杭州解放路营业部")
    engineer = make_user(Role.OPS_ENGINEER, username="li.eng")
    AssignmentGroup.objects.create(name="Network").members.add(engineer)
    day_person = make_user(Role.NOC_OPERATOR, username="zhang.noc", first_name="Zhang")
    night_person = make_user(Role.NOC_OPERATOR, username="wang.noc", first_name="Wang")
    noc = AssignmentGroup.objects.get_or_create(name="NOC")[0]
    noc.members.add(day_person, night_person)
    oncall.create_rotation(
        group=noc, name="daily", people=[day_person, night_person],
        start_date=timezone.localdate() - dt.timedelta(days=3),
    )  # fmt: skip
    now = timezone.now()
    day = handover.create_shift(
        group=noc, starts_at=now - dt.timedelta(hours=6), ends_at=now + dt.timedelta(hours=6),
        people=[day_person],
    )  # fmt: skip
    handover.create_shift(
        group=noc, starts_at=day.ends_at, ends_at=day.ends_at + dt.timedelta(hours=12),
        people=[night_person],
    )  # fmt: skip
    still_open = services.open_ticket(
        kind="incident", source="phone", title="Queue display dark", impact=3, urgency=2,
        site=site, by=day_person,
    )  # fmt: skip
    base = str(live_server)

    # The call, logged from the form and given to the engineer at once.
    sign_in(browser, base, "zhang.noc")
    browser.get(f"{base}/servicedesk/add/")
    Select(browser.find_element(By.ID, "id_site")).select_by_value(str(site.pk))
    browser.find_element(By.ID, "id_title").send_keys("Trading terminals frozen")
    Select(browser.find_element(By.ID, "id_impact")).select_by_value("1")
    browser.find_element(By.ID, "id_reporter_name").send_keys("Wang Fang")
    Select(browser.find_element(By.ID, "id_assignee")).select_by_visible_text("li.eng")
    browser.find_element(By.CSS_SELECTOR, "[data-bo-submit]").click()
    wait(browser).until(lambda b: "/servicedesk/add/" not in b.current_url)
    ticket = Ticket.objects.exclude(pk=still_open.pk).get()
    assert ticket.source == "phone"
    wait(browser).until(status_is("Assigned"))

    # Work starts; a PSU is needed: asked for from the ticket's page, pausing the ticket.
    move(browser, "in_progress")
    wait(browser).until(status_is("In progress"))
    browser.find_element(By.ID, "id_spare-part").send_keys("PSU 750 W")
    browser.find_element(By.ID, "id_spare-model_number").send_keys("DS-7200-PSU")
    Select(browser.find_element(By.ID, "id_spare-urgency")).select_by_value("critical")
    click(browser, "#id_spare-pause")
    click(browser, '[data-bo-action="spare-part"]')
    wait(browser).until(status_is("Pending spare part"))
    part = SparePartRequest.objects.get()
    assert part.ticket == ticket
    assert "PSU 750 W" in text_of(browser, "#spare-parts")
    assert "Spare part requested: 1 x PSU 750 W (DS-7200-PSU)" in text_of(browser, "#timeline")

    # The part comes; back to work; fixed.
    for step in ("approved", "shipped", "received"):
        click(browser, f'[data-bo-part-move="{step}"]')
        wait(browser).until(
            lambda b, s=step: (
                b.find_element(By.CSS_SELECTOR, "[data-bo-part-status]").get_attribute(
                    "data-bo-part-status"
                )
                == s
            )
        )
    move(browser, "in_progress")
    wait(browser).until(status_is("In progress"))
    move(browser, "resolved", "PSU replaced, terminals back")
    wait(browser).until(status_is("Resolved"))

    # End of the day shift: the handover lists what is open, not the resolved ticket.
    browser.get(f"{base}/servicedesk/duty/handover/")
    wait(browser).until(lambda b: "/handover/" in b.current_url and "shifts" in b.current_url)
    tickets = text_of(browser, "#handover-tickets")
    assert still_open.number in tickets
    assert ticket.number not in tickets
    browser.save_screenshot(str(SHOTS / "duty-handover-form.png"))
    browser.find_element(By.ID, "id_summary").send_keys(
        "BR-0042 terminals fixed (PSU replaced).\nQueue display at BR-0042 still dark: "
        "vendor calls back at 08:00."
    )
    click(browser, "[data-bo-submit]")
    wait(browser).until(lambda b: "/duty/handovers/" in b.current_url)
    log = HandoverLog.objects.get()
    assert [t["number"] for t in log.open_tickets] == [still_open.number]
    assert "Not signed yet" in text_of(browser, "#handover-signature")
    browser.save_screenshot(str(SHOTS / "duty-handover-written.png"))

    # The day operator cannot sign their own handover: refused, on the page.
    click(browser, "[data-bo-sign]")
    wait(browser).until(lambda b: "cannot sign" in text_of(b, "[data-bo-refusal]"))
    assert HandoverLog.objects.get().signed_at is None

    # The night operator signs under their own login.
    sign_in(browser, base, "wang.noc")
    browser.get(f"{base}/servicedesk/duty/handovers/{log.pk}/")
    assert "You are on the incoming shift" in browser.page_source
    assert still_open.number in text_of(browser, "#handover-tickets")
    click(browser, "[data-bo-sign]")
    wait(browser).until(lambda b: "Signed: the incoming shift has taken over." in b.page_source)
    assert "Wang" in text_of(browser, "#handover-signature")
    assert HandoverLog.objects.get().signed_by == night_person
    browser.save_screenshot(str(SHOTS / "duty-handover-signed.png"))

    # Who is on call tonight, and the coming weeks, as the night operator sees them.
    browser.get(f"{base}/servicedesk/oncall/")
    expected = oncall.who_is_on_call(noc)
    assert expected is not None
    row = text_of(browser, '[data-bo-oncall="NOC"]')
    assert expected.get_full_name() in row
    assert "Rotation daily" in row
    browser.find_element(By.CSS_SELECTOR, '[data-bo-oncall="NOC"] a').click()
    wait(browser).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "[data-bo-day]")) == 14)
    browser.save_screenshot(str(SHOTS / "duty-oncall-calendar.png"))
