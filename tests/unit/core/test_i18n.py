"""The gettext catalogues: languages are data, CLDR plurals, fallbacks, and the CI check that
fails when an lv or en text is missing or a catalogue is stale (tools/messages.py)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from sargs.core import i18n
from sargs.core.i18n import Catalogue, Texts

ROOT = Path(__file__).resolve().parents[3]


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sargs_messages_tool", ROOT / "tools" / "messages.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_languages_are_the_catalogues_present() -> None:
    folders = {p.parent.parent.name for p in i18n.LOCALE_DIR.glob("*/LC_MESSAGES/sargs.mo")}
    assert set(i18n.LANGUAGES) == folders and {"lv", "en", "ru"} <= folders
    assert i18n.LANGUAGES[:2] == ("lv", "en")


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "lv",
            {
                1: "pēc 1 dienas",
                2: "pēc 2 dienām",
                5: "pēc 5 dienām",
                21: "pēc 21 dienas",
                11: "pēc 11 dienām",
            },
        ),
        (
            "ru",
            {
                1: "через 1 день",
                2: "через 2 дня",
                5: "через 5 дней",
                21: "через 21 день",
                11: "через 11 дней",
            },
        ),
        ("en", {1: "in 1 day", 2: "in 2 days", 5: "in 5 days", 21: "in 21 days"}),
    ],
)
def test_plural_forms_follow_cldr(lang: str, expected: dict[int, str]) -> None:
    for n, text in expected.items():
        assert i18n.ngettext(lang, "panel_review_in", n).format(days=n) == text


def test_a_modules_plural_text_too() -> None:
    t = Catalogue("ru", "breaches.notification.LABELS")
    assert [t.plural("subjects_notified", n).format(n=n) for n in (1, 2, 5, 21)] == [
        "уведомлён 1 человек",
        "уведомлены 2 человека",
        "уведомлены 5 человек",
        "уведомлён 21 человек",
    ]
    lv = Catalogue("lv", "breaches.notification.LABELS")
    assert [lv.plural("subjects_notified", n).format(n=n) for n in (1, 2, 5, 21)] == [
        "informēta 1 persona",
        "informētas 2 personas",
        "informētas 5 personas",
        "informēta 21 persona",
    ]


def test_contexts_keep_one_key_apart_in_two_modules() -> None:
    assert Catalogue("en", "ropa.record.L")["title"] == "Record of processing activities"
    assert Catalogue("en", "dsr.response.T")["title"] == "Answer to your data-subject request"
    assert Texts("dsr.response.KIND_NAMES")["ru"]["erasure"] == "Удаление"


def test_a_missing_key_is_a_key_error_and_gettext_gives_the_key() -> None:
    with pytest.raises(KeyError):
        Catalogue("lv")["no_such_key"]
    assert Catalogue("lv").get("no_such_key", "x") == "x"
    assert i18n.gettext("ru", "no_such_key") == "no_such_key"
    with pytest.raises(KeyError):
        Texts(None)["xx"]


def test_an_unknown_language_reads_english() -> None:
    assert Catalogue("de")["sign_in"] == "Sign in"


@pytest.fixture
def tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The catalogue tool working on a copy of the catalogues."""
    module = _tool()
    copy = tmp_path / "locale"
    shutil.copytree(module.LOCALE, copy)
    monkeypatch.setattr(module, "LOCALE", copy)
    monkeypatch.setattr(module, "POT", copy / "sargs.pot")
    return module


def test_the_catalogues_are_complete_and_current(tool: ModuleType) -> None:
    assert tool.problems() == []


def test_a_missing_latvian_text_fails_the_check(tool: ModuleType) -> None:
    catalog = tool.read("lv")
    catalog.delete("sign_in")
    tool.write(catalog, "lv")
    assert "lv: message sign_in is missing (run `make messages`, then translate it)" in tool.problems()


def test_an_empty_english_text_fails_the_check(tool: ModuleType) -> None:
    catalog = tool.read("en")
    catalog.get("INTRO", context="dsr.reminders").string = ""
    tool.write(catalog, "en")
    assert "en: message dsr.reminders: INTRO has no text" in tool.problems()


def test_a_stale_compiled_catalogue_fails_the_check(tool: ModuleType) -> None:
    po = tool.po_path("ru")
    po.write_text(po.read_text(encoding="utf-8").replace('"Войти"', '"Вход"'), encoding="utf-8")
    assert any("sargs.mo is older than its .po" in p for p in tool.problems())


def test_a_translation_with_a_field_the_english_lacks_fails_the_check(tool: ModuleType) -> None:
    catalog = tool.read("ru")
    catalog.get("FOOTER", context="mail.campaign").string = "Отписаться: {link}"
    tool.write(catalog, "ru")
    assert any("FOOTER uses fields ['link']" in p for p in tool.problems())


def test_moving_an_old_style_dict_puts_its_texts_in_the_catalogues(tool: ModuleType, tmp_path: Path) -> None:
    module = tmp_path / "sargs" / "domains" / "widgets" / "labels.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        '"""Widgets."""\n\nfrom __future__ import annotations\n\nimport re\n\n'
        '# widgets (feature W)\nHELLO = {"lv": "Sveiki, {name}", "en": "Hello, {name}"}\n'
        'LABELS = {\n    "lv": {"w_title": "Logrīki"},\n    "en": {"w_title": "Widgets"},\n}\n',
        encoding="utf-8",
    )
    monkeypatch_root = tool.ROOT
    tool.ROOT = tmp_path
    try:
        assert tool.move_file(module) == 2
    finally:
        tool.ROOT = monkeypatch_root
    text = module.read_text(encoding="utf-8")
    assert 'HELLO = Message("widgets.labels", "HELLO")' in text
    assert 'LABELS = Texts("widgets.labels.LABELS")' in text
    assert text.index("from __future__") < text.index("from sargs.core.i18n import Message, Texts")
    assert tool.read("lv").get("HELLO", context="widgets.labels").string == "Sveiki, {name}"
    assert tool.read("en").get("w_title", context="widgets.labels.LABELS").string == "Widgets"
    assert tool.read("ru").get("w_title", context="widgets.labels.LABELS").string == ""  # to translate
