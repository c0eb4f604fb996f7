"""A mixed-type scikit-learn pipeline fitted on a DataFrame, as in KServe's mixed-type sklearn sample.

A ``ColumnTransformer`` scales the numeric columns (``age``, ``fare``) and one-hot encodes the string
columns (``sex``, ``embarked``) before a logistic regression; it is fitted on a pandas DataFrame, so
the served model takes records, dict-of-lists and V2 one-input-per-column requests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zeroserve.servers.samples import Sample

__all__ = ["ROWS", "build", "training_frame"]

ROWS: dict[str, list[Any]] = {
    "age": [22.0, 38.0, 26.0, 35.0],
    "fare": [7.25, 71.28, 7.93, 53.1],
    "sex": ["male", "female", "female", "male"],
    "embarked": ["S", "C", "S", "Q"],
}
"""The request's rows, column by column."""


def training_frame(n: int = 200, seed: int = 0) -> Any:
    """A synthetic passenger table ``(X, y)``: two numeric and two string columns."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    sex = rng.choice(["male", "female"], n)
    embarked = rng.choice(["S", "C", "Q"], n)
    age = rng.uniform(1, 80, n).round(1)
    fare = rng.gamma(2.0, 15.0, n).round(2)
    score = (sex == "female") * 2.0 + (embarked == "C") * 0.5 + fare / 40.0 - age / 40.0
    y = (score + rng.normal(0, 0.5, n) > 0.6).astype(int)
    return pd.DataFrame({"age": age, "fare": fare, "sex": sex, "embarked": embarked}), y


def build(folder: Path) -> Sample:
    """Fit the pipeline, write ``model.joblib`` into ``folder`` and predict :data:`ROWS` in-process."""
    import joblib
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = training_frame()
    pipeline = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [
                        ("numbers", StandardScaler(), ["age", "fare"]),
                        ("strings", OneHotEncoder(handle_unknown="ignore"), ["sex", "embarked"]),
                    ]
                ),
            ),
            ("classifier", LogisticRegression()),
        ]
    ).fit(X, y)
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, folder / "model.joblib")
    expected = pipeline.predict(pd.DataFrame(ROWS)).tolist()
    records = [dict(zip(ROWS, values, strict=True)) for values in zip(*ROWS.values(), strict=True)]
    v2_inputs = [
        {
            "name": name,
            "shape": [len(values)],
            "datatype": "BYTES" if isinstance(values[0], str) else "FP64",
            "data": values,
        }
        for name, values in ROWS.items()
    ]
    return Sample(
        model_format="sklearn",
        model_dir=folder,
        v1_request={"instances": [ROWS]},
        v2_request={"inputs": v2_inputs},
        expected=expected,
        tolerance=0.0,
        runtime="kserve-sklearnserver",
        extra={"records_request": {"instances": records}, "v2_output": "output-0"},
    )
