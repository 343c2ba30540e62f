"""Fixed wording in the debtor's language: what happens next, the demand letter's text, legal bases.

One catalogue per language in `templates/text/<language>.yaml`, nested mappings of `str.format`
templates, read once per process. English is complete; every other catalogue has exactly its
keys and placeholders (a unit test checks), so a letter is never half translated. A language
without a catalogue gets English throughout, dates and amounts included (as emails do).

Emails keep their wording in their own templates (`templates/email/<language>/`); both use
`language_candidates`, so one debtor gets one language from every channel.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date

TEXT_DIR = Path(__file__).resolve().parent.parent / "templates" / "text"
FALLBACK_LANGUAGE = "en"

_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


def language_candidates(language: str) -> list[str]:
    """'de-AT' -> ['de_AT', 'de', 'en']: most specific first, English last; junk -> ['en']."""
    tag = (language or "").strip().replace("-", "_")
    if not _LANGUAGE_TAG.match(tag):
        return [FALLBACK_LANGUAGE]
    primary, *rest = tag.split("_")
    primary = primary.lower()
    candidates = []
    if rest:
        region = rest[0].upper() if len(rest[0]) == 2 else rest[0].title()
        candidates.append(f"{primary}_{region}")
    candidates += [primary, FALLBACK_LANGUAGE]
    return list(dict.fromkeys(candidates))


def regional_language(language: str, country: str) -> str:
    """The debtor's language with the region of their country, when babel writes it in a way of its own:
    'en' for a debtor in GB -> 'en-GB' (British dates: "1 October 2026"), 'de' in AT -> 'de-AT'. A tag
    that names its region already, or a region babel has no locale for ('de' in FR), stays as it is."""
    tag = (language or "").strip()
    region = (country or "").strip().upper()
    if not _LANGUAGE_TAG.match(tag.replace("-", "_")) or re.search(r"[-_]", tag) or not re.fullmatch(r"[A-Z]{2}", region):
        return tag
    return f"{tag}-{region}" if _babel_knows(f"{tag.lower()}_{region}") else tag


# A day that follows French usage: the first of the month is "1er" ("1er octobre 2026"), other days plain.
_FRENCH_FIRST = re.compile(r"(?<![\d])1(?=[ \u00a0\u202f][^\W\d_])")


def format_day(value: date, locale: str, fmt: str = "long") -> str:
    """A calendar date as the locale writes it in text (babel's `fmt`), the one place messages format dates."""
    text = format_date(value, format=fmt, locale=locale)
    if value.day == 1 and locale.split("_")[0] == "fr":
        text = _FRENCH_FIRST.sub("1er", text, count=1)
    return text


def babel_locale(candidates: list[str], chosen: str) -> str:
    """The locale that formats dates and amounts for text written in `chosen`: the most specific
    candidate of the same language babel knows ('de_AT' for Austrian German), else `chosen`."""
    for candidate in candidates:
        if candidate.split("_")[0] == chosen.split("_")[0] and _babel_knows(candidate):
            return candidate
    return chosen


@lru_cache(maxsize=256)
def _babel_knows(locale: str) -> bool:
    try:
        Locale.parse(locale)
    except (UnknownLocaleError, ValueError):
        return False
    return True


@lru_cache(maxsize=256)
def resolve(language: str) -> tuple[str, str]:
    """(catalogue language, babel locale) for a debtor's language tag."""
    candidates = language_candidates(language)
    chosen = next(c for c in candidates if c in available_languages())
    return chosen, babel_locale(candidates, chosen)


@lru_cache(maxsize=1)
def available_languages() -> frozenset[str]:
    return frozenset(path.stem for path in TEXT_DIR.glob("*.yaml"))


@lru_cache(maxsize=16)
def catalogue(language: str) -> dict[str, str]:
    """The catalogue of one language, flattened to dotted keys ('letter.heading.formal_notice')."""
    import yaml  # lazily: not part of a handler's cold start (issue #19)

    data = yaml.safe_load((TEXT_DIR / f"{language}.yaml").read_text(encoding="utf-8"))
    flat: dict[str, str] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}{key}.", value)
        else:
            flat[prefix[:-1]] = str(node)

    walk("", data)
    return flat


class Wording:
    """The catalogue of one language, with the locale its numbers are written in."""

    __slots__ = ("language", "locale", "_texts", "_plural")

    def __init__(self, language: str) -> None:
        self.language, self.locale = resolve(language)
        self._texts = catalogue(self.language)
        self._plural = Locale.parse(self.locale).plural_form

    def __call__(self, key: str, **values: Any) -> str:
        template = self._texts[key]
        return template.format(**values) if values else template

    def count(self, key: str, n: int) -> str:
        """`key.one` or `key.other` as the language's plural rules choose for `n`, with `{n}` filled."""
        form = "one" if self._plural(abs(n)) == "one" else "other"
        return self._texts[f"{key}.{form}"].format(n=n)


@lru_cache(maxsize=64)
def wording_for(language: str) -> Wording:
    return Wording(language)
