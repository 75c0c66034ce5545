"""The README's generated sections match the code (regenerate with `.venv/bin/cog -r README.md`)."""

from __future__ import annotations

import pathlib

from cogapp import Cog

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_readme_generated_sections_are_current():
    status = Cog().main(["cog", "--check", str(README)])
    assert status == 0, "README.md is stale: run `.venv/bin/cog -r README.md`"
