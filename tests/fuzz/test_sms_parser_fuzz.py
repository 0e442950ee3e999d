"""Property-based fuzzing of the SMS keyword parser and the segment counter (issue 8, hostile input).

Anyone can text the short number anything: the parser must never raise, must only ever answer
with one of its five commands, and must read a valid command the same however it is typed
(case, Latvian or other diacritics, punctuation, emoji and whitespace around the words). The
segment counter must cope with any text and never make a reply cost more.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sargs.bootstrap import example_policy_paths
from sargs.domains.policy.loader import load_policy
from sargs.domains.sms.keywords import (
    HELP_WORDS,
    MAX_NORMALISED_LENGTH,
    START_WORDS,
    STOP_WORDS,
    Command,
    KeywordParser,
    normalise,
)
from sargs.domains.sms.segments import (
    GSM7_MULTI,
    GSM7_SINGLE,
    UCS2_MULTI,
    UCS2_SINGLE,
    analyse,
    fit_one_segment,
    is_gsm7,
    to_gsm7,
)

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None)
FEW = settings(max_examples=60, deadline=None, derandomize=True, database=None)

TELECOM = load_policy(next(p for p in example_policy_paths() if p.name == "telecom.yaml"))
KEYWORDS = tuple(p.sms_keyword for p in TELECOM.purposes if p.sms_keyword)
assert KEYWORDS == ("JAUNUMI", "METADATI", "AUTO", "VIETA", "SADARBIBA"), KEYWORDS
PARSER = KeywordParser(KEYWORDS)

KINDS = {"grant", "withdraw", "stop_all", "start", "help"}
HELP_REASONS = {"help", "empty", "unknown", "ambiguous"}

# --- hostile text ---------------------------------------------------------------------------

# Any code point but surrogates (which cannot be encoded, so never arrive in a decoded body).
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)
CONTROL = st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs"])
RTL = st.sampled_from(["\u200f", "\u202b", "\u202e", "\u2067", "\u061c", "مرحبا", "שלום"])
EMOJI = st.sampled_from(["😀", "👍🏽", "👨‍👩‍👧", "🇱🇻", "❤️", "\U0001fae0", "*️⃣"])
WORDS = st.sampled_from([*KEYWORDS, *STOP_WORDS, *START_WORDS, *HELP_WORDS, "STPO", "METADTI", "VIETE"])
PIECES = st.one_of(ANY_TEXT, CONTROL, RTL, EMOJI, WORDS, st.sampled_from(["ā", "Š", "ß", "Æ", "ǣ", "\u0345"]))
MIXED = st.lists(PIECES, max_size=12).map("".join)
HUGE = st.tuples(st.text(min_size=1, max_size=20), st.integers(1, 5000)).map(lambda t: t[0] * t[1])
HOSTILE = st.one_of(ANY_TEXT, MIXED, HUGE)


def _valid(command: Command) -> bool:
    if command.kind in ("grant", "withdraw"):
        return command.keyword in KEYWORDS and command.reason is None
    if command.kind == "help":
        return command.keyword is None and command.reason in HELP_REASONS and not command.corrected
    return command.keyword is None and command.reason is None and not command.corrected


@FUZZ
@given(HOSTILE)
@example("")
@example("\x00" * 2000)
@example("JAUNUMI" + "\u0301" * 1600)
@example("ǣ" * 161)
def test_parser_answers_any_text_with_a_known_command(text: str) -> None:
    command = PARSER.parse(text)
    assert command.kind in KINDS
    assert _valid(command), command


@FUZZ
@given(HOSTILE)
@example("AǢB")  # Ǣ is folded to Æ, which only a second pass folded to AE
@example("ǽ ǿ")
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


@FUZZ
@given(HOSTILE)
def test_normalised_text_is_single_spaced_upper_case_words(text: str) -> None:
    normalised = normalise(text)
    if normalised:
        assert all(word.isalnum() and word == word.upper() for word in normalised.split(" "))


# --- the same command, however it is typed ---------------------------------------------------

LATVIAN = {
    "A": "Āā",
    "C": "Čč",
    "E": "Ēē",
    "G": "Ģģ",
    "I": "Īī",
    "K": "Ķķ",
    "L": "Ļļ",
    "N": "Ņņ",
    "S": "Šš",
    "U": "Ūū",
    "Z": "Žž",
}
MARKS = st.characters(min_codepoint=0x300, max_codepoint=0x36F)  # combining diacritical marks
SEPARATORS = st.lists(
    st.sampled_from(
        [
            " ",
            "  ",
            "\t",
            "\n",
            "\r\n",
            "\u00a0",
            "\u3000",
            ".",
            ",",
            "!",
            "?",
            "-",
            "*",
            "…",
            "“",
            "😀",
            "🇱🇻",
        ]
    ),
    min_size=1,
    max_size=4,
).map("".join)
EDGES = st.one_of(st.just(""), SEPARATORS)


@st.composite
def typed(draw: st.DrawFn, word: str) -> str:
    """`word` as a person might type it: any case, diacritics, full-width letters."""
    out = []
    for letter in word:
        how = draw(st.sampled_from(["upper", "lower", "latvian", "mark", "fullwidth"]))
        if how == "lower":
            out.append(letter.lower())
        elif how == "latvian" and letter in LATVIAN:
            out.append(draw(st.sampled_from(LATVIAN[letter])))
        elif how == "mark":
            out.append(draw(st.sampled_from([letter, letter.lower()])) + draw(MARKS))
        elif how == "fullwidth" and letter.isalpha():
            out.append(chr(ord(letter) - ord("A") + ord("Ａ")))
        else:
            out.append(letter)
    return "".join(out)


@st.composite
def commands(draw: st.DrawFn) -> tuple[str, Command]:
    """A valid command for one keyword, in one of its forms, typed in any of the ways above."""
    keyword = draw(st.sampled_from(KEYWORDS))
    form = draw(st.sampled_from(["grant", "keyword stop", "stop keyword", "glued"]))
    if form == "grant":
        words, expected = [draw(typed(keyword))], Command("grant", keyword)
    elif form == "glued":
        words, expected = [draw(typed(keyword + "STOP"))], Command("withdraw", keyword)
    else:
        pair = [draw(typed(keyword)), draw(typed("STOP"))]
        words, expected = pair if form == "keyword stop" else pair[::-1], Command("withdraw", keyword)
    text = draw(EDGES) + draw(SEPARATORS).join(words) + draw(EDGES)
    return text, expected


@FUZZ
@given(commands())
@example(("Sadarbība!", Command("grant", "SADARBIBA")))
@example((" jaunumi\u00a0stop ", Command("withdraw", "JAUNUMI")))
@example(("ＡＵＴＯ", Command("grant", "AUTO")))
@example(("J\u0345AUNUMI", Command("grant", "JAUNUMI")))  # a Greek iota subscript is a mark too
def test_case_diacritics_punctuation_and_spacing_do_not_change_the_command(
    typed_command: tuple[str, Command],
) -> None:
    text, expected = typed_command
    assert PARSER.parse(text) == expected, (text, normalise(text))


@FEW
@given(commands(), st.sampled_from(KEYWORDS))
def test_a_command_with_another_keyword_after_it_is_only_help(
    typed_command: tuple[str, Command], other: str
) -> None:
    text, _ = typed_command
    assert PARSER.parse(f"{text} {other}").kind == "help"


@FEW
@given(st.text(min_size=MAX_NORMALISED_LENGTH + 1, max_size=400, alphabet="JAUNUMI STOP"))
def test_long_bodies_are_unknown(text: str) -> None:
    if len(normalise(text)) > MAX_NORMALISED_LENGTH:
        assert PARSER.parse(text) == Command("help", reason="unknown")


# --- segments -------------------------------------------------------------------------------

REPLY_LIKE = st.lists(
    st.one_of(
        st.text(
            alphabet="LMT: paldies, piekrišana JAUNUMI saņemta. Lai atsauktu, sūti STOP uz 29307777",
            max_size=40,
        ),
        st.sampled_from(
            ["€", "[", "]", "{", "}", "\\", "^", "~", "|", "\f", "…", "“", "”", "–", "\u200b", "😀", "ā", "ß"]
        ),
    ),
    max_size=30,
).map("".join)
SEGMENT_TEXT = st.one_of(ANY_TEXT, MIXED, REPLY_LIKE, HUGE)


@FUZZ
@given(SEGMENT_TEXT)
@example("")
@example("€" * 81)  # 162 septets: two segments, each escape pair kept whole
@example("😀" * 35)  # 70 UTF-16 units
def test_analyse_counts_any_text(text: str) -> None:
    info = analyse(text)
    assert info.segments >= 1
    assert info.encoding in ("GSM-7", "UCS-2")
    assert info.units >= len(text)
    single, multi = (GSM7_SINGLE, GSM7_MULTI) if info.encoding == "GSM-7" else (UCS2_SINGLE, UCS2_MULTI)
    if info.units <= single:
        assert (info.segments, info.per_segment) == (1, single)
    else:
        assert info.per_segment == multi
        # a 2-unit character never straddles two segments, so each holds `multi - 1` units or more
        assert -(-info.units // multi) <= info.segments <= -(-info.units // (multi - 1))
    assert (info.encoding == "GSM-7") == is_gsm7(text)


@FUZZ
@given(SEGMENT_TEXT)
@example("ǅ Œ ł đ “quoted” – ‘x’ … • \u200b\u00ad\t😀")
def test_to_gsm7_output_is_always_gsm7(text: str) -> None:
    plain = to_gsm7(text)
    assert is_gsm7(plain)
    assert analyse(plain).encoding == "GSM-7"
    if is_gsm7(text):
        assert plain == text


@FUZZ
@given(SEGMENT_TEXT)
@example("LMT: paldies, piekrišana JAUNUMI saņemta. Lai atsauktu, sūti JAUNUMI STOP uz 29307777")
def test_fit_one_segment_never_makes_a_text_cost_more(text: str) -> None:
    fitted = fit_one_segment(text)
    assert fitted in (text, to_gsm7(text))
    assert analyse(fitted).segments <= analyse(text).segments
    if fitted != text:
        assert analyse(fitted).segments == 1
        assert "?" not in fitted or "?" in text
