"""A NOC operator opens the alert console, acknowledges an alert with its button and sees
the console update without a reload; an alert the engine writes meanwhile appears by
itself. Real headless Chromium against a live server."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from branchops.alerts.models import Alert
from branchops.core.choices import Role
from branchops.core.testing import PASSWORD, make_site, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait(browser: WebDriver) -> WebDriverWait[WebDriver]:
    # The table is replaced every few seconds; a stale element means "look again".
    return WebDriverWait(browser, 15, ignored_exceptions=(StaleElementReferenceException,))


def alert_at(site: object, title: str, severity: int = 1) -> Alert:
    now = timezone.now() - dt.timedelta(minutes=3)
    return Alert.objects.create(
        fingerprint=title,
        source="check",
        name="DeviceDown",
        severity=severity,
        title=title,
        site=site,
        started_at=now,
        last_seen_at=now,
    )


def row_text(browser: WebDriver, alert: Alert) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, f'tr[data-alert="{alert.pk}"]').text)


def test_acknowledging_from_the_console(browser: WebDriver, live_server: object) -> None:
    site = make_site(code="BR-0042", name="示例证券杭州解放路营业部")
    alert = alert_at(site, "BR-0042-FW01 down")
    make_user(Role.NOC_OPERATOR, username="zhang.noc")
    base = str(live_server)

    browser.get(f"{base}/login/")
    browser.find_element(By.NAME, "username").send_keys("zhang.noc")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD + Keys.ENTER)
    wait(browser).until(lambda b: "/login/" not in b.current_url)

    browser.get(f"{base}/alerts/")
    wait(browser).until(lambda b: "BR-0042-FW01 down" in b.page_source)
    counter = "[data-bo-unacknowledged]"
    assert browser.find_element(By.CSS_SELECTOR, counter).text == "1"
    browser.execute_script("document.body.dataset.boMarker = 'same page';")

    button = browser.find_element(By.CSS_SELECTOR, f'[data-bo-ack="{alert.pk}"]')
    button.click()
    # The notice arrives, the row says who acknowledged, the counter drops: all without a
    # reload (the marker set on this page's body is still there).
    wait(browser).until(
        lambda b: "Acknowledged: BR-0042-FW01 down" in b.find_element(By.ID, "alert-notice").text
    )
    wait(browser).until(lambda b: "zhang.noc" in row_text(b, alert))
    wait(browser).until(lambda b: b.find_element(By.CSS_SELECTOR, counter).text == "0")
    assert not browser.find_elements(By.CSS_SELECTOR, f'[data-bo-ack="{alert.pk}"]')
    assert browser.execute_script("return document.body.dataset.boMarker;") == "same page"
    alert.refresh_from_db()
    assert alert.acknowledged_by is not None
    assert alert.acknowledged_by.username == "zhang.noc"

    # The engine raises another alert: the console shows it by itself within seconds.
    alert_at(site, "BR-0042 WAN1 down", severity=2)
    wait(browser).until(lambda b: "BR-0042 WAN1 down" in b.page_source)
    assert browser.execute_script("return document.body.dataset.boMarker;") == "same page"
