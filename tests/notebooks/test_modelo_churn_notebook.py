"""`notebooks/modelo_churn.ipynb` runs end to end against a small warehouse: a simulated gym
(400 members, 12 months) built by dbt into its own schema, a small forest so it stays quick.
The notebook is executed in a fresh `python3` kernel that inherits this process's environment
(DATABASE_URL of the test database, DBT_SCHEMA, FOREST_TREES)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from serving.simulator import simulate_gym
from serving.warehouse import dbt_build, dbt_env

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO_ROOT / "notebooks" / "modelo_churn.ipynb"
SCHEMA = "analytics_nb"


@pytest.fixture
def warehouse(db, settings, monkeypatch, tmp_path) -> str:
    """A simulated gym in the test database and its dbt build in SCHEMA (dropped first)."""
    db.execute(f"drop schema if exists {SCHEMA} cascade")
    monkeypatch.setenv("DBT_SCHEMA", SCHEMA)
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("FOREST_TREES", "50")
    monkeypatch.delenv("AS_OF", raising=False)
    # dbt_build writes DBT_HOST/DBT_DATABASE/... into os.environ: set them here so they are undone
    for name, value in dbt_env(settings.database_url).items():
        monkeypatch.setenv(name, value)
    simulate_gym(
        members=400,
        months=12,
        seed=5,
        database_url=settings.database_url,
        gym_timezone=settings.gym_timezone,
        redis_url=settings.redis_url,
        out_dir=tmp_path / "simulacao",
        progress=False,
        log=lambda *_: None,
    )
    result = dbt_build(settings.database_url, quiet=True)
    assert result.success, result.exception
    return SCHEMA


def outputs_text(cell) -> str:
    """Everything a cell showed: streams, results and displays (text and HTML)."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        data = output.get("data", {})
        parts += [str(data.get(kind, "")) for kind in ("text/plain", "text/html")]
    return "\n".join(parts)


def test_committed_without_outputs():
    """Outputs stay out of git so diffs show code and text only."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_notebook_runs_end_to_end(warehouse):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(REPO_ROOT)}},
    )
    client.execute()  # raises CellExecutionError, with the traceback, when a cell fails

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code)
    errors = [o for cell in code for o in cell.outputs if o.get("output_type") == "error"]
    assert errors == []

    tables = [outputs_text(cell) for cell in code if "roc_auc" in outputs_text(cell)]
    assert any("Random Forest" in text or "random_forest" in text for text in tables), (
        "no metrics table with the Random Forest row"
    )
    figures = sum(1 for cell in code for o in cell.outputs if "image/png" in o.get("data", {}))
    assert figures >= 5
