"""Tests for mamori.devices (user-agent parsing)."""

from __future__ import annotations

import dataclasses
import random
import string
import time

import pytest

from mamori.devices import MAX_USER_AGENT_LENGTH, ClientInfo, parse_user_agent, warm_up

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36"
)
SAFARI_IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (CHROME_WINDOWS, ClientInfo("Chrome", "131.0", "Windows", "10", "desktop")),
        (SAFARI_IPHONE, ClientInfo("Mobile Safari", "17.5", "iOS", "17.5", "mobile")),
        (CHROME_ANDROID_PHONE, ClientInfo("Chrome Mobile", "131.0", "Android", "14", "mobile")),
        (SAFARI_IPAD, ClientInfo("Mobile Safari", "17.5", "iOS", "17.5", "tablet")),
        (FIREFOX_LINUX, ClientInfo("Firefox", "133.0", "Linux", "", "desktop")),
        (GOOGLEBOT, ClientInfo("Googlebot", "2.1", "Other", "", "bot")),
    ],
)
def test_common_clients(ua: str, expected: ClientInfo) -> None:
    assert parse_user_agent(ua) == expected


@pytest.mark.parametrize(
    ("ua", "device_type"),
    [
        # Samsung tablet: matched as Samsung, no "Mobile" token
        (
            "Mozilla/5.0 (Linux; Android 12; SM-T870 Build/SP1A.210812.016) AppleWebKit/537.36"
            " (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "tablet",
        ),
        # Chrome's reduced UA on an Android tablet
        (
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko)"
            " Chrome/131.0.0.0 Safari/537.36",
            "tablet",
        ),
        # ... and on an Android phone
        (
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko)"
            " Chrome/131.0.0.0 Mobile Safari/537.36",
            "mobile",
        ),
        ("Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", "mobile"),
        ("Mozilla/5.0 (Android 14; Tablet; rv:133.0) Gecko/133.0 Firefox/133.0", "tablet"),
        ("Dalvik/2.1.0 (Linux; U; Android 11; SM-A515F Build/RP1A.200720.012)", "mobile"),
        (
            "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko)"
            " Silk/131.3.1 like Chrome/131.0.0.0 Safari/537.36",
            "tablet",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36"
            " (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "desktop",
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko)"
            " Chrome/131.0.0.0 Safari/537.36",
            "desktop",
        ),
        (
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "desktop",
        ),
        (
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36"
            " (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36"
            " (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "bot",
        ),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bot"),
        ("curl/8.5.0", "other"),
        ("python-requests/2.32.3", "other"),
        (
            "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15"
            " (KHTML, like Gecko) Version/13.0 Safari/605.1.15",
            "other",
        ),
    ],
)
def test_device_type(ua: str, device_type: str) -> None:
    assert parse_user_agent(ua).device_type == device_type


def test_labels() -> None:
    chrome = parse_user_agent(CHROME_WINDOWS)
    assert (chrome.browser_label, chrome.os_label) == ("Chrome 131", "Windows 10")
    iphone = parse_user_agent(SAFARI_IPHONE)
    assert (iphone.browser_label, iphone.os_label) == ("Mobile Safari 17", "iOS 17.5")
    firefox = parse_user_agent(FIREFOX_LINUX)
    assert firefox.os_label == "Linux"
    assert ClientInfo().browser_label == "Other"
    assert ClientInfo().os_label == "Other"


@pytest.mark.parametrize("ua", ["", "   ", "\x00", "-", "Mozilla/5.0"])
def test_empty_or_meaningless(ua: str) -> None:
    info = parse_user_agent(ua)
    assert (info.browser, info.os, info.device_type) == ("Other", "Other", "other")


def test_empty_is_the_default() -> None:
    assert parse_user_agent("") == ClientInfo(
        browser="Other", browser_version="", os="Other", os_version="", device_type="other"
    )


def test_huge_garbage_is_fast_and_safe() -> None:
    warm_up()
    rng = random.Random(7)
    garbage = "".join(rng.choice(string.printable) for _ in range(10_000))
    start = time.perf_counter()
    info = parse_user_agent(garbage)
    assert time.perf_counter() - start < 0.5
    assert isinstance(info, ClientInfo)
    # Cut before parsing, so only the first MAX_USER_AGENT_LENGTH characters count.
    assert parse_user_agent(garbage) == parse_user_agent(garbage.strip()[:MAX_USER_AGENT_LENGTH])


def test_truncation_keeps_the_front() -> None:
    assert parse_user_agent(CHROME_WINDOWS + "x" * 20_000) == parse_user_agent(CHROME_WINDOWS)


@pytest.mark.parametrize("ua", ["\ud800Mozilla", "Mozilla/5.0 \udcff", "日本語のUA", "\xff\xfe"])
def test_odd_characters_do_not_raise(ua: str) -> None:
    assert isinstance(parse_user_agent(ua), ClientInfo)


def test_client_info_is_frozen() -> None:
    info = parse_user_agent(CHROME_WINDOWS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.browser = "Firefox"  # type: ignore[misc]
