import random
from collections.abc import Callable

import pytest

from sargs.domains.sms.keywords import (
    HELP_WORDS,
    MAX_TEXT_LENGTH,
    START_WORDS,
    STOP_WORDS,
    Command,
    KeywordParser,
    normalise,
)

POLICY_KEYWORDS = ("JAUNUMI", "METADATI", "AUTO", "VIETA", "SADARBIBA")


@pytest.fixture(scope="module")
def parser() -> KeywordParser:
    return KeywordParser(POLICY_KEYWORDS)


def grant(keyword: str, *, corrected: bool = False) -> Command:
    return Command("grant", keyword, corrected=corrected)


def withdraw(keyword: str, *, corrected: bool = False) -> Command:
    return Command("withdraw", keyword, corrected=corrected)


EMPTY = Command("help", reason="empty")
UNKNOWN = Command("help", reason="unknown")
AMBIGUOUS = Command("help", reason="ambiguous")
HELP = Command("help", reason="help")


# --- normalise ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jaunumi", "JAUNUMI"),
        ("  Jaunumi  ", "JAUNUMI"),
        ("jaunumi   stop", "JAUNUMI STOP"),
        ("sadarbība", "SADARBIBA"),
        ("SADARBĪBA", "SADARBIBA"),
        ("āčēģīķļņšūž ĀČĒĢĪĶĻŅŠŪŽ", "ACEGIKLNSUZ ACEGIKLNSUZ"),
        ("sadarbi\u0304ba", "SADARBIBA"),  # decomposed: i + combining macron
        ("JAUNUMI!", "JAUNUMI"),
        ("„Jaunumi”.", "JAUNUMI"),
        ("jaunumi-stop", "JAUNUMI STOP"),
        ("jaunumi...stop", "JAUNUMI STOP"),
        ("jaunumi\nstop", "JAUNUMI STOP"),
        ("jaunumi\r\n\tstop", "JAUNUMI STOP"),
        ("jaunumi\u00a0stop", "JAUNUMI STOP"),
        ("jaunumi\u200bstop", "JAUNUMI STOP"),
        ("\ufeffjaunumi\u200d", "JAUNUMI"),
        ("👍 jaunumi 🙂", "JAUNUMI"),
        ("ＪＡＵＮＵＭＩ", "JAUNUMI"),  # full-width
        ("ﬁ ﬀ", "FI FF"),  # ligatures
        ("straße Æsir Øre Łódź Đ þ ı", "STRASSE AESIR ORE LODZ D TH I"),
        ("Auto24", "AUTO24"),
        ("<b>x</b>", "B X B"),
        ("", ""),
        ("  \t\n ", ""),
        ("?!…", ""),
    ],
)
def test_normalise_folds_case_diacritics_punctuation_and_spacing(text: str, expected: str) -> None:
    assert normalise(text) == expected


# --- grant and withdraw, exact ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("JAUNUMI", grant("JAUNUMI")),
        ("jaunumi", grant("JAUNUMI")),
        ("Jaunumi", grant("JAUNUMI")),
        ("   jaunumi   ", grant("JAUNUMI")),
        ("\njaunumi\n", grant("JAUNUMI")),
        ("Jaunumi!", grant("JAUNUMI")),
        ('"Jaunumi"', grant("JAUNUMI")),
        ("jaunumi.", grant("JAUNUMI")),
        ("jaunumi 👍", grant("JAUNUMI")),
        ("metadati", grant("METADATI")),
        ("auto", grant("AUTO")),
        ("Vieta", grant("VIETA")),
        ("SADARBIBA", grant("SADARBIBA")),
        ("sadarbība", grant("SADARBIBA")),
        ("SADARBĪBA", grant("SADARBIBA")),
        ("Sadarbība!!", grant("SADARBIBA")),
    ],
)
def test_a_keyword_alone_grants_that_keyword(parser: KeywordParser, text: str, expected: Command) -> None:
    assert parser.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("JAUNUMI STOP", withdraw("JAUNUMI")),
        ("jaunumi stop", withdraw("JAUNUMI")),
        ("Jaunumi Stop", withdraw("JAUNUMI")),
        ("  jaunumi    stop  ", withdraw("JAUNUMI")),
        ("jaunumi\tstop", withdraw("JAUNUMI")),
        ("jaunumi\nstop", withdraw("JAUNUMI")),
        ("jaunumi-stop", withdraw("JAUNUMI")),
        ("jaunumi, stop!", withdraw("JAUNUMI")),
        ("JAUNUMISTOP", withdraw("JAUNUMI")),
        ("JaunumiStop", withdraw("JAUNUMI")),
        ("STOP JAUNUMI", withdraw("JAUNUMI")),
        ("stop jaunumi", withdraw("JAUNUMI")),
        ("sadarbība stop", withdraw("SADARBIBA")),
        ("SADARBĪBASTOP", withdraw("SADARBIBA")),
        ("stop sadarbība", withdraw("SADARBIBA")),
        ("AUTO STOP", withdraw("AUTO")),
        ("autostop", withdraw("AUTO")),
        ("METADATI STOP", withdraw("METADATI")),
        ("vieta stop", withdraw("VIETA")),
    ],
)
def test_keyword_with_stop_in_any_order_or_glued_withdraws(
    parser: KeywordParser, text: str, expected: Command
) -> None:
    assert parser.parse(text) == expected


