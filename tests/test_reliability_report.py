"""docs/reliability.md lists exactly the cases the marked tests prove, with the outcomes they assert."""
from __future__ import annotations

import pytest

from tests import reliability


def test_every_marked_case_is_in_the_report_as_tested(request):
    cases = request.session.reliability_cases
    if not cases:
        pytest.skip("no marked test collected in this session: run it together with them")
    assert reliability.REPORT.exists(), "docs/reliability.md is missing: run the whole suite once"
    documented = reliability.rows_of(reliability.REPORT.read_text())
    missing = [c for c in cases if (c.case, c.outcome, c.test) not in documented]
    assert not missing, f"marked cases not (or differently) in docs/reliability.md: {missing}"


def test_the_report_lists_nothing_that_no_test_proves(request):
    collected_all = len(request.session.items) == request.session.testscollected
    tested = {(c.case, c.outcome, c.test) for c in request.session.reliability_cases}
    documented = reliability.rows_of(reliability.REPORT.read_text()) if reliability.REPORT.exists() else set()
    files = {item.nodeid.split("::")[0] for item in request.session.items}
    # Rows of test files this session collected must each be backed by a marked test.
    stale = [row for row in documented if row[2].split("::")[0] in files and row not in tested]
    assert not stale or not collected_all, f"docs/reliability.md has rows no marked test backs: {stale}"
