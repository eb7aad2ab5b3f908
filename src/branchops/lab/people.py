"""Made-up people: plausible Chinese names, and phone numbers and mail domains that are not
anybody's (139-0000-xxxx style mobiles, 400-000-xxxx hotlines, ``.example`` domains)."""

from __future__ import annotations

import random
from dataclasses import dataclass

# The most common surnames, the first ones more often, with their pinyin.
SURNAMES: tuple[tuple[str, str], ...] = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
    ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
    ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"),
    ("郭", "guo"), ("何", "he"), ("林", "lin"), ("罗", "luo"), ("高", "gao"),
    ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"),
    ("许", "xu"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"),
    ("彭", "peng"), ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"),
    ("袁", "yuan"), ("潘", "pan"), ("于", "yu"), ("蒋", "jiang"), ("蔡", "cai"),
    ("余", "yu"), ("杜", "du"), ("叶", "ye"), ("程", "cheng"), ("苏", "su"),
    ("魏", "wei"), ("吕", "lyu"), ("丁", "ding"), ("任", "ren"), ("沈", "shen"),
)  # fmt: skip

GIVEN: tuple[tuple[str, str], ...] = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"),
    ("丽", "li"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
    ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("娟", "juan"), ("涛", "tao"),
    ("明", "ming"), ("超", "chao"), ("秀", "xiu"), ("霞", "xia"), ("平", "ping"),
    ("刚", "gang"), ("华", "hua"), ("建", "jian"), ("国", "guo"), ("文", "wen"),
    ("辉", "hui"), ("鹏", "peng"), ("宇", "yu"), ("浩", "hao"), ("婷", "ting"),
    ("雪", "xue"), ("琳", "lin"), ("晨", "chen"), ("欣", "xin"), ("佳", "jia"),
    ("俊", "jun"), ("峰", "feng"), ("斌", "bin"), ("凯", "kai"), ("志", "zhi"),
    ("海", "hai"), ("红", "hong"), ("颖", "ying"), ("倩", "qian"), ("博", "bo"),
    ("睿", "rui"), ("晓", "xiao"), ("子", "zi"), ("轩", "xuan"), ("思", "si"),
    ("嘉", "jia"), ("怡", "yi"), ("梦", "meng"), ("宁", "ning"), ("健", "jian"),
    ("玲", "ling"), ("毅", "yi"), ("昊", "hao"), ("然", "ran"), ("亮", "liang"),
)  # fmt: skip

MOBILE_PREFIXES = ("139", "138", "137", "136", "135")
STAFF_DOMAIN = "example-securities.example"


@dataclass(frozen=True)
class Person:
    name: str
    pinyin: str  # for a mail address: zhangwei


class People:
    """Draws names and never-repeating fictional numbers from one random stream."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._mobiles: set[int] = set()
        self._hotlines: set[int] = set()
        self._weights = [len(SURNAMES) - i for i in range(len(SURNAMES))]

    def person(self) -> Person:
        surname = self._rng.choices(SURNAMES, weights=self._weights)[0]
        given = self._rng.sample(GIVEN, self._rng.choice((1, 2, 2)))
        return Person(
            name=surname[0] + "".join(g[0] for g in given),
            pinyin=surname[1] + "".join(g[1] for g in given),
        )

    def mobile(self) -> str:
        """139-0000-1234 and the like: the 0000 block is not handed out to subscribers."""
        limit = 10_000 * len(MOBILE_PREFIXES)
        if len(self._mobiles) >= limit:
            raise RuntimeError("ran out of fictional mobile numbers")
        while True:
            n = self._rng.randrange(limit)
            if n not in self._mobiles:
                self._mobiles.add(n)
                return f"{MOBILE_PREFIXES[n // 10_000]}-0000-{n % 10_000:04d}"

    def hotline(self) -> str:
        while True:
            n = self._rng.randrange(10_000)
            if n not in self._hotlines:
                self._hotlines.add(n)
                return f"400-000-{n:04d}"

    def email(self, person: Person, domain: str = STAFF_DOMAIN) -> str:
        return f"{person.pinyin}{self._rng.randint(1, 99)}@{domain}"
