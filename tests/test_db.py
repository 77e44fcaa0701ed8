"""Database URLs as users write them: normalised for our driver, never printed with a password."""
from __future__ import annotations

import pytest

from elt import db
from elt.errors import ConfigError


@pytest.mark.parametrize(
    "given",
    ["postgresql://u:pw@db.example:5433/shop", "postgres://u:pw@db.example:5433/shop", "postgresql+psycopg://u:pw@db.example:5433/shop"],
)
def test_any_postgres_url_uses_psycopg2(given):
    assert db.sqlalchemy_url(given) == "postgresql+psycopg2://u:pw@db.example:5433/shop"
    assert db.libpq_url(given) == "postgresql://u:pw@db.example:5433/shop"


def test_masked_url_hides_password():
    assert db.masked("postgresql://u:pw@db.example:5433/shop") == "postgresql://u:***@db.example:5433/shop"


def test_describe_host_for_tcp_and_socket():
    assert db.describe_host("postgresql://u:pw@db.example:5433/shop") == "db.example:5433/shop"
    assert db.describe_host("postgresql://postgres@/marketing?host=/srv/pg") == "/srv/pg/marketing"


@pytest.mark.parametrize("given", ["mysql://u:pw@h/db", "not a url"])
def test_non_postgres_url_is_refused(given):
    with pytest.raises(ConfigError):
        db.libpq_url(given)
