"""The knowledge base as specifications: Chinese text is compared by character bigrams, the
right article ranks first for a Chinese ticket, drafts are never suggested, and articles
are checked before they are written."""

from __future__ import annotations

import pytest

from branchops.core.models import AuditEvent
from branchops.core.testing import make_user
from branchops.servicedesk import knowledge
from branchops.servicedesk.models import KnowledgeArticle
from branchops.servicedesk.services import Refused

pytestmark = pytest.mark.django_db


def article(title: str, symptom: str, status: str = "published", **kw: object) -> KnowledgeArticle:
    return knowledge.write_article(
        by=None, title=title, symptom=symptom, solution=kw.pop("solution", "见步骤"),  # type: ignore[arg-type]
        status=status, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_chinese_runs_become_bigrams_and_latin_runs_words() -> None:
    assert knowledge.terms("防火墙VPN断开") == ["防火", "火墙", "vpn", "断开"]
    assert knowledge.terms("SG-6000 掉线, 1 台") == ["sg-6000", "掉线", "1", "台"]
    assert knowledge.terms("  ") == []


@pytest.fixture
def articles() -> dict[str, KnowledgeArticle]:
    return {
        "vpn": article(
            "营业部VPN隧道频繁断开",
            "营业部防火墙到总部的VPN隧道每天早上断开\uff0c交易终端无法连接行情",
            cause="DPD超时过短",
        ),
        "printer": article("打印机无法打印", "柜台打印机卡纸或者驱动报错\uff0c无法打印回单"),
        "terminal": article("交易终端登录失败", "交易终端提示密码错误或者账户被锁定"),
        "ups": article("UPS告警", "机房UPS电池电压低告警"),
    }


def test_a_chinese_vpn_ticket_finds_the_vpn_article_first(
    articles: dict[str, KnowledgeArticle],
) -> None:
    found = knowledge.suggest(
        knowledge.ticket_text("杭州营业部VPN断开", "早上开市前隧道断了\uff0c行情连不上")
    )
    assert found[0].article == articles["vpn"]
    assert "vpn" in found[0].shared
    assert all(s.article != articles["ups"] for s in found)


def test_a_printer_ticket_finds_the_printer_article_first(
    articles: dict[str, KnowledgeArticle],
) -> None:
    found = knowledge.suggest("二楼柜台打印机打印不了回单")
    assert [s.article for s in found][:1] == [articles["printer"]]
    assert found[0].score > 0.2


def test_at_most_three_and_none_for_unrelated_text(articles: dict[str, KnowledgeArticle]) -> None:
    assert len(knowledge.suggest("营业部 交易终端 打印机 UPS VPN 告警 无法")) <= 3
    assert knowledge.suggest("今天天气很好") == []
    assert knowledge.suggest("") == []


def test_drafts_are_never_suggested() -> None:
    article("VPN隧道断开", "VPN隧道断开", status="draft")
    assert knowledge.suggest("VPN隧道断开") == []


def test_an_article_needs_title_symptom_and_solution_and_nothing_half_written() -> None:
    for kw, field in (
        ({"title": " "}, "title"),
        ({"symptom": ""}, "symptom"),
        ({"solution": ""}, "solution"),
        ({"status": "archived"}, "status"),
    ):
        values = {"title": "t", "symptom": "s", "solution": "x", **kw}
        with pytest.raises(Refused) as refused:
            knowledge.write_article(by=None, **values)  # type: ignore[arg-type]
        assert (refused.value.status, refused.value.field) == (400, field)
    assert not KnowledgeArticle.objects.exists()


def test_tags_are_cleaned_and_publishing_is_stamped_and_audited() -> None:
    a = article("t", "s", status="draft", tags="VPN\uff0c防火墙, vpn ,")
    assert a.tags == ["vpn", "防火墙"]
    assert a.published_at is None
    a = knowledge.update_article(a, by=make_user(), changes={"status": "published"})
    assert a.published_at is not None
    a = knowledge.update_article(a, by=make_user(), changes={"status": "draft"})
    assert a.published_at is None
    assert AuditEvent.objects.filter(object_id=str(a.pk), action="update").count() == 2


def test_search_looks_in_every_text_and_the_tags(articles: dict[str, KnowledgeArticle]) -> None:
    qs = KnowledgeArticle.objects.all()
    assert list(knowledge.search(qs, "DPD")) == [articles["vpn"]]
    assert set(knowledge.search(qs, "交易终端")) == {articles["vpn"], articles["terminal"]}
    tagged = article("断电", "全部设备离线", tags=["停电演练", "Power-Cut"])
    assert list(knowledge.search(qs, "停电演练")) == [tagged]
    assert list(knowledge.search(qs, "power")) == [tagged]


def test_the_kept_index_follows_edits_unpublishing_and_new_articles() -> None:
    vpn = article("VPN隧道断开", "隧道每天早上断开")
    assert [s.article for s in knowledge.suggest("VPN隧道断开")] == [vpn]
    knowledge.update_article(vpn, by=None, changes={"title": "UPS告警", "symptom": "电池电压低"})
    assert knowledge.suggest("VPN隧道断开") == []
    assert [s.article for s in knowledge.suggest("UPS电池")] == [vpn]
    knowledge.update_article(vpn, by=None, changes={"status": "draft"})
    assert knowledge.suggest("UPS电池") == []
    other = article("UPS电池更换", "UPS电池老化")
    assert [s.article for s in knowledge.suggest("UPS电池")] == [other]