# --- typos --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("JAUNAMI", "JAUNUMI"),  # substitution
        ("JAUNUMU", "JAUNUMI"),  # substitution, last letter
        ("XAUNUMI", "JAUNUMI"),  # substitution, first letter
        ("JAUNUMII", "JAUNUMI"),  # insertion
        ("JJAUNUMI", "JAUNUMI"),  # insertion, first
        ("JAUNMI", "JAUNUMI"),  # deletion
        ("AUNUMI", "JAUNUMI"),  # deletion, first
        ("JAUNUM", "JAUNUMI"),  # deletion, last
        ("JANUUMI", "JAUNUMI"),  # adjacent transposition
        ("AJUNUMI", "JAUNUMI"),  # transposition, first two
        ("JAUNUIM", "JAUNUMI"),  # transposition, last two
        ("jaunumu!", "JAUNUMI"),  # with case and punctuation
        ("sadarbiiba", "SADARBIBA"),
        ("sadarbīb", "SADARBIBA"),
        ("SADRABIBA", "SADARBIBA"),
        ("METADAT", "METADATI"),
        ("AUTA", "AUTO"),  # four letters: still corrected
        ("AUT", "AUTO"),
        ("AUTOS", "AUTO"),
        ("UATO", "AUTO"),
        ("VIETAS", "VIETA"),
        ("VEITA", "VIETA"),
    ],
)
def test_one_typo_in_a_keyword_grants_it_marked_corrected(
    parser: KeywordParser, text: str, keyword: str
) -> None:
    assert parser.parse(text) == grant(keyword, corrected=True)


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("JAUNUMI STPO", "JAUNUMI"),  # transposition in the withdraw word
        ("JAUNUMI SOTP", "JAUNUMI"),
        ("JAUNUMI STOOP", "JAUNUMI"),  # insertion
        ("JAUNUMI STP", "JAUNUMI"),  # deletion
        ("JAUNUMI STOPS", "JAUNUMI"),
        ("JAUNUMI SROP", "JAUNUMI"),  # substitution
        ("STPO JAUNUMI", "JAUNUMI"),  # swapped order, typo in stop
        ("JAUNUMU STOP", "JAUNUMI"),  # typo in the keyword
        ("STOP JANUUMI", "JAUNUMI"),
        ("JAUNUM STP", "JAUNUMI"),  # one typo in each word
        ("sadarbiba stpo", "SADARBIBA"),
        ("JAUNUMISTP", "JAUNUMI"),  # glued, typo in stop
        ("JAUNUMISOTP", "JAUNUMI"),
        ("JAUNUMISTOOP", "JAUNUMI"),
        ("JAUNUMSTOP", "JAUNUMI"),  # glued, typo in keyword
        ("JAUNUMUSTOP", "JAUNUMI"),
        ("JAUNUMSITOP", "JAUNUMI"),  # glued, transposition across the join
        ("AUTOSTP", "AUTO"),
        ("AUTSTOP", "AUTO"),
    ],
)
def test_one_typo_in_a_withdrawal_still_withdraws_marked_corrected(
    parser: KeywordParser, text: str, keyword: str
) -> None:
    assert parser.parse(text) == withdraw(keyword, corrected=True)


@pytest.mark.parametrize(
    "text",
    [
        "JANUMU",  # two typos
        "JUANUMU",
        "JAUNUMIII",
        "SADRABIB",
        "AUTOSS",
        "UAOT",
        "JAUNUMSTP",  # glued with two typos
        "JAUNUMSTOPP",
        "JAUNUMISTOPPP",
        "JAUNUMI STPPO",  # two typos in one word of the spaced form
        "JANUMU STPO",
        "JANUMU STOP",
    ],
)
def test_two_typos_are_not_corrected(parser: KeywordParser, text: str) -> None:
    assert parser.parse(text) == UNKNOWN


