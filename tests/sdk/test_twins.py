"""Every SDK example builds exactly its YAML twin in ``examples/``, gets the same report from the
shared validator (no error), and is shown verbatim in docs/SDK.md (so the guide's code is the
code the tests run)."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.sdk.examples import EXAMPLES, ROOT, TWINS, build, twin
from zenflow.api.jobflow import JobFlow
from zenflow.core.validation.validator import validate_object


@pytest.mark.parametrize("module", sorted(TWINS))
def test_sdk_example_equals_its_yaml_twin(module: str) -> None:
    flow = build(module)
    assert flow.to_model() == twin(module)
    assert JobFlow.model_validate(yaml.safe_load(flow.to_yaml())) == twin(module)
    report = flow.validate()
    assert report.ok, report.summary()
    # Warnings (allowed, but worth a look) are the YAML twin's, no more.
    assert report == validate_object(yaml.safe_load((EXAMPLES / TWINS[module]).read_text()))


def test_docs_show_every_example_verbatim() -> None:
    guide = (ROOT / "docs" / "SDK.md").read_text()
    blocks = re.findall(r"<!-- example: (\S+) -->\n```python\n(.*?)```", guide, re.DOTALL)
    shown = dict(blocks)
    assert set(shown) == {f"examples/sdk/{m}.py" for m in TWINS}
    for name, code in shown.items():
        assert code == (EXAMPLES.parent / name).read_text(), f"docs/SDK.md shows a stale {name}"
