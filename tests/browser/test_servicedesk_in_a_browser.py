"""A NOC operator takes a branch's phone call and logs it, the engineer pauses it while a
spare part is on its way, resumes and resolves it; the ticket's page shows the status, the
SLA clocks and the timeline following along. Real headless Chromium against a live server."""

from __future__ import annotations

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from branchops.core.choices import Role
from branchops.core.testing import PASSWORD, make_site, make_user
from branchops.servicedesk.models import AssignmentGroup, PriorityMatrix, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait(browser: WebDriver) -> WebDriverWait[WebDriver]:
    return WebDriverWait(browser, 15, ignored_exceptions=(StaleElementReferenceException,))


def shipped_desk_rows() -> None:
    # A transactional test may follow one whose flush emptied the tables.
    if not PriorityMatrix.objects.exists():
        from django.apps import apps

        from branchops.servicedesk.migrations._shipped import load

        load(apps, None)


def text_of(browser: WebDriver, css: str) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, css).text)


def clock_state(browser: WebDriver, clock: str) -> str:
    row = browser.find_element(By.CSS_SELECTOR, f'[data-bo-clock-row="{clock}"] [data-bo-clock]')
    return str(row.get_attribute("data-bo-clock-state"))


def move(browser: WebDriver, to: str, note: str = "") -> None:
    if note:
        box = browser.find_element(By.ID, "id_move-note")
        box.clear()
        box.send_keys(note)
    browser.find_element(By.CSS_SELECTOR, f'[data-bo-move="{to}"]').click()


def test_a_phone_ticket_paused_resumed_and_resolved(
    browser: WebDriver, live_server: object
) -> None:
    shipped_desk_rows()
    make_site(code="BR-0007", name="示例证券宁波中山路营业部")
    make_site(code="BR-0042", name="示例证券杭州解放路营业部")
    engineer = make_user(Role.OPS_ENGINEER, username="li.eng")
    AssignmentGroup.objects.create(name="Network").members.add(engineer)
    make_user(Role.NOC_OPERATOR, username="zhang.noc")
    base = str(live_server)

    browser.get(f"{base}/login/")
    browser.find_element(By.NAME, "username").send_keys("zhang.noc")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD + Keys.ENTER)
    wait(browser).until(lambda b: "/login/" not in b.current_url)

    # The call: find the branch by typing, say what is wrong, how bad, who called.
    browser.get(f"{base}/servicedesk/add/")
    search = browser.find_element(By.CSS_SELECTOR, "[data-bo-search-for='id_site']")
    search.send_keys("解放路" + Keys.ENTER)
    wait(browser).until(
        lambda b: Select(b.find_element(By.ID, "id_site")).first_selected_option.text.startswith(
            "BR-0042"
        )
    )
    browser.find_element(By.ID, "id_title").send_keys("Trading terminals frozen")
    Select(browser.find_element(By.ID, "id_impact")).select_by_value("1")
    wait(browser).until(
        lambda b: (
            'data-bo-priority="2"'
            in b.find_element(By.ID, "priority-preview").get_attribute("innerHTML")
        )
    )
    browser.find_element(By.ID, "id_reporter_name").send_keys("Wang Fang")
    Select(browser.find_element(By.ID, "id_assignee")).select_by_visible_text("li.eng")
    browser.find_element(By.CSS_SELECTOR, "[data-bo-submit]").click()

    wait(browser).until(lambda b: "/servicedesk/add/" not in b.current_url)
    ticket = Ticket.objects.get()
    assert ticket.source == "phone"
    assert ticket.priority == 2
    assert f"Logged {ticket.number}" in browser.page_source
    assert text_of(browser, "#ticket-status") == "Assigned"
    assert clock_state(browser, "resolution") == "running"
    assert clock_state(browser, "response") == "met"  # given to a person at once

    # Waiting for a spare part: the clocks stop.
    move(browser, "pending_spare_part", "PSU ordered from the vendor")
    wait(browser).until(lambda b: text_of(b, "#ticket-status") == "Pending spare part")
    assert clock_state(browser, "resolution") == "paused"
    assert clock_state(browser, "arrival") == "paused"
    assert "PSU ordered from the vendor" in text_of(browser, "#timeline")

    # The part came: back to work, the clocks run again.
    move(browser, "in_progress")
    wait(browser).until(lambda b: text_of(b, "#ticket-status") == "In progress")
    assert clock_state(browser, "resolution") == "running"

    # Resolving without a note is refused on the note, and nothing changes.
    move(browser, "resolved")
    wait(browser).until(lambda b: "Say why the ticket goes to Resolved." in b.page_source)
    assert text_of(browser, "#ticket-status") == "In progress"
    move(browser, "resolved", "PSU replaced, terminals back")
    wait(browser).until(lambda b: text_of(b, "#ticket-status") == "Resolved")
    assert clock_state(browser, "resolution") == "met"
    timeline = text_of(browser, "#timeline")
    for words in ("Created", "Assigned", "Pending spare part", "In progress", "Resolved"):
        assert words in timeline
    assert "PSU replaced, terminals back" in timeline
    events = list(ticket.events.order_by("at", "id").values_list("kind", "to_status"))
    assert events == [
        ("created", "new"),
        ("assigned", "assigned"),
        ("status", "pending_spare_part"),
        ("status", "in_progress"),
        ("status", "resolved"),
    ]