def test_an_exact_keyword_wins_over_a_keyword_one_typo_away() -> None:
    parser = KeywordParser(["VIETA", "VIETAS"])
    assert parser.parse("vietas") == grant("VIETAS")
    assert parser.parse("vieta") == grant("VIETA")
    assert parser.parse("vietas stop") == withdraw("VIETAS")
    assert parser.parse("vietastop") == withdraw("VIETA")
    assert parser.parse("vietasstop") == withdraw("VIETAS")


@pytest.mark.parametrize(
    "text",
    ["VIETE", "vieto", "VIET", "VIETAU", "VIETE STOP", "STOP VIETO", "VIETESTOP", "VIETSTOP"],
)
def test_a_typo_one_letter_from_two_keywords_is_ambiguous(text: str) -> None:
    parser = KeywordParser(["VIETA", "VIETU"])
    assert parser.parse(text) == AMBIGUOUS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("VIETA", grant("VIETA")),
        ("VIETU", grant("VIETU")),
        ("VIETAA", grant("VIETA", corrected=True)),  # two letters from VIETU
        ("VEITU", grant("VIETU", corrected=True)),
        ("VIETU STOP", withdraw("VIETU")),
        ("VIETASTPO", withdraw("VIETA", corrected=True)),
    ],
)
def test_similar_keywords_still_resolve_when_only_one_is_close(text: str, expected: Command) -> None:
    assert KeywordParser(["VIETA", "VIETU"]).parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STARTS", grant("STARTS")),  # exact keyword
        ("START", Command("start")),  # exact start word
        ("STARTX", AMBIGUOUS),  # one typo from both
        ("SRARTS", grant("STARTS", corrected=True)),  # two typos from START
    ],
)
def test_a_typo_between_a_keyword_and_a_reserved_word_is_ambiguous(text: str, expected: Command) -> None:
    assert KeywordParser(["STARTS"]).parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AB", grant("AB")),
        ("ab!", grant("AB")),
        ("XYZ", grant("XYZ")),
        ("AB STOP", withdraw("AB")),
        ("STOP XYZ", withdraw("XYZ")),
        ("ABSTOP", withdraw("AB")),
        ("AB STPO", withdraw("AB", corrected=True)),  # the long withdraw word may have a typo
        ("ABSTP", withdraw("AB", corrected=True)),
        ("XYZSOTP", withdraw("XYZ", corrected=True)),
        ("AC", UNKNOWN),  # a short keyword is never corrected
        ("BA", UNKNOWN),
        ("A", UNKNOWN),
        ("ABC", UNKNOWN),
        ("XY", UNKNOWN),
        ("XZY", UNKNOWN),
        ("AC STOP", UNKNOWN),
        ("ACSTOP", UNKNOWN),
        ("XYSTOP", UNKNOWN),
    ],
)
def test_keywords_of_two_or_three_letters_match_only_exactly(text: str, expected: Command) -> None:
    assert KeywordParser(["AB", "XYZ"]).parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("JAUNUMI NE", withdraw("JAUNUMI")),
        ("ne jaunumi", withdraw("JAUNUMI")),
        ("JAUNUMINE", withdraw("JAUNUMI")),
        ("JAUNUMNE", withdraw("JAUNUMI", corrected=True)),  # typo in the long part
        ("JAUNUMU NE", withdraw("JAUNUMI", corrected=True)),
        ("JAUNUMI NU", UNKNOWN),  # the short withdraw word is not corrected
        ("JAUNUMINU", UNKNOWN),
        ("NE", UNKNOWN),  # alone it names nothing to withdraw
        ("JAUNUMI STOP", UNKNOWN),  # STOP is a stop word here, not the withdraw word
        ("STOP", Command("stop_all")),
    ],
)
def test_a_custom_short_withdraw_word(text: str, expected: Command) -> None:
    assert KeywordParser(["JAUNUMI"], withdraw_word="NE").parse(text) == expected


