import pytest

from sargs.domains.sms.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SegmentInfo,
    analyse,
    fit_one_segment,
    is_gsm7,
    to_gsm7,
)

LATVIAN = "Paldies! Jūs esat pierakstījies jaunumu saņemšanai. Lai atteiktos, sūtiet JAUNUMI STOP uz 1800."
LATVIAN_PLAIN = (
    "Paldies! Jus esat pierakstijies jaunumu sanemsanai. Lai atteiktos, sutiet JAUNUMI STOP uz 1800."
)


# --- the alphabet -------------------------------------------------------------------------------


def test_the_default_alphabet_has_127_characters_besides_the_escape() -> None:
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION
    assert set("\f^{}\\[~]|€") == GSM7_EXTENSION
    assert set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà") < GSM7_BASIC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Hello, world!",
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ",
        " !\"#¤%&'()*+,-./0123456789:;<=>?",
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
        "^{}\\[~]|€\f",
        LATVIAN_PLAIN,
    ],
)
def test_gsm7_text_is_recognised(text: str) -> None:
    assert is_gsm7(text)


@pytest.mark.parametrize(
    "text",
    [
        "ā",
        "č",
        "Š",
        "ç",
        "á",
        "Ê",
        "`",
        "’",
        "“",
        "–",
        "…",
        "\t",
        "\u00a0",
        "\u200b",
        "😀",
        "ж",
        "α",
        "中",
        LATVIAN,
    ],
)
def test_anything_outside_the_alphabet_is_not_gsm7(text: str) -> None:
    assert not is_gsm7(text)


# --- counting -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SegmentInfo("GSM-7", 0, 1, 160)),
        ("a", SegmentInfo("GSM-7", 1, 1, 160)),
        ("a" * 160, SegmentInfo("GSM-7", 160, 1, 160)),
        ("a" * 161, SegmentInfo("GSM-7", 161, 2, 153)),
        ("a" * 306, SegmentInfo("GSM-7", 306, 2, 153)),
        ("a" * 307, SegmentInfo("GSM-7", 307, 3, 153)),
        ("a" * 459, SegmentInfo("GSM-7", 459, 3, 153)),
        ("a" * 460, SegmentInfo("GSM-7", 460, 4, 153)),
        ("\n" * 160, SegmentInfo("GSM-7", 160, 1, 160)),
        ("ΔΦΓ", SegmentInfo("GSM-7", 3, 1, 160)),
        # extension characters are two septets
        ("€", SegmentInfo("GSM-7", 2, 1, 160)),
        ("€" * 80, SegmentInfo("GSM-7", 160, 1, 160)),
        ("€" * 80 + "a", SegmentInfo("GSM-7", 161, 2, 153)),
        ("a" * 158 + "€", SegmentInfo("GSM-7", 160, 1, 160)),
        ("a" * 159 + "€", SegmentInfo("GSM-7", 161, 2, 153)),
        ("a" * 159 + "[", SegmentInfo("GSM-7", 161, 2, 153)),
        # an escape pair is never split: ending segment one exactly, or pushed into segment two
        ("a" * 151 + "€" + "a" * 153, SegmentInfo("GSM-7", 306, 2, 153)),
        ("a" * 152 + "€" + "a" * 152, SegmentInfo("GSM-7", 306, 3, 153)),
        ("a" * 152 + "€" + "a" * 151, SegmentInfo("GSM-7", 305, 2, 153)),
        # one character outside GSM-7 makes the whole text UCS-2
        ("a" * 69 + "ā", SegmentInfo("UCS-2", 70, 1, 70)),
        ("a" * 70 + "ā", SegmentInfo("UCS-2", 71, 2, 67)),
        ("ā" * 70, SegmentInfo("UCS-2", 70, 1, 70)),
        ("ā" * 71, SegmentInfo("UCS-2", 71, 2, 67)),
        ("ā" * 134, SegmentInfo("UCS-2", 134, 2, 67)),
        ("ā" * 135, SegmentInfo("UCS-2", 135, 3, 67)),
        ("€" * 69 + "ā", SegmentInfo("UCS-2", 70, 1, 70)),  # € is one unit in UCS-2
        ("a" * 159 + "ā", SegmentInfo("UCS-2", 160, 3, 67)),
        # characters outside the BMP are surrogate pairs: two units, never split
        ("😀", SegmentInfo("UCS-2", 2, 1, 70)),
        ("😀" * 35, SegmentInfo("UCS-2", 70, 1, 70)),
        ("😀" * 35 + "a", SegmentInfo("UCS-2", 71, 2, 67)),
        ("a" * 65 + "😀" + "a" * 67, SegmentInfo("UCS-2", 134, 2, 67)),
        ("a" * 66 + "😀" + "a" * 66, SegmentInfo("UCS-2", 134, 3, 67)),
        (LATVIAN, SegmentInfo("UCS-2", 95, 2, 67)),
        (LATVIAN_PLAIN, SegmentInfo("GSM-7", 95, 1, 160)),
    ],
)
def test_analyse_counts_units_and_segments(text: str, expected: SegmentInfo) -> None:
    assert analyse(text) == expected


