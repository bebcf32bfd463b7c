"""What an Altair chart on a page carries, as AppTest sees it: its Vega-Lite spec and the data
Streamlit sent with it (Arrow), so a test can check the numbers a user would read off it."""

import json
from typing import Any

import pandas as pd
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest


def charts(at: AppTest) -> list[tuple[dict[str, Any], pd.DataFrame]]:
    """(spec, data) of every chart on the page, in page order (one dataset per chart here)."""
    found = []
    for chart in at.get("vega_lite_chart"):
        proto = chart.proto
        frames = [convert_arrow_bytes_to_pandas_df(named.data.data) for named in proto.datasets]
        found.append((json.loads(proto.spec), frames[0] if frames else pd.DataFrame()))
    return found


def chart_data(at: AppTest, field: str) -> pd.DataFrame:
    """The data of the one chart whose data has a column named `field`."""
    matches = [data for _spec, data in charts(at) if field in data.columns]
    assert len(matches) == 1, f"{len(matches)} charts carry a column {field!r}"
    return matches[0]