def _osa_distance(a: str, b: str) -> int:
    """Reference optimal-string-alignment distance, the textbook dynamic programme."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def _random_edit(word: str, rng: random.Random, alphabet: str) -> str:
    kind = rng.choice(["sub", "ins", "del", "swap"])
    i = rng.randrange(len(word))
    if kind == "sub":
        return word[:i] + rng.choice(alphabet) + word[i + 1 :]
    if kind == "ins":
        return word[:i] + rng.choice(alphabet) + word[i:]
    if kind == "del":
        return word[:i] + word[i + 1 :]
    i = min(i, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def test_random_one_and_two_edit_tokens_agree_with_a_reference_distance(parser: KeywordParser) -> None:
    # Letters that spell no stop, start, help or withdraw word, so only keywords are in play.
    alphabet = "ABIJMNSTUV"
    rng = random.Random(20240611)
    for _ in range(4000):
        token = rng.choice(POLICY_KEYWORDS)
        for _ in range(rng.choice([1, 1, 2])):
            token = _random_edit(token, rng, alphabet)
        distances = {keyword: _osa_distance(token, keyword) for keyword in POLICY_KEYWORDS}
        near = [keyword for keyword, distance in distances.items() if distance == 1]
        if 0 in distances.values():
            expected = grant(token)
        elif len(near) == 1:
            expected = grant(near[0], corrected=True)
        elif len(near) > 1:
            expected = AMBIGUOUS
        else:
            expected = UNKNOWN
        assert parser.parse(token) == expected, token


# --- stop, start and help words -----------------------------------------------------------------


@pytest.mark.parametrize("word", STOP_WORDS)
@pytest.mark.parametrize("spelling", [str.upper, str.lower, str.title, lambda w: f"  {w.lower()}!  "])
def test_a_stop_word_alone_stops_all(
    parser: KeywordParser, word: str, spelling: Callable[[str], str]
) -> None:
    assert parser.parse(spelling(word)) == Command("stop_all")


@pytest.mark.parametrize("text", ["START", "start", "Unstop", " unstop. "])
def test_a_start_word_alone_starts(parser: KeywordParser, text: str) -> None:
    assert parser.parse(text) == Command("start")


@pytest.mark.parametrize("text", ["HELP", "help", "Help?", "INFO", "info", "  Info  "])
def test_a_help_word_asks_for_help(parser: KeywordParser, text: str) -> None:
    assert parser.parse(text) == HELP


@pytest.mark.parametrize(
    "text", ["STPO", "SOTP", "STOOP", "STOPP", "QIUT", "UNSUBSCRIBR", "STRAT", "HLEP", "INF0"]
)
def test_stop_start_and_help_words_are_never_corrected(parser: KeywordParser, text: str) -> None:
    assert parser.parse(text) == UNKNOWN


def test_custom_reserved_words_replace_the_defaults() -> None:
    parser = KeywordParser(
        ["JAUNUMI"], stop_words=("ATCELT",), start_words=("ATSAKT",), help_words=("PALIDZIBA",)
    )
    assert parser.parse("atcelt") == Command("stop_all")
    assert parser.parse("atsākt") == Command("start")
    assert parser.parse("Palīdzība?") == HELP
    assert parser.parse("STOP") == UNKNOWN
    assert parser.parse("JAUNUMI STOP") == withdraw("JAUNUMI")  # the withdraw word is separate


# --- empty and unknown --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "   ",
        "\n",
        "\t\r\n",
        "\u00a0",
        "\u200b",
        ".",
        "?!",
        "...",
        "👍",
        "🙂 🙂",
        "„”",
        "---",
        "\x00",
        "\ud800",
    ],
)
def test_nothing_but_spacing_punctuation_or_emoji_is_empty(parser: KeywordParser, text: str) -> None:
    assert parser.parse(text) == EMPTY


@pytest.mark.parametrize(
    "text",
    [
        "JAUNUMI LŪDZU",  # extra word
        "lūdzu jaunumi",
        "JAUNUMI AUTO",  # two keywords
        "JAUNUMI JAUNUMI",
        "JAUNUMI STOP STOP",
        "JAUNUMI STOP LŪDZU",
        "STOP STOP",
        "STOP ALL",
        "STOPJAUNUMI",  # glued the other way round
        "JAUNUMI AUTO STOP",
        "J A U N U M I",
        "HELP JAUNUMI",
        "12345",
        "0",
        "hello",
        "Sveiki, gribu jaunumus",
        "'; DROP TABLE consent; --",
        "JAUNUMI'; DROP TABLE consent; --",
        "<script>alert(1)</script>",
        "<b>JAUNUMI</b>",
        "${jndi:ldap://x}",
        "Привет",
    ],
)
def test_anything_else_is_unknown(parser: KeywordParser, text: str) -> None:
    assert parser.parse(text) == UNKNOWN


def test_a_long_body_is_unknown_even_if_it_starts_with_a_keyword(parser: KeywordParser) -> None:
    assert parser.parse("JAUNUMI " + "x" * 200) == UNKNOWN
    assert parser.parse("J" * 161) == UNKNOWN
    assert parser.parse("JAUNUMI" + "!" * 10_000) == UNKNOWN


def test_padding_counts_towards_the_raw_length_limit(parser: KeywordParser) -> None:
    assert parser.parse("JAUNUMI".ljust(MAX_TEXT_LENGTH)) == grant("JAUNUMI")
    assert parser.parse("JAUNUMI".ljust(MAX_TEXT_LENGTH + 1)) == UNKNOWN


# --- construction -------------------------------------------------------------------------------


def test_keywords_are_kept_in_the_order_given() -> None:
    parser = KeywordParser(keyword for keyword in POLICY_KEYWORDS)
    assert parser.keywords == POLICY_KEYWORDS


def test_a_parser_without_keywords_still_understands_reserved_words() -> None:
    parser = KeywordParser([])
    assert parser.keywords == ()
    assert parser.parse("stop") == Command("stop_all")
    assert parser.parse("JAUNUMI") == UNKNOWN


def test_default_reserved_words() -> None:
    assert STOP_WORDS == ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT")
    assert START_WORDS == ("START", "UNSTOP")
    assert HELP_WORDS == ("HELP", "INFO")


@pytest.mark.parametrize(
    ("keywords", "options", "message"),
    [
        (["jaunumi"], {}, "invalid SMS keyword 'jaunumi'"),
        (["J"], {}, "invalid SMS keyword 'J'"),
        (["A" * 21], {}, "invalid SMS keyword"),
        (["JAUNUMĪ"], {}, "invalid SMS keyword"),
        (["JAUNUMI STOP"], {}, "invalid SMS keyword"),
        ([""], {}, "invalid SMS keyword"),
        ("JAUNUMI", {}, "not a single string"),
        (["JAUNUMI", "AUTO", "JAUNUMI"], {}, "'JAUNUMI' is listed twice"),
        (["STOP"], {}, "'STOP' is a reserved"),
        (["UNSUBSCRIBE"], {}, "'UNSUBSCRIBE' is a reserved"),
        (["END"], {}, "'END' is a reserved"),
        (["START"], {}, "'START' is a reserved"),
        (["HELP"], {}, "'HELP' is a reserved"),
        (["INFO"], {}, "'INFO' is a reserved"),
        (["ATTEIKT"], {"withdraw_word": "ATTEIKT"}, "'ATTEIKT' is a reserved"),
        (["ATCELT"], {"stop_words": ("ATCELT",)}, "'ATCELT' is a reserved"),
        (["AUTO", "AUTOSTOP"], {}, "'AUTO' followed by withdraw word 'STOP' reads as 'AUTOSTOP'"),
        (["UN"], {}, "'UN' followed by withdraw word 'STOP' reads as 'UNSTOP'"),
        (["JAUNUMI"], {"withdraw_word": "stop"}, "invalid withdraw word 'stop'"),
        (["JAUNUMI"], {"withdraw_word": "HELP"}, "withdraw word 'HELP' is also a start or help word"),
        (["JAUNUMI"], {"withdraw_word": "START"}, "withdraw word 'START' is also a start or help word"),
        (["JAUNUMI"], {"stop_words": ("STOP", "START")}, "'START' cannot be both"),
        (["JAUNUMI"], {"help_words": ("INFO", "STOP")}, "'STOP' cannot be both"),
        (["JAUNUMI"], {"help_words": ("?",)}, "invalid help word '\\?'"),
        (["JAUNUMI"], {"start_words": ("go on",)}, "invalid start word"),
    ],
)
def test_invalid_or_colliding_words_are_refused(
    keywords: object, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        KeywordParser(keywords, **options)


def test_a_withdraw_word_may_be_one_of_the_stop_words() -> None:
    parser = KeywordParser(["JAUNUMI"], withdraw_word="QUIT")
    assert parser.parse("JAUNUMI QUIT") == withdraw("JAUNUMI")
    assert parser.parse("QUIT") == Command("stop_all")
    assert parser.parse("JAUNUMI STOP") == UNKNOWN
