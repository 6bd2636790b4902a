from __future__ import annotations

import unicodedata

import pytest

from server.errors import InvalidName
from server.text import BIDI_FORMATTING, clean_name


def test_names_are_stored_in_nfc() -> None:
    assert clean_name("Cafe\u0301", "name") == "Caf\u00e9"
    assert clean_name("Ma\u0308rt Tamm", "name") == "M\u00e4rt Tamm"
    assert clean_name("Ana-Maria O'Neil", "name") == "Ana-Maria O'Neil"


def test_right_to_left_scripts_need_no_formatting_characters_and_are_accepted() -> None:
    assert clean_name("\u05d3\u05d5\u05d3 \u05db\u05d4\u05df", "name") == "\u05d3\u05d5\u05d3 \u05db\u05d4\u05df"
    assert clean_name("\u0645\u062d\u0645\u062f (Tartu)", "name") == "\u0645\u062d\u0645\u062f (Tartu)"


@pytest.mark.parametrize("ch", sorted(BIDI_FORMATTING))
def test_every_bidirectional_formatting_character_is_refused(ch: str) -> None:
    with pytest.raises(InvalidName) as err:
        clean_name(f"Officer{ch}Smith", "display_name")
    assert err.value.message.startswith("display_name: ") and f"U+{ord(ch):04X}" in err.value.message
    assert err.value.status == 400 and err.value.code == "invalid_name"


def test_the_bidi_set_is_exactly_the_documented_one() -> None:
    expected = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
    assert {ord(c) for c in BIDI_FORMATTING} == expected


@pytest.mark.parametrize("ch", ["\x00", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\u2028", "\u2029"])
def test_control_characters_and_line_breaks_are_refused(ch: str) -> None:
    with pytest.raises(InvalidName, match="name: a name is one line"):
        clean_name(f"a{ch}b", "name")


def test_every_cc_character_is_refused() -> None:
    for cp in range(0x110000):
        if unicodedata.category(chr(cp)) == "Cc":
            with pytest.raises(InvalidName):
                clean_name(chr(cp), "name")


def test_a_name_longer_than_allowed_once_normalised_is_refused() -> None:
    grows = "\u0958"  # DEVANAGARI LETTER QA: NFC decomposes it into two code points
    assert len(unicodedata.normalize("NFC", grows)) == 2
    assert clean_name(grows * 3, "name", max_length=6) == unicodedata.normalize("NFC", grows * 3)
    with pytest.raises(InvalidName, match="at most 5"):
        clean_name(grows * 3, "name", max_length=5)
