"""The README's examples work as printed (the JSON bodies of its curl commands)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
BODIES = re.findall(r"curl [^\n]*-X POST (\S+) [^\n]*-d '(\{.*?\})'", README, flags=re.DOTALL)


def test_readme_starts_with_the_two_commands():
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert "make run" in first_block and "make test" in first_block


def test_readme_has_an_inline_request_to_try():
    assert BODIES, "the README should show at least one request body inline"


@pytest.fixture
def client(api):
    return api


@pytest.mark.parametrize(("url", "body"), BODIES)
def test_each_inline_request_in_the_readme_solves(client, url, body):
    path = "/" + url.split("/", 1)[1]
    response = client.post(path, json=json.loads(body))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "optimal"
