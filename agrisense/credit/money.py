"""Money in the product: ``Decimal`` in code and in the database, a JSON number with two decimals on the wire.

The engine computes in integer cents (``credit.schedule``); every amount that leaves it is a ``Decimal`` quantized to
the cent. JSON has only one number type: an amount of two decimals below 10^13 is printed exactly by a binary float
(shortest round-trip repr), and parses back to the same ``Decimal`` (pydantic converts through ``str``).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_DOWN, Decimal
from typing import Annotated

from pydantic import Field, PlainSerializer

CENT = Decimal("0.01")
RATE_STEP = Decimal("0.0001")


def json_number(value: Decimal) -> float:
    """An amount as a JSON number (the wire form only: exact for amounts to the cent, see above)."""
    return float(value)


_json_number = json_number


Money = Annotated[
    Decimal,
    Field(max_digits=15, decimal_places=2, allow_inf_nan=False),
    PlainSerializer(_json_number, return_type=float, when_used="json"),
]
"""An amount in the offer's currency, to the cent."""

Rate = Annotated[
    Decimal,
    Field(ge=0, max_digits=8, decimal_places=4, allow_inf_nan=False),
    PlainSerializer(_json_number, return_type=float, when_used="json"),
]
"""An annual interest rate as a fraction (0.1450 = 14.5 %), to the basis point."""


def from_cents(cents: int) -> Decimal:
    """Integer cents -> an amount to the cent."""
    return (Decimal(cents) / 100).quantize(CENT)


def to_money(value: Decimal | float | int | str) -> Decimal:
    """Any amount -> ``Decimal`` rounded down to the cent (floats go through ``str``, never binary)."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_DOWN)


def total(amounts: Iterable[Decimal | float | int | str | None]) -> Decimal:
    """Sum of amounts (``Decimal``, numbers or numeric strings; ``None`` counts as 0) as money."""
    result = Decimal(0)
    for amount in amounts:
        if amount is not None:
            result += Decimal(str(amount))
    return result.quantize(CENT)
