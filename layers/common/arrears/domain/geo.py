"""Defaults by country when the billing platform does not say (timezone, language).

A debtor's zone comes from the tz database itself (`zone.tab` in the `tzdata` package: every country
and the zones its clocks follow, with the tz maintainers' note on which part of the country each
zone covers), not from a hand-kept table:
- a country with one zone gets it (Egypt: Africa/Cairo);
- a country with several gets the zone its address region (state, province) decides, read from
  those notes ("Victoria", "NS (most areas)", "Brazil (southeast: ... SP ...)"), with the region's
  names and codes from the `holidays` package's subdivisions;
- else the zone the notes call most of the country ("most of Germany", "Spain (mainland)");
- else "" : the policy's `default_timezone` applies (a US debtor with no state, for one).
Where the notes name no region at all (most US states), `_REGION_ZONES` says it; see there.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import resources
from zoneinfo import available_timezones

# Where the tz notes cannot decide: they do not name these regions (or only a small part of them).
# US: each state's zone for most of its population (the US DOT's time zone boundaries, 49 CFR part 71);
# AZ, HI, AK, MI and IN the notes decide. AU: the ACT keeps Sydney's time. ES: Canarias is "Canary Islands".
_US_ZONES = {
    "America/New_York": "CT DC DE FL GA KY MA MD ME NC NH NJ NY OH PA RI SC VA VT WV",
    "America/Chicago": "AL AR IA IL KS LA MN MO MS ND NE OK SD TN TX WI",
    "America/Denver": "CO MT NM UT WY",
    "America/Boise": "ID",
    "America/Los_Angeles": "CA NV OR WA",
}
_REGION_ZONES: dict[str, dict[str, str]] = {
    "US": {state: zone for zone, states in _US_ZONES.items() for state in states.split()},
    "AU": {"ACT": "Australia/Sydney"},
    "ES": {"CN": "Atlantic/Canary"},
}
_COUNTRY_LANGUAGES = {"AT": "de", "CH": "de", "DE": "de", "FR": "fr", "BE": "fr", "LU": "fr", "ES": "es", "IT": "it", "NL": "nl"}
# "Victoria", "ON & QC (most areas)", "AB, BC(E)", "Brazil (southeast: GO, DF, MG)": a place, and what part of it.
_MENTION = re.compile(r"([^,;&()]+?)\s*(?:\(([^)]*)\))?\s*(?:[,;&]|$)")


def timezone_for_country(country: str, default: str = "UTC", region: str = "") -> str:
    """The debtor's zone from its country and address region (see the module docstring); `default` when the
    tz data cannot decide. Pass default="" to leave the choice to the policy's `default_timezone`."""
    zones = _zones_by_country().get(country.upper().strip())
    if not zones:
        return default
    if len(zones) == 1:
        return zones[0][0]
    if region.strip():
        chosen = _zone_for_region(country.upper().strip(), region)
        if chosen:
            return chosen
    principal = [zone for zone, note in zones if note.lower().startswith("most of") or "(mainland)" in note.lower()]
    return principal[0] if len(principal) == 1 else default


def known_timezone(name: str) -> bool:
    """An IANA zone name the tz database knows ("Africa/Cairo"); an explicit zone must be one."""
    return name in _timezone_names()


@lru_cache(maxsize=1)
def _timezone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def language_for(preferred_locales: list[str] | None, country: str) -> str:
    if preferred_locales:
        return preferred_locales[0].split("-")[0].lower()
    return _COUNTRY_LANGUAGES.get(country.upper(), "en")


@lru_cache(maxsize=1)
def _zones_by_country() -> dict[str, list[tuple[str, str]]]:
    """Country code -> [(zone, the tz note on the part of the country it covers)], in zone.tab's order."""
    table: dict[str, list[tuple[str, str]]] = {}
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        columns = line.split("\t")
        table.setdefault(columns[0], []).append((columns[2], columns[3] if len(columns) > 3 else ""))
    return table


def _plain(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().split())


@lru_cache(maxsize=64)
def _region_names(country: str) -> dict[str, frozenset[str]]:
    """Each subdivision's names and code (plain text), keyed by every one of them (the holidays package's list)."""
    try:
        import holidays as holiday_calendars  # lazily: not part of a handler's cold start (issue #19)

        aliases = holiday_calendars.country_holidays(country).get_subdivision_aliases()
    except (NotImplementedError, AttributeError):
        return {}
    names: dict[str, frozenset[str]] = {}
    for code, spelled in aliases.items():
        group = frozenset(_plain(name) for name in (code, *spelled))
        for name in group:
            names[name] = group
    return names


def _mentions(note: str) -> list[tuple[str, str]]:
    """(place, qualifier) pairs of a tz note; codes listed inside parentheses are places of their own."""
    body = note.split(" - ", 1)[1] if " - " in note else note
    found = []
    for place, qualifier in _MENTION.findall(body):
        qualifier = qualifier or ""
        label, colon, listed = qualifier.rpartition(":")
        inner = [code.strip() for code in (listed if colon else qualifier).split(",")]
        if colon or (qualifier and all(re.fullmatch(r"[A-Z]{2}", code) for code in inner)):
            found += [(code, "") for code in inner]  # "Brazil (southeast: GO, DF)", "Buenos Aires (BA, CF)"
            found.append((place, label.strip() if colon else ""))
        else:
            found.append((place, qualifier.strip()))
    return [(_plain(place), _plain(qualifier)) for place, qualifier in found if place.strip()]


def _zone_for_region(country: str, region: str) -> str | None:
    wanted = _region_names(country).get(_plain(region), frozenset({_plain(region)}))
    # A zone covers the region when its note names the region whole, "(most areas)" or "(except ...)"; one naming
    # only a part of it ("OR (east)", "KY (Wayne)") does not. Several: the one whose note says "most" decides.
    covering = [zone for zone, note in _zones_by_country()[country]
                if any(place in wanted and (qualifier in ("", "most areas") or qualifier.startswith("except "))
                       for place, qualifier in _mentions(note))]
    if len(covering) > 1:
        covering = [zone for zone, note in _zones_by_country()[country] if zone in covering and "most" in note.lower()]
    if len(covering) == 1:
        return covering[0]
    return next((zone for name in sorted(wanted) if (zone := _REGION_ZONES.get(country, {}).get(name.upper()))), None)
