"""Money in minor units: conversion and display, one place for both."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency, get_currency_precision


def minor_to_decimal(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-get_currency_precision(currency))


def decimal_to_minor(amount: Decimal, currency: str) -> int:
    exponent = get_currency_precision(currency)
    return int(amount.scaleb(exponent).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_money(amount_minor: int, currency: str, locale: str = "en") -> str:
    """'€1,234.50' / '1.234,50 €' as the debtor's locale writes it."""
    return format_currency(minor_to_decimal(amount_minor, currency), currency, locale=locale)
