"""Every user-visible string comes from a catalog, and all catalogs say the same things."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.support import CLIENT_WEB, Phone

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def js_modules() -> list[Path]:
    return sorted(CLIENT_WEB.rglob("*.js"))


def strip_comments(source: str) -> str:
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    return re.sub(r"(^|[^:\\])//.*$", r"\1", source, flags=re.M)


def string_literals(source: str) -> list[tuple[int, str]]:
    literal = re.compile(r'"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\'|`((?:[^`\\]|\\.)*)`', re.S)
    found = []
    for match in literal.finditer(source):
        text = next(g for g in match.groups() if g is not None)
        line = source.count("\n", 0, match.start()) + 1
        found.append((line, re.sub(r"\$\{[^}]*\}", " ", text)))
    return found


def test_catalogs_have_identical_keys(catalogs: dict[str, dict[str, str]]) -> None:
    english = set(catalogs["en"])
    for lang, catalog in catalogs.items():
        assert set(catalog) == english, (
            f"{lang}: missing {sorted(english - set(catalog))}, extra {sorted(set(catalog) - english)}")


def test_catalog_entries_are_translated_text_with_the_same_placeholders(
        catalogs: dict[str, dict[str, str]]) -> None:
    for lang, catalog in catalogs.items():
        for key, text in catalog.items():
            assert isinstance(text, str), f"{lang}:{key} is not a string"
            assert text.strip(), f"{lang}:{key} is empty"
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(catalogs["en"][key])), (
                f"{lang}:{key} placeholders differ from English")
    for lang in ("fi", "et", "ro"):
        same = [k for k, v in catalogs[lang].items()
                if v == catalogs["en"][k] and len(re.findall(r"[A-Za-z]{2,}", PLACEHOLDER.sub("", v))) > 1]
        assert not same, f"{lang} has untranslated English sentences: {same}"


def test_every_key_the_modules_use_exists(catalogs: dict[str, dict[str, str]]) -> None:
    used = set()
    for path in js_modules():
        used |= set(re.findall(r'\bt\(\s*"([\w.]+)"', path.read_text(encoding="utf-8")))
    assert used, "no t(...) calls found; has the i18n helper been renamed?"
    assert not used - set(catalogs["en"]), f"keys missing from catalogs: {sorted(used - set(catalogs['en']))}"


def test_no_hard_coded_english_in_modules(catalogs: dict[str, dict[str, str]]) -> None:
    """Heuristic: no string literal reads like prose, and no catalog sentence is pasted in."""
    prose = re.compile(r"[A-Za-z]{2,}[,.]?\s+[A-Za-z]{2,}|^\s*[A-Z][a-z]{2,}[.!?…]?\s*$")
    allowed = {"Accept", "Content-Type", "X-CSRF-Token", "ApiError"}
    css_classes = re.compile(r"^[a-z0-9_ -]+$")
    problems = []
    for path in js_modules():
        source = strip_comments(path.read_text(encoding="utf-8"))
        lines = source.splitlines()
        for line_no, text in string_literals(source):
            line = lines[line_no - 1]
            if text in allowed or "console." in line or "new Error(" in line:
                continue  # developer diagnostics, never shown to the person using Tandem
            if "class" in line and css_classes.match(text):
                continue
            if prose.search(text):
                problems.append(f"{path.relative_to(CLIENT_WEB)}:{line_no}: {text!r}")
        for key, sentence in catalogs["en"].items():
            if " " in sentence and len(sentence) > 8 and sentence in source:
                problems.append(f"{path.relative_to(CLIENT_WEB)}: catalog text of {key} hard-coded")
    assert not problems, "hard-coded user-visible text:\n" + "\n".join(problems)


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["fi", "et", "ro"])
def test_language_switcher_translates_login(phone: Phone, lang: str) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    phone.open_login()
    phone.page.locator("#username").fill("officer")
    phone.page.get_by_label(phone.t("lang.label", lang="en")).select_option(lang)
    expect(phone.page.locator("html")).to_have_attribute("lang", lang)
    expect(phone.page.locator("h1")).to_have_text(phone.t("login.title", lang=lang))
    expect(phone.page.locator("label[for=password]")).to_have_text(phone.t("login.password", lang=lang))
    expect(phone.page.locator("#username")).to_have_value("officer")  # typing survives the switch
    expect(phone.page.locator("#lang-select")).to_be_focused()
    phone.page.reload()  # the choice is remembered on this device
    expect(phone.page.locator("h1")).to_have_text(phone.t("login.title", lang=lang))


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["fi", "et", "ro"])
def test_language_switcher_translates_landing_page(phone: Phone, lang: str) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    phone.login("officer")
    phone.page.locator("#lang-select").select_option(lang)
    expect(phone.page.locator("html")).to_have_attribute("lang", lang)
    expect(phone.page.locator("h1")).to_have_text(phone.t("officer.title", lang=lang))
    phone.settled()
    expect(phone.page.locator("#logout")).to_have_text(phone.t("action.logout", lang=lang))
    expect(phone.page.locator("[data-remote=refused][data-rule-id=face_to_face_first] .status").first).to_have_text(
        phone.t("remote.not_allowed.staff", lang=lang))
