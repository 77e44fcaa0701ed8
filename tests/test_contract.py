"""The header check of the orders contract (elt/contract.py): exactly the 12 columns, in any order.

Expectations are written from the CSV contract, not from the implementation.
"""
from __future__ import annotations

import pytest

from elt.contract import COLUMNS, check_header
from elt.errors import InputError
from tests.conftest import CONTRACT_HEADER

CONTRACT_COLUMNS = list(CONTRACT_HEADER)


def _header_error(names: list[str]) -> str:
    """The one-line message check_header fails with."""
    with pytest.raises(InputError) as caught:
        check_header(names)
    message = str(caught.value)
    assert "\n" not in message, message
    return message


def test_contract_columns_are_the_twelve_documented_names() -> None:
    assert list(COLUMNS) == CONTRACT_COLUMNS


def test_header_in_contract_order_passes() -> None:
    assert check_header(CONTRACT_COLUMNS) == CONTRACT_COLUMNS


def test_header_in_any_order_passes_and_keeps_the_file_order() -> None:
    shuffled = list(reversed(CONTRACT_COLUMNS))

    assert check_header(shuffled) == shuffled


def test_bom_and_spaces_around_names_are_removed() -> None:
    names = ["\ufefforder_id", *CONTRACT_COLUMNS[1:3], " email ", *CONTRACT_COLUMNS[4:]]

    assert check_header(names) == CONTRACT_COLUMNS


def test_bom_on_a_reordered_first_column_is_removed() -> None:
    names = ["\ufeffstatus", *[name for name in CONTRACT_COLUMNS if name != "status"]]

    assert check_header(names)[0] == "status"


def test_missing_columns_are_named() -> None:
    names = [name for name in CONTRACT_COLUMNS if name not in ("unit_price", "country")]

    message = _header_error(names)

    assert "missing" in message
    assert "unit_price" in message
    assert "country" in message


def test_unexpected_columns_are_named() -> None:
    message = _header_error([*CONTRACT_COLUMNS, "coupon_code"])

    assert "unexpected" in message
    assert "coupon_code" in message


def test_missing_and_unexpected_are_reported_together_on_one_line() -> None:
    names = ["orderid" if name == "order_id" else name for name in CONTRACT_COLUMNS]

    message = _header_error(names)

    assert "missing" in message
    assert "order_id" in message
    assert "unexpected" in message
    assert "orderid" in message


def test_a_renamed_column_differing_only_in_case_is_not_accepted() -> None:
    names = ["Email" if name == "email" else name for name in CONTRACT_COLUMNS]

    message = _header_error(names)

    assert "Email" in message
    assert "email" in message


def test_duplicated_column_is_named() -> None:
    message = _header_error([*CONTRACT_COLUMNS, "email"])

    assert "duplicated" in message
    assert "email" in message


def test_duplicated_column_in_place_of_a_missing_one_names_both() -> None:
    names = ["quantity" if name == "unit_price" else name for name in CONTRACT_COLUMNS]

    message = _header_error(names)

    assert "duplicated" in message
    assert "quantity" in message
    assert "missing" in message
    assert "unit_price" in message


def test_empty_header_names_every_missing_column() -> None:
    message = _header_error([])

    assert all(name in message for name in CONTRACT_COLUMNS)
