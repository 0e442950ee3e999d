"""Reply texts for keyword messages, in every language of the catalogues (R-SMS-2).

Each reply names the controller and says how to undo what was done. A policy's `sms` entry may
override any of them (fields: {controller} {keyword} {number} {keywords} {groups}). The outbox
then fits the text into one SMS segment where it can (sargs.domains.sms.segments).
"""

from __future__ import annotations

from dataclasses import dataclass

from sargs.core.i18n import Catalogue, Texts
from sargs.domains.policy.schema import SmsNumber

DEFAULT_REPLIES = Texts("sms.replies.DEFAULT_REPLIES")


@dataclass(frozen=True)
class ReplyContext:
    controller: str
    number: str
    keywords: tuple[str, ...]
    keyword: str = ""
    groups: str = ""


def render_reply(kind: str, *, config: SmsNumber, language: str, context: ReplyContext) -> str:
    """The reply text of `kind` for this number, in `language` (the policy's text, else the catalogue's)."""
    given = config.replies.get(kind)  # type: ignore[call-overload]
    template = (
        given.get(language) if given is not None else Catalogue(language, DEFAULT_REPLIES.context)[kind]
    )
    return template.format(
        controller=context.controller,
        number=context.number,
        keywords="/".join(context.keywords),
        keyword=context.keyword,
        groups=context.groups,
    )
