"""Defaults by country when the billing platform does not say (timezone, language)."""

from __future__ import annotations

# The business capital's zone; a customer record can always override it.
_COUNTRY_TIMEZONES = {
    "AT": "Europe/Vienna", "AU": "Australia/Sydney", "BE": "Europe/Brussels", "BR": "America/Sao_Paulo",
    "CA": "America/Toronto", "CH": "Europe/Zurich", "CZ": "Europe/Prague", "DE": "Europe/Berlin",
    "DK": "Europe/Copenhagen", "ES": "Europe/Madrid", "FI": "Europe/Helsinki", "FR": "Europe/Paris",
    "GB": "Europe/London", "IE": "Europe/Dublin", "IN": "Asia/Kolkata", "IT": "Europe/Rome",
    "JP": "Asia/Tokyo", "LU": "Europe/Luxembourg", "MX": "America/Mexico_City", "NL": "Europe/Amsterdam",
    "NO": "Europe/Oslo", "NZ": "Pacific/Auckland", "PL": "Europe/Warsaw", "PT": "Europe/Lisbon",
    "SE": "Europe/Stockholm", "SG": "Asia/Singapore", "US": "America/New_York", "ZA": "Africa/Johannesburg",
}
_COUNTRY_LANGUAGES = {"AT": "de", "CH": "de", "DE": "de", "FR": "fr", "BE": "fr", "LU": "fr", "ES": "es", "IT": "it", "NL": "nl"}


def timezone_for_country(country: str, default: str = "UTC") -> str:
    return _COUNTRY_TIMEZONES.get(country.upper(), default)


def language_for(preferred_locales: list[str] | None, country: str) -> str:
    if preferred_locales:
        return preferred_locales[0].split("-")[0].lower()
    return _COUNTRY_LANGUAGES.get(country.upper(), "en")
