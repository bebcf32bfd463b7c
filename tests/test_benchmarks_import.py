"""The benchmarks are not run by the suite (they take minutes and a quiet machine), but they must
still start: each module imports against the current code, and the baseline API builds."""

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
# Streamlit scripts run their page when imported; they are served, not imported.
STREAMLIT_SCRIPTS = {"dashboard_baseline_app"}
MODULES = sorted(
    path.stem
    for path in BENCH.glob("*.py")
    if path.stem != "__init__" and path.stem not in STREAMLIT_SCRIPTS
)


@pytest.mark.parametrize("name", MODULES)
def test_the_benchmark_imports(name):
    importlib.import_module(f"bench.{name}")


def test_the_baseline_api_builds_and_describes_itself():
    from bench.baseline_app import create_app

    schema = create_app().openapi()

    assert "/aluno/checkin" in schema["paths"]
