"""Message bodies are plain text everywhere they are stored or sent; pages show a safe
subset of Markdown. This is the one rendering path, for live messages and history.

markdown-it-py renders with raw HTML disabled; nh3 then keeps only the tags below, so
no HTML a user wrote ever reaches the page, and links get rel="noopener noreferrer"
and only http(s) or mailto targets. Outside code spans and blocks, `@name` becomes a
mention and a known `:shortcode:` its emoji character (rooms/emoji_catalog.py; the
stored body keeps what was typed). Results are cached by body, so a message is
rendered once per revision however many sockets show it.
"""

from __future__ import annotations

import re
from functools import lru_cache

import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

from rooms.emoji_catalog import replace_shortcodes

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "code",
    "pre",
    "a",
    "blockquote",
    "ul",
    "ol",
    "li",
    "span",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "target"},
    "ol": {"start"},
    "span": {"class", "data-mention"},
}
_SURROGATE = re.compile("[\ud800-\udfff]")
MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_.+-]{1,150})")

_markdown = (
    MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True})
    .enable("linkify")
    .disable(["image", "heading", "lheading", "hr", "table"], ignoreInvalid=True)
)
# Bare URLs with a scheme ("https://…", "mailto:…") become links, then pass
# the same sanitiser as Markdown links; a bare "example.com" or e-mail address stays
# text, as does "www.example.org" (a guess would link "file.py" or "v1.2").
_markdown.linkify.set({"fuzzy_link": False, "fuzzy_email": False})
for _scheme in ("ftp:", "//"):  # the sanitiser keeps http, https and mailto links only
    _markdown.linkify.add(_scheme, None)


def mentioned_usernames(body: str) -> set[str]:
    return {match.rstrip(".") for match in MENTION.findall(body)}


def _mark_text(html: str) -> str:
    # Mentions and shortcodes, only in text: not inside tags or attributes, nor in code.
    # A link's text keeps its colons: it may be the URL itself ("https://x.org/:tada:").
    parts = re.split(r"(<[^>]+>)", html)
    in_code = in_link = 0
    for index, part in enumerate(parts):
        if part.startswith("<"):
            tag = part.lower()
            if tag.startswith(("<code", "<pre")):
                in_code += 1
            elif tag.startswith(("</code", "</pre")):
                in_code = max(0, in_code - 1)
            elif tag.startswith("<a "):
                in_link += 1
            elif tag.startswith("</a"):
                in_link = max(0, in_link - 1)
            continue
        if not in_code:
            text = part if in_link else replace_shortcodes(part)
            parts[index] = MENTION.sub(_mention_span, text)
    return "".join(parts)


def _mention_span(match: re.Match[str]) -> str:
    # "ask @bob." mentions bob: a sentence's full stop stays outside, as
    # mentioned_usernames() strips it.
    name = match.group(1).rstrip(".")
    if not name:
        return match.group(0)
    trailing = match.group(1)[len(name) :]
    return f'<span class="mention" data-mention="{name}">@{name}</span>{trailing}'


@lru_cache(maxsize=20_000)
def render(body: str) -> str:
    # Stored bodies never hold a lone surrogate (rooms/input_checks.py); anything else
    # rendered still must not crash the sanitiser, which needs valid UTF-8.
    body = _SURROGATE.sub("\ufffd", body)
    html = _markdown.render(body)
    html = _mark_text(html)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
    ).strip()


def highlight_words(text: str, words: list[str]) -> SafeString:
    """`text` escaped for HTML, with every word that starts with one of `words`
    (case-insensitive, as the search matches them) wrapped in <mark>. Matching runs on
    the raw text and each piece is escaped on its own, so neither the text nor the
    query can inject markup, and a query such as "amp" never matches inside "&amp;"."""
    if not words:
        return escape(text)
    alternatives = "|".join(re.escape(word) for word in sorted(set(words), key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})\w*", re.IGNORECASE)
    pieces: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        pieces.append(escape(text[position : match.start()]))
        pieces.append(f"<mark>{escape(match.group())}</mark>")
        position = match.end()
    pieces.append(escape(text[position:]))
    return mark_safe("".join(pieces))  # noqa: S308 - every piece of user text is escaped above
