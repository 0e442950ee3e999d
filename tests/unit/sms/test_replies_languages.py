"""SMS replies in any language: the policy's texts first, the catalogue's otherwise; Cyrillic is
UCS-2 (70 characters in one segment, 67 per segment when split) and is never transliterated."""

from __future__ import annotations

from sargs.domains.policy.loader import content_hash, parse_policy
from sargs.domains.sms.outbox import fit_one_segment
from sargs.domains.sms.replies import ReplyContext, render_reply
from sargs.domains.sms.segments import analyse
from tests.unit.policy.test_loader import BASE, FILE, problems_of

CONTEXT = ReplyContext(controller="LMT", number="29307777", keywords=("JAUNUMI", "AUTO"), keyword="JAUNUMI")
SMS = """\
sms:
  - number: "29307777"
    controller: acme
    language: ru
    replies:
      granted:
        lv: "{controller}: paldies, {keyword} saņemts"
        en: "{controller}: thanks, {keyword} received"
        ru: "{controller}: спасибо, {keyword} получено"
"""


def test_the_policys_russian_reply_is_used() -> None:
    (number,) = parse_policy(BASE + SMS, filename=FILE).sms
    assert number.language == "ru"
    assert (
        render_reply("granted", config=number, language="ru", context=CONTEXT)
        == "LMT: спасибо, JAUNUMI получено"
    )
    # a kind the policy does not override comes from the Russian catalogue
    assert render_reply("withdrawn", config=number, language="ru", context=CONTEXT).startswith(
        "LMT: согласие JAUNUMI отозвано."
    )


def test_a_language_the_policy_lacks_reads_english() -> None:
    (number,) = parse_policy(BASE + SMS, filename=FILE).sms
    assert (
        render_reply("granted", config=number, language="de", context=CONTEXT)
        == "LMT: thanks, JAUNUMI received"
    )


def test_a_policy_reply_with_an_unknown_field_in_russian_is_refused() -> None:
    bad = SMS.replace('ru: "{controller}: спасибо', 'ru: "{whom}: спасибо')
    assert any("replies.granted.ru uses unknown field(s) ['whom']" in str(p) for p in problems_of(BASE + bad))


def test_a_text_key_that_is_not_a_language_code_is_refused() -> None:
    bad = SMS.replace("        ru: ", "        Russian: ")
    assert any("not a language code" in str(p) for p in problems_of(BASE + bad))


def test_lv_and_en_texts_hash_as_before_and_a_russian_text_changes_the_hash() -> None:
    without_ru = SMS.replace('        ru: "{controller}: спасибо, {keyword} получено"\n', "")
    a = parse_policy(BASE + without_ru, filename=FILE)
    assert "ru" not in a.sms[0].replies["granted"].model_dump()  # dumps as it always did
    assert content_hash(a) != content_hash(parse_policy(BASE + SMS, filename=FILE))


def test_cyrillic_is_ucs2_seventy_in_one_segment_sixty_seven_when_split() -> None:
    assert (analyse("ж" * 70).encoding, analyse("ж" * 70).segments) == ("UCS-2", 1)
    assert analyse("ж" * 71).segments == 2
    assert analyse("ж" * 134).segments == 2 and analyse("ж" * 135).segments == 3


def test_russian_replies_keep_their_letters_and_count_ucs2_segments() -> None:
    (number,) = parse_policy(BASE + SMS.split("    replies:")[0], filename=FILE).sms
    for kind in ("granted", "withdrawn", "refused", "help", "stop_all", "start"):
        text = render_reply(kind, config=number, language="ru", context=CONTEXT)
        sent = fit_one_segment(text)
        assert sent == text  # Cyrillic has no GSM-7 form: never garbled to '?'
        info = analyse(sent)
        assert info.encoding == "UCS-2" and info.per_segment == (70 if info.segments == 1 else 67)
        assert info.units == len(text) and info.segments == -(-len(text) // info.per_segment)
