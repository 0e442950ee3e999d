"""Reply texts for keyword messages, in Latvian and English (R-SMS-2).

Each reply names the controller and says how to undo what was done. A policy's `sms` entry may
override any of them (fields: {controller} {keyword} {number} {keywords} {groups}). The outbox
then fits the text into one SMS segment where it can (sargs.domains.sms.segments).
"""

from __future__ import annotations

from dataclasses import dataclass

from sargs.domains.policy.schema import SmsNumber, Text

DEFAULT_REPLIES: dict[str, Text] = {
    "granted": Text(
        lv="{controller}: paldies, piekrišana {keyword} saņemta. Lai atsauktu, sūti {keyword} STOP uz {number}",
        en="{controller}: thank you, consent {keyword} received. To withdraw, text {keyword} STOP to {number}",
    ),
    "withdrawn": Text(
        lv="{controller}: piekrišana {keyword} atsaukta. Lai to dotu atkal, sūti {keyword} uz {number}",
        en="{controller}: consent {keyword} withdrawn. To give it again, text {keyword} to {number}",
    ),
    "refused": Text(
        lv="{controller}: piekrišanu {keyword} var dot tikai: {groups}. Piekrišana nav reģistrēta.",
        en="{controller}: consent {keyword} can be given only by: {groups}. Nothing was recorded.",
    ),
    "help": Text(
        lv="{controller}: sūti {keywords} uz {number}, lai dotu piekrišanu; pievieno STOP, lai atsauktu.",
        en="{controller}: text {keywords} to {number} to give consent; add STOP to withdraw it.",
    ),
    "stop_all": Text(
        lv="{controller}: visas SMS piekrišanas atsauktas. Lai dotu atkal, sūti {keywords} uz {number}",
        en="{controller}: all SMS consents withdrawn. To give one again, text {keywords} to {number}",
    ),
    "start": Text(
        lv="{controller}: piekrišanu dod katram mērķim atsevišķi: sūti {keywords} uz {number}",
        en="{controller}: consent is given per purpose: text {keywords} to {number}",
    ),
}


@dataclass(frozen=True)
class ReplyContext:
    controller: str
    number: str
    keywords: tuple[str, ...]
    keyword: str = ""
    groups: str = ""


def render_reply(kind: str, *, config: SmsNumber, language: str, context: ReplyContext) -> str:
    """The reply text of `kind` for this number, in `language` (lv unless 'en')."""
    template = config.replies.get(kind) or DEFAULT_REPLIES[kind]  # type: ignore[call-overload]
    return template.get(language).format(
        controller=context.controller,
        number=context.number,
        keywords="/".join(context.keywords),
        keyword=context.keyword,
        groups=context.groups,
    )
