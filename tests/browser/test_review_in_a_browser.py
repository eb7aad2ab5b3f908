"""A NOC operator types a branch's complaint in Chinese and the knowledge base's answer
appears under the description before the ticket is logged; an engineer then records the
problem with its whys and sees an overdue action in red. Real headless Chromium."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.utils import timezone
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from branchops.core.choices import Role
from branchops.core.testing import PASSWORD, make_site, make_user
from branchops.servicedesk import knowledge, review
from branchops.servicedesk.models import CorrectiveAction, PriorityMatrix

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait(browser: WebDriver) -> WebDriverWait[WebDriver]:
    return WebDriverWait(browser, 15, ignored_exceptions=(StaleElementReferenceException,))


def sign_in(browser: WebDriver, base: str, username: str) -> None:
    browser.get(f"{base}/login/")
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD + Keys.ENTER)
    wait(browser).until(lambda b: "/login/" not in b.current_url)


def shot(browser: WebDriver, name: str) -> None:
    # BRANCHOPS_SCREENSHOTS=/some/dir keeps pictures of the pages for a human to look at.
    folder = os.environ.get("BRANCHOPS_SCREENSHOTS")
    if folder:
        browser.save_screenshot(os.path.join(folder, f"{name}.png"))


def test_suggestions_follow_the_typed_title_and_overdue_actions_are_red(
    browser: WebDriver, live_server: object
) -> None:
    if not PriorityMatrix.objects.exists():
        from django.apps import apps

        from branchops.servicedesk.migrations._shipped import load

        load(apps, None)
    make_site(code="BR-0042", name="示例证券杭州解放路营业部")
    make_user(Role.NOC_OPERATOR, username="zhang.noc")
    engineer = make_user(Role.OPS_ENGINEER, username="li.eng")
    vpn = knowledge.write_article(
        by=None, title="营业部VPN隧道频繁断开", symptom="防火墙VPN隧道每天早上断开 行情中断",
        solution="DPD超时改为30秒", status="published",
    )  # fmt: skip
    knowledge.write_article(
        by=None, title="柜台打印机无法打印", symptom="打印机卡纸", solution="换纸",
        status="published",
    )  # fmt: skip
    base = str(live_server)

    sign_in(browser, base, "zhang.noc")
    browser.get(f"{base}/servicedesk/add/")
    browser.find_element(By.ID, "id_title").send_keys("营业部VPN断开")
    found = f'[data-bo-suggestion="{vpn.pk}"]'
    wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, found))
    suggestions = browser.find_element(By.ID, "kb-suggestions").text
    assert "营业部VPN隧道频繁断开" in suggestions
    assert "打印机" not in suggestions
    shot(browser, "ticket-form-suggestions")

    p = review.open_problem(
        title="Branch VPN drops every morning",
        by=engineer,
        owner=engineer,
        whys=[{"why": "Why did the tunnel drop?", "answer": "DPD declared the peer dead"}],
    )
    action = review.add_action(
        problem=p, kind="corrective", title="Raise DPD to 30 s", owner=engineer,
        due_date=timezone.localdate(), by=engineer,
    )  # fmt: skip
    CorrectiveAction.objects.filter(pk=action.pk).update(due_date=dt.date(2026, 1, 5))
    browser.delete_all_cookies()
    sign_in(browser, base, "li.eng")
    browser.get(f"{base}/servicedesk/problems/{p.pk}/")
    row = browser.find_element(By.CSS_SELECTOR, f'[data-action="{action.pk}"]')
    assert "table-danger" in str(row.get_attribute("class"))
    assert "Overdue" in row.text
    shot(browser, "problem-detail")