def test_a_lone_surrogate_counts_as_one_ucs2_unit() -> None:
    assert analyse("\ud83d") == SegmentInfo("UCS-2", 1, 1, 70)


# --- transliteration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("āčēģīķļņšūž", "acegiklnsuz"),
        ("ĀČĒĢĪĶĻŅŠŪŽ", "ACEGIKLNSUZ"),
        ("Sveiki, Jānis Bērziņš!", "Sveiki, Janis Berzins!"),
        ("sadarbi\u0304ba", "sadarbiba"),  # decomposed input: the stray mark is dropped
        ("“Labdien”", '"Labdien"'),
        ("„Labdien“", '"Labdien"'),
        ("«Labdien»", '"Labdien"'),
        ("‘x’ it’s", "'x' it's"),
        ("`tick´", "'tick'"),
        ("a – b — c ‑ d − e", "a - b - c - d - e"),
        ("Gaidiet…", "Gaidiet..."),
        ("a\tb\u00a0c\u202fd", "a b c d"),
        ("a\u200bb\u200dc\ufeffd\u00ade", "abcde"),  # invisible format characters go
        ("• punkts", "* punkts"),
        ("Œuvre Łódź đak", "OEuvre Lodz dak"),
        ("ﬁne ™ ²", "fine TM 2"),
        ("½", "1?2"),
        ("ç á ô Ê", "c a o E"),
        ("é è à ä ö ñ ü Å å Ø ß Ç É Æ", "é è à ä ö ñ ü Å å Ø ß Ç É Æ"),  # in GSM-7: kept as they are
        ("€5 [x] {y} ^ ~ | \\", "€5 [x] {y} ^ ~ | \\"),
        ("Sveiki 😀", "Sveiki ?"),
        ("👍🏽", "??"),  # emoji and skin-tone modifier
        ("❤️", "?"),  # heart and variation selector
        ("Привет", "??????"),
        ("中文", "??"),
    ],
)
def test_to_gsm7_transliterates_and_replaces_the_rest(text: str, expected: str) -> None:
    assert to_gsm7(text) == expected
    assert is_gsm7(to_gsm7(text))
    assert to_gsm7(to_gsm7(text)) == to_gsm7(text)


# --- one segment --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Paldies!", "Paldies!"),
        ("a" * 160, "a" * 160),
        ("Paldies, Jāni!", "Paldies, Jāni!"),  # UCS-2 but one segment: kept with its diacritics
        ("ā" * 70, "ā" * 70),
        (LATVIAN, LATVIAN_PLAIN),  # two UCS-2 segments, one GSM-7 segment
        ("ā" * 160, "a" * 160),
        ("“Labdien” – " + "a" * 140, '"Labdien" - ' + "a" * 140),
        ("a" * 161, "a" * 161),  # too long either way: unchanged
        ("ā" * 161, "ā" * 161),
        ("ā" * 159 + "€", "ā" * 159 + "€"),  # transliterated it would be 161 septets
        # transliteration that would turn characters into '?' is not used
        ("😀" * 36, "😀" * 36),
        ("Paldies, Иван! " + "a" * 60, "Paldies, Иван! " + "a" * 60),
        ("½ " + "ā" * 80, "½ " + "ā" * 80),
        ("Kāpēc? " + "ā" * 80, "Kapec? " + "a" * 80),  # a question mark of its own is no loss
    ],
)
def test_fit_one_segment_transliterates_only_when_that_makes_it_fit(text: str, expected: str) -> None:
    assert fit_one_segment(text) == expected


def test_the_latvian_reply_fits_one_segment_only_after_transliteration() -> None:
    assert analyse(LATVIAN).segments == 2
    assert analyse(fit_one_segment(LATVIAN)) == SegmentInfo("GSM-7", 95, 1, 160)
