"""A person signs in, switches language, finds a branch, opens it and edits a device,
in a real headless Chromium against a live server."""

from __future__ import annotations

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from branchops.cmdb.models import Device
from branchops.core.choices import AuditAction, Role
from branchops.core.models import AuditEvent
from branchops.core.testing import PASSWORD, make_device, make_site, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait(browser: WebDriver) -> WebDriverWait[WebDriver]:
    # Pages are replaced under our feet while we wait; a stale element just means "not yet".
    return WebDriverWait(browser, 10, ignored_exceptions=(StaleElementReferenceException,))


def wait_for_text(browser: WebDriver, text: str) -> None:
    wait(browser).until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), text))


def click_button(browser: WebDriver, label: str) -> None:
    button = browser.find_element(By.XPATH, f"//button[normalize-space()='{label}']")
    # Bootstrap scrolls smoothly; a click during the animation lands on the old position.
    browser.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", button
    )
    button.click()


def test_sign_in_switch_language_open_a_branch_and_edit_a_device(
    browser: WebDriver, live_server: object
) -> None:
    site = make_site(
        code="BR-0042", name="示例证券杭州解放路营业部", latitude="30.25", longitude="120.17"
    )
    firewall = make_device(site, name="BR-0042-FW01", firmware_version="5.5R9P1")
    make_user(Role.OPS_ENGINEER, username="wang.engineer")
    base = str(live_server)

    # The browser asks for English, so the sign-in page starts in English ...
    browser.get(f"{base}/login/")
    wait_for_text(browser, "Sign in")
    # ... and the person prefers Chinese.
    click_button(browser, "中文")
    wait_for_text(browser, "登录")

    browser.find_element(By.NAME, "username").send_keys("wang.engineer")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD + Keys.ENTER)
    wait(browser).until(lambda b: "/login/" not in b.current_url)
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-hans"

    # Back to English from the top bar; the choice sticks to the account.
    click_button(browser, "English")
    wait(browser).until(lambda b: b.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")

    # Find the branch with the global search and open it.
    search = browser.find_element(By.NAME, "q")
    search.send_keys("BR-0042" + Keys.ENTER)
    browser.find_element(By.PARTIAL_LINK_TEXT, "示例证券杭州解放路营业部").click()
    wait_for_text(browser, "BR-0042-FW01")
    # The small map draws itself (ECharts renders into a canvas).
    wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, "[data-bo-map] canvas"))

    # Open the firewall and change its firmware version.
    browser.find_element(By.LINK_TEXT, "BR-0042-FW01").click()
    wait_for_text(browser, "5.5R9P1")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Edit").click()
    firmware = browser.find_element(By.NAME, "firmware_version")
    firmware.clear()
    firmware.send_keys("5.5R10P2")
    click_button(browser, "Save")
    wait_for_text(browser, "5.5R10P2")

    firewall.refresh_from_db()
    assert firewall.firmware_version == "5.5R10P2"
    change = AuditEvent.objects.get(action=AuditAction.UPDATE, object_id=str(firewall.pk))
    assert change.actor_name == "wang.engineer"
    assert (change.before["firmware_version"], change.after["firmware_version"]) == (
        "5.5R9P1",
        "5.5R10P2",
    )
    assert Device.objects.get(pk=firewall.pk).site == site
