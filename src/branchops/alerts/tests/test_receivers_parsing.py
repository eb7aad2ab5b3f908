"""Syslog parsing, TCP framing and parse rules, as specifications (no sockets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from branchops.alerts.receivers.framing import FrameDecoder, FrameError
from branchops.alerts.receivers.rules import ParseRuleError, load_rules, read_file
from branchops.alerts.receivers.syslog import classify
from branchops.alerts.receivers.syslog_parser import SyslogParseError, parse

BOOK = load_rules()


def event_for(line: str | bytes, sender: str = "192.0.2.1"):  # type: ignore[no-untyped-def]
    raw = line.encode() if isinstance(line, str) else line
    return classify(parse(raw), sender, 0.0, BOOK)


# ---- RFC 3164, RFC 5424 and what real devices send ----------------------------------------


def test_rfc3164_with_hostname_and_tag() -> None:
    message = parse(b"<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed on /dev/pts/8")
    assert (message.facility, message.severity) == (4, 2)
    assert message.timestamp == "Oct 11 22:14:15"
    assert (message.hostname, message.app, message.procid) == ("mymachine", "su", "230")
    assert message.text == "'su root' failed on /dev/pts/8"


def test_rfc3164_without_hostname_takes_the_tag_as_tag() -> None:
    message = parse(b"<13>Oct  1 08:00:00 sshd: Accepted password")
    assert message.hostname == ""
    assert message.app == "sshd"
    assert message.text == "Accepted password"


def test_h3c_year_after_the_time() -> None:
    message = parse(b"<189>Oct 9 14:59:04 2009 Sysname %%10SHELL/5/SHELL_LOGIN(l): VTY logged in")
    assert message.timestamp == "Oct 9 14:59:04 2009"
    assert message.hostname == "Sysname"
    assert message.app == "%%10SHELL/5/SHELL_LOGIN(l)"


def test_iso_timestamp_and_no_pri_defaults_to_user_notice() -> None:
    message = parse(b"2018-07-22 11:19:31 sysname %%01SHELL/4/LOGIN(l): user:admin login")
    assert (message.facility, message.severity) == (1, 5)  # PRI 13, RFC 3164 4.3.3
    assert message.timestamp == "2018-07-22 11:19:31"
    assert message.hostname == "sysname"


def test_fortios_key_value_line_has_no_header() -> None:
    message = parse(b'<189>date=2024-05-01 time=10:00:00 devname="FGT" logid="0100032001"')
    assert (message.timestamp, message.hostname, message.app) == ("", "", "")
    assert message.text.startswith("date=2024-05-01")


def test_rfc5424_with_structured_data_and_bom() -> None:
    message = parse(
        b"<165>1 2003-10-11T22:14:15.003Z host.example.com evntslog - ID47 [exampleSDID@32473 "
        b'iut="3" eventSource="App\\"x\\]"][meta seq="1"] \xef\xbb\xbfAn application event'
    )
    assert message.rfc == "5424"
    assert (message.facility, message.severity) == (20, 5)
    assert (message.hostname, message.app, message.procid, message.msgid) == (
        "host.example.com",
        "evntslog",
        "",
        "ID47",
    )
    assert message.structured_data["exampleSDID@32473"] == {"iut": "3", "eventSource": 'App"x]'}
    assert message.structured_data["meta"] == {"seq": "1"}
    assert message.text == "An application event"


def test_chinese_in_utf8_and_in_gb18030_decode_the_same() -> None:
    text = "<12>2024-05-01 10:00:00 分支防火墙 IPSEC/4/DOWN: 隧道断开"
    from_utf8 = parse(text.encode("utf-8"))
    from_gbk = parse(text.encode("gb18030"))
    assert from_utf8.text == from_gbk.text == "隧道断开"
    assert from_utf8.hostname == from_gbk.hostname == "分支防火墙"


@pytest.mark.parametrize("raw", [b"", b"\r\n", b"\x00\x01\x02\x03\x04\x05\x06\x07" * 8])
def test_empty_or_binary_input_is_malformed(raw: bytes) -> None:
    with pytest.raises(SyslogParseError):
        parse(raw)


def test_unmatched_message_becomes_an_info_message_event() -> None:
    event = event_for("<14>Oct 11 22:14:15 router1 ntpd[7]: time reset +0.1 s")
    assert (event.name, event.status, event.severity) == ("message", "info", None)
    assert event.labels["hostname"] == "router1"
    assert event.message == "Oct 11 22:14:15 router1 ntpd[7]: time reset +0.1 s"


def test_event_message_is_bounded() -> None:
    event = event_for("<14>Oct 11 22:14:15 router1 app: " + "x" * 5000)
    assert len(event.message) == 2000


# ---- RFC 6587 framing ----------------------------------------------------------------------


def test_octet_counting_and_lf_frames_may_arrive_in_pieces() -> None:
    decoder = FrameDecoder(max_size=100)
    assert decoder.feed(b"11 <13>first") == []
    assert decoder.feed(b" m") == [b"<13>first m"]
    assert decoder.feed(b"<13>second\n<13>thi") == [b"<13>second"]
    assert decoder.feed(b"rd\r\n5 <13>x") == [b"<13>third", b"<13>x"]


def test_a_line_starting_with_digits_is_not_a_length() -> None:
    decoder = FrameDecoder(max_size=100)
    assert decoder.feed(b"2024-05-01 10:00:00 fw msg\n") == [b"2024-05-01 10:00:00 fw msg"]


def test_nul_terminated_frames_are_accepted() -> None:
    assert FrameDecoder(100).feed(b"<13>a\x00<13>b\x00") == [b"<13>a", b"<13>b"]


@pytest.mark.parametrize("stream", [b"101 ", b"<13>" + b"y" * 101])
def test_frames_longer_than_the_limit_stop_the_stream(stream: bytes) -> None:
    decoder = FrameDecoder(max_size=100)
    assert decoder.feed(b"5 <13>a" + stream) == [b"<13>a"]
    assert decoder.failure == "oversized"
    assert decoder.feed(b"<13>more\n") == []


def test_end_of_stream_keeps_an_unterminated_line_but_not_half_a_counted_frame() -> None:
    lines = FrameDecoder(100)
    lines.feed(b"<13>no newline at the end")
    assert lines.finish() == b"<13>no newline at the end"
    counted = FrameDecoder(100)
    counted.feed(b"50 <13>only part")
    with pytest.raises(FrameError):
        counted.finish()


# ---- the shipped vendor rules --------------------------------------------------------------


def shipped_samples() -> list[tuple[str, str, str, str, dict[str, str]]]:
    rows = []
    for path in BOOK.files:
        vendor_file = read_file(path)
        for rule in vendor_file.rules:
            for sample in rule.samples:
                rows.append(
                    (vendor_file.vendor, rule.id, sample.origin, sample.text, sample.labels)
                )
    return rows


SAMPLES = shipped_samples()


@pytest.mark.parametrize(
    ("vendor", "rule", "origin", "text", "labels"),
    SAMPLES,
    ids=[f"{row[0]}:{row[1]}:{i}" for i, row in enumerate(SAMPLES)],
)
def test_each_vendor_sample_is_recognised_by_its_rule(
    vendor: str, rule: str, origin: str, text: str, labels: dict[str, str]
) -> None:
    event = event_for(text)
    assert (event.labels["vendor"], event.labels["rule"]) == (vendor, rule)
    assert {k: event.labels.get(k) for k in labels} == labels


def test_every_vendor_file_has_vpn_attack_and_login_rules() -> None:
    for path in BOOK.files:
        events = {rule.event for rule in read_file(path).rules}
        assert {"vpn-down", "vpn-up", "attack", "admin-login", "admin-login-failed"} <= events


def test_vpn_down_and_up_pair_by_key_and_carry_severity() -> None:
    down = event_for(
        '<189>logid="0101037138" type="event" action="tunnel-down" remip=198.51.100.7 '
        'vpntunnel="BR-0001 VPN HQ"'
    )
    up = event_for(
        '<189>logid="0101037138" type="event" action="tunnel-up" vpntunnel="BR-0001 VPN HQ"'
    )
    assert (down.name, down.status, down.severity) == ("vpn-down", "firing", 2)
    assert (up.name, up.status, up.severity) == ("vpn-up", "resolved", None)
    assert down.key == up.key == "vpn:BR-0001 VPN HQ"
    assert down.title == "VPN tunnel down: BR-0001 VPN HQ"


def test_huawei_line_in_gbk_matches_its_rule() -> None:
    line = (
        "<189>2024-05-01 09:11:00 分支防火墙 %%01SHELL/5/CMDRECORD(s):Recorded command "
        'information. (Task=VT0, Ip=192.0.2.10, VpnName=, User=管理员, Command="save")'
    )
    event = event_for(line.encode("gb18030"))
    assert event.name == "config-change"
    assert event.labels["user"] == "管理员"


# ---- rule files written by operators --------------------------------------------------------


def write_rule(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def test_an_operator_file_adds_rules_without_code(tmp_path: Path) -> None:
    write_rule(
        tmp_path,
        "acme.yaml",
        "vendor: acme\n"
        "rules:\n"
        "  - id: tunnel-lost\n"
        "    event: vpn-down\n"
        "    severity: 1\n"
        "    pattern: 'ACME tunnel (?P<tunnel>\\S+) lost'\n",
    )
    book = load_rules(tmp_path)
    event = classify(parse(b"<11>ACME tunnel T7 lost"), "192.0.2.9", 0.0, book)
    assert (event.name, event.severity, event.key) == ("vpn-down", 1, "vpn:T7")


def test_an_operator_file_replaces_the_shipped_one_of_the_same_name(tmp_path: Path) -> None:
    write_rule(tmp_path, "sangfor.yaml", "vendor: sangfor\nrules: []\n")
    book = load_rules(tmp_path)
    assert not any(rule.outcome.vendor == "sangfor" for rule in book.syslog)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("vendor: x\nrules:\n  - id: bad\n    event: vpn-down\n    pattern: '(unclosed'\n",
         "rule 'bad': pattern does not compile"),
        ("vendor: x\nrules:\n  - id: k\n    event: vpn-down\n    pattern: 'a'\n"
         "    key: 'vpn:{tunnel}'\n", "rule 'k': key uses labels the rule never sets: tunnel"),
        ("vendor: x\nrules:\n  - id: s\n    event: message\n    status: firing\n"
         "    pattern: 'a'\n", "rule 's': a firing event needs a severity"),
        ("vendor: x\nrules:\n  - id: Bad Name\n    event: vpn-down\n    pattern: a\n",
         "kebab-case"),
        ("vendor: x\nrules: [\n", "not valid YAML"),
    ],
    ids=["regex", "key", "severity", "id", "yaml"],
)  # fmt: skip
def test_a_bad_rule_file_names_the_file_and_the_rule(
    tmp_path: Path, body: str, problem: str
) -> None:
    path = write_rule(tmp_path, "broken.yaml", body)
    with pytest.raises(ParseRuleError) as caught:
        load_rules(tmp_path)
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)
