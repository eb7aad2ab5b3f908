"""People to call: branch managers and IT liaisons, the HQ operations team, system owners,
vendor engineers per sales region, third-party maintainers and carrier account managers.

Vendor and carrier contacts are attached to every site where their kit or lines are, which
is what the service desk needs when a branch goes down.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from branchops.cmdb.choices import DATA_CENTRE_KINDS, ContactRole, SiteKind
from branchops.lab.catalogue import VENDORS
from branchops.lab.contracts import FORMER_MAINTAINER, MAINTAINERS, SOFTWARE_VENDORS
from branchops.lab.draft import Draft
from branchops.lab.geography import PROVINCE_BY_ISO, SALES_REGIONS
from branchops.lab.links import CARRIER_CODES
from branchops.lab.people import STAFF_DOMAIN
from branchops.lab.sites import FIRM
from branchops.lab.spec import HQ_CODE, ContactRow
from branchops.lab.systems import DEPARTMENTS

HQ_OPS_TITLES = ("运维值班主管", "网络工程师", "系统工程师", "数据库管理员")


class _Contacts:
    def __init__(self, draft: Draft) -> None:
        self.draft = draft

    def add(
        self,
        key: str,
        role: ContactRole,
        organisation: str,
        title: str,
        sites: Iterable[str],
        *,
        domain: str = STAFF_DOMAIN,
        phone: str = "",
        notes: str = "",
    ) -> None:
        people = self.draft.people
        person = people.person()
        self.draft.contacts.append(
            ContactRow(
                key=key,
                name=person.name,
                role=role,
                organisation=organisation,
                title=title,
                phone=phone,
                mobile=people.mobile(),
                email=people.email(person, domain),
                sites=tuple(sorted(sites)),
                notes=notes,
            )
        )


def _site_people(book: _Contacts, draft: Draft) -> None:
    data_centres = [s.code for s in draft.sites if s.kind in DATA_CENTRE_KINDS]
    for site in draft.sites:
        if site.kind == SiteKind.BRANCH:
            book.add(
                f"{site.code}/manager",
                ContactRole.BRANCH_MANAGER,
                FIRM,
                "营业部总经理",
                [site.code],
            )
            book.add(f"{site.code}/it", ContactRole.BRANCH_IT, FIRM, "信息技术岗", [site.code])
        elif site.kind == SiteKind.REGIONAL_CENTRE:
            book.add(
                f"{site.code}/head", ContactRole.OPS_STAFF, FIRM, "区域中心负责人", [site.code]
            )
            book.add(
                f"{site.code}/engineer", ContactRole.OPS_STAFF, FIRM, "区域驻场工程师", [site.code]
            )
    for n, title in enumerate(HQ_OPS_TITLES, start=1):
        book.add(f"hq/ops-{n}", ContactRole.OPS_STAFF, f"{FIRM}信息技术部", title, data_centres)
    for department, slug in DEPARTMENTS.items():
        book.add(
            f"owner/{slug}",
            ContactRole.SYSTEM_OWNER,
            f"{FIRM}{department}",
            f"{department}系统负责人",
            [HQ_CODE],
        )


def _vendor_people(book: _Contacts, draft: Draft) -> None:
    by_region: dict[tuple[str, str], set[str]] = defaultdict(set)
    data_centres: dict[str, set[str]] = defaultdict(set)
    for device in draft.devices:
        site = draft.site_by_code[device.site]
        vendors = [device.manufacturer] + (["vmware"] if device.platform == "esxi" else [])
        for vendor in vendors:
            if site.kind in DATA_CENTRE_KINDS:
                data_centres[vendor].add(site.code)
            else:
                sales_region = PROVINCE_BY_ISO[site.province].sales_region
                by_region[(vendor, sales_region)].add(site.code)
    names = {v.slug: v.name_zh for v in VENDORS} | SOFTWARE_VENDORS
    for slug, organisation in names.items():
        domain = f"{slug}-service.example"
        book.add(
            f"vendor/{slug}",
            ContactRole.VENDOR_ENGINEER,
            organisation,
            "客户服务经理",
            data_centres.get(slug, ()),
            domain=domain,
            phone=book.draft.people.hotline(),
        )
        for region in SALES_REGIONS:
            sites = by_region.get((slug, region.code))
            if sites:
                book.add(
                    f"vendor/{slug}/{region.code}",
                    ContactRole.VENDOR_ENGINEER,
                    organisation,
                    f"{region.name}区域服务工程师",
                    sites,
                    domain=domain,
                )


def _maintainers_and_carriers(book: _Contacts, draft: Draft) -> None:
    edge_by_region: dict[str, list[str]] = defaultdict(list)
    for site in draft.sites:
        if site.kind not in DATA_CENTRE_KINDS:
            edge_by_region[PROVINCE_BY_ISO[site.province].sales_region].append(site.code)
    for region in SALES_REGIONS:
        book.add(
            f"maintainer/{region.code}",
            ContactRole.VENDOR_ENGINEER,
            MAINTAINERS[region.code],
            "驻场服务经理",
            edge_by_region.get(region.code, ()),
            domain=f"maint-{region.code}.example",
            phone=book.draft.people.hotline(),
        )
    key, organisation = FORMER_MAINTAINER
    book.add(
        f"maintainer/{key}",
        ContactRole.VENDOR_ENGINEER,
        organisation,
        "服务经理",
        (),
        domain=f"maint-{key}.example",
        notes="已终止合作, 合同到期未续签。",
    )
    lines: dict[tuple[str, str], set[str]] = defaultdict(set)
    for link in draft.links:
        if link.carrier:
            lines[(link.carrier, draft.site_by_code[link.a_site].province)].add(link.a_site)
    for (carrier, iso), sites in sorted(lines.items()):
        province = PROVINCE_BY_ISO[iso]
        code = CARRIER_CODES[carrier]
        book.add(
            f"carrier/{code}/{iso}",
            ContactRole.CARRIER_SUPPORT,
            f"{carrier}{province.short}分公司",
            "政企客户经理",
            sites,
            domain=f"{code.lower()}-{iso.lower()}.example",
            phone=book.draft.people.hotline(),
        )


def add_contacts(draft: Draft) -> None:
    book = _Contacts(draft)
    _site_people(book, draft)
    _vendor_people(book, draft)
    _maintainers_and_carriers(book, draft)
