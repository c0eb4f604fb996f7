"""The pure-Python PMML runtime against the scikit-learn models the documents were written from."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from zeroserve.servers.runtimes import ModelFormatError, RuntimeRegistry
from zeroserve.servers.runtimes.pmml import PMMLDocument, PMMLModel
from zeroserve.servers.samples import Sample
from zeroserve.servers.samples import pmml as pmml_sample
from zeroserve.servers.testing import ThreadedServer, serve_in_thread

# A hand-written document using derived fields, compound and set predicates and a weighted vote.
HANDWRITTEN = textwrap.dedent(
    """\
    <?xml version="1.0"?>
    <PMML xmlns="http://www.dmg.org/PMML-4_3" version="4.3">
      <DataDictionary>
        <DataField name="colour" optype="categorical" dataType="string">
          <Value value="red"/><Value value="green"/><Value value="blue"/>
        </DataField>
        <DataField name="size" optype="continuous" dataType="double"/>
        <DataField name="label" optype="categorical" dataType="string">
          <Value value="small"/><Value value="big"/>
        </DataField>
      </DataDictionary>
      <TransformationDictionary>
        <DerivedField name="double_size" optype="continuous" dataType="double">
          <Apply function="*"><FieldRef field="size"/><Constant>2</Constant></Apply>
        </DerivedField>
      </TransformationDictionary>
      <MiningModel functionName="classification">
        <MiningSchema>
          <MiningField name="label" usageType="target"/>
          <MiningField name="colour"/>
          <MiningField name="size" missingValueReplacement="1"/>
        </MiningSchema>
        <Segmentation multipleModelMethod="weightedMajorityVote">
          <Segment id="a" weight="2">
            <True/>
            <TreeModel functionName="classification" noTrueChildStrategy="returnLastPrediction">
              <MiningSchema><MiningField name="colour"/><MiningField name="size"/></MiningSchema>
              <Node score="small"><True/>
                <Node score="big">
                  <CompoundPredicate booleanOperator="and">
                    <SimpleSetPredicate field="colour" booleanOperator="isIn">
                      <Array type="string" n="2">red "blue"</Array>
                    </SimpleSetPredicate>
                    <SimplePredicate field="double_size" operator="greaterThan" value="10"/>
                  </CompoundPredicate>
                </Node>
              </Node>
            </TreeModel>
          </Segment>
          <Segment id="b" weight="1">
            <SimplePredicate field="colour" operator="equal" value="green"/>
            <TreeModel functionName="classification">
              <MiningSchema><MiningField name="size"/></MiningSchema>
              <Node score="big"><True/></Node>
            </TreeModel>
          </Segment>
        </Segmentation>
      </MiningModel>
    </PMML>
    """
)


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return X, np.array(pmml_sample.SPECIES)[y]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    return pmml_sample.build(tmp_path_factory.mktemp("pmml"))


@pytest.fixture(scope="module")
def server(sample: Sample) -> Iterator[ThreadedServer]:
    with serve_in_thread([RuntimeRegistry.builtin().create("pmml", "iris-pmml", sample.model_dir)]) as srv:
        yield srv


def _probabilities(rows: list[dict[str, Any]], classes: list[str]) -> np.ndarray:
    return np.array([[row[f"probability({c})"] for c in classes] for row in rows])


def test_v1_rows_and_records_match_sklearn(server: ThreadedServer, sample: Sample) -> None:
    resp = httpx.post(f"{server.http_url}/v1/models/iris-pmml:predict", json=sample.v1_request)
    assert resp.status_code == 200, resp.text
    got = resp.json()["predictions"]
    assert [r["species"] for r in got] == [r["species"] for r in sample.expected]
    np.testing.assert_allclose(
        _probabilities(got, pmml_sample.SPECIES),
        _probabilities(sample.expected, pmml_sample.SPECIES),
        atol=1e-12,
    )
    records = [dict(zip(pmml_sample.FEATURES, row, strict=True)) for row in sample.v1_request["instances"]]
    resp = httpx.post(f"{server.http_url}/v1/models/iris-pmml:predict", json={"instances": records})
    assert resp.json()["predictions"] == got


def test_v2_rest_and_grpc_one_output_per_field(server: ThreadedServer, sample: Sample) -> None:
    resp = httpx.post(f"{server.http_url}/v2/models/iris-pmml/infer", json=sample.v2_request)
    assert resp.status_code == 200, resp.text
    outputs = {o["name"]: o for o in resp.json()["outputs"]}
    assert outputs["species"]["datatype"] == "BYTES"
    assert outputs["species"]["data"] == [r["species"] for r in sample.expected]
    rows = np.asarray(sample.v1_request["instances"], dtype=np.float64)
    with grpcclient.InferenceServerClient(server.grpc_target) as client:
        tensors = []
        for j, name in enumerate(pmml_sample.FEATURES):  # one input per field
            tensor = grpcclient.InferInput(name, [len(rows)], "FP64")
            tensor.set_data_from_numpy(rows[:, j].copy())
            tensors.append(tensor)
        result = client.infer("iris-pmml", tensors)
    species = [s.decode() for s in result.as_numpy("species")]
    assert species == [r["species"] for r in sample.expected]
    np.testing.assert_allclose(
        result.as_numpy("probability(virginica)"), [r["probability(virginica)"] for r in sample.expected]
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"instances": [[1.0, 2.0]]}, "must be 4 values in the order ['sepal_length'"),
        ({"instances": [{"sepal_length": 1, "petal": 2}]}, "unknown field(s) ['petal']"),
        ({"instances": [["x", 1, 2, 3]]}, "field 'sepal_length': 'x' is not a float"),
    ],
)
def test_bad_rows_are_400_naming_the_field(
    server: ThreadedServer, body: dict[str, Any], message: str
) -> None:
    resp = httpx.post(f"{server.http_url}/v1/models/iris-pmml:predict", json=body)
    assert resp.status_code == 400
    assert message in resp.json()["error"]


def test_logistic_regression_and_boosting_chain(tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]) -> None:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    X, labels = iris
    logistic = LogisticRegression(max_iter=1000).fit(X, labels)
    pmml_sample.save(
        pmml_sample.logistic_document(logistic, pmml_sample.FEATURES, "species", list(logistic.classes_)),
        tmp_path / "lr" / "model.pmml",
    )
    model = PMMLModel("lr", tmp_path / "lr")
    model.load()
    got = model.predict({"instances": X.tolist()})["predictions"]
    np.testing.assert_allclose(
        _probabilities(got, list(logistic.classes_)), logistic.predict_proba(X), atol=1e-12
    )
    assert [r["species"] for r in got] == logistic.predict(X).tolist()

    binary = np.where(labels == "virginica", "yes", "no")
    boosting = GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=0).fit(X, binary)
    pmml_sample.save(
        pmml_sample.boosting_document(boosting, pmml_sample.FEATURES, "species", list(boosting.classes_)),
        tmp_path / "gbm" / "model.pmml",
    )
    model = PMMLModel("gbm", tmp_path / "gbm")
    model.load()
    got = model.predict({"instances": X.tolist()})["predictions"]
    assert "decisionFunction(1)" not in got[0]  # not a final result
    np.testing.assert_allclose(
        [r["probability(yes)"] for r in got], boosting.predict_proba(X)[:, 1], atol=1e-12
    )
    assert [r["species"] for r in got] == boosting.predict(X).tolist()


def test_regression_tree(tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]) -> None:
    from sklearn.tree import DecisionTreeRegressor

    X = iris[0]
    tree = DecisionTreeRegressor(max_depth=4, random_state=0).fit(X[:, :3], X[:, 3])
    pmml_sample.save(
        pmml_sample.forest_document(tree, pmml_sample.FEATURES[:3], "width", None), tmp_path / "m.pmml"
    )
    model = PMMLModel("tree", tmp_path)
    model.load()
    got = [r["width"] for r in model.predict({"instances": X[:, :3].tolist()})["predictions"]]
    np.testing.assert_allclose(got, tree.predict(X[:, :3]), atol=1e-12)


@pytest.mark.parametrize(
    ("record", "label"),
    [
        ({"colour": "red", "size": 6}, "big"),  # segment a only: big (2 votes)
        ({"colour": "blue", "size": 4}, "small"),  # double_size 8 is not > 10
        ({"colour": "green", "size": 9}, "small"),  # a says small (2), b says big (1)
        ({"colour": "red"}, "small"),  # missing size replaced by 1
    ],
)
def test_handwritten_document(record: dict[str, Any], label: str) -> None:
    import xml.etree.ElementTree as ET

    document = PMMLDocument(ET.fromstring(HANDWRITTEN.split("\n", 1)[1]))
    assert document.active_fields == ["colour", "size"]
    assert document.evaluate(record)["label"] == label


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not xml at all", "not an XML document"),
        (
            '<PMML xmlns="http://www.dmg.org/PMML-4_4"><DataDictionary/>'
            '<SupportVectorMachineModel functionName="regression"/></PMML>',
            "no supported model element (found <SupportVectorMachineModel>)",
        ),
        (
            '<PMML><DataDictionary/><TreeModel functionName="regression"><MiningSchema/>'
            "<Node><MysteryPredicate/></Node></TreeModel></PMML>",
            "predicate <MysteryPredicate> is not supported",
        ),
    ],
)
def test_unsupported_documents_fail_loading_naming_the_element(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "model.pmml").write_text(text)
    with pytest.raises(ModelFormatError, match=r"model\.pmml: ") as info:
        PMMLModel("bad", tmp_path).load()
    assert message in str(info.value)


@pytest.mark.parametrize("binary", [False, True])
def test_neural_network(tmp_path: Path, iris: tuple[np.ndarray, np.ndarray], binary: bool) -> None:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, labels = iris
    if binary:
        labels = np.where(labels == "setosa", "setosa", "other")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=(6, 4), max_iter=200, random_state=0).fit(X, labels)
    classes = list(mlp.classes_)
    pmml_sample.save(
        pmml_sample.mlp_document(mlp, pmml_sample.FEATURES, "species", classes), tmp_path / "m.pmml"
    )
    model = PMMLModel("mlp", tmp_path)
    model.load()
    got = model.predict({"instances": X.tolist()})["predictions"]
    np.testing.assert_allclose(_probabilities(got, classes), mlp.predict_proba(X), atol=1e-9)
    assert [r["species"] for r in got] == mlp.predict(X).tolist()


TRANSFORMS = """
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <DataDictionary>
    <DataField name="x" optype="continuous" dataType="double"/>
    <DataField name="city" optype="categorical" dataType="string"/>
    <DataField name="y" optype="continuous" dataType="double"/>
  </DataDictionary>
  <TransformationDictionary>
    <DerivedField name="x_norm" optype="continuous" dataType="double">
      <NormContinuous field="x">
        <LinearNorm orig="0" norm="0"/><LinearNorm orig="10" norm="1"/>
      </NormContinuous>
    </DerivedField>
    <DerivedField name="band" optype="continuous" dataType="double">
      <Discretize field="x" defaultValue="9">
        <DiscretizeBin binValue="1">
          <Interval closure="closedOpen" leftMargin="0" rightMargin="5"/>
        </DiscretizeBin>
        <DiscretizeBin binValue="2">
          <Interval closure="closedClosed" leftMargin="5" rightMargin="10"/>
        </DiscretizeBin>
      </Discretize>
    </DerivedField>
    <DerivedField name="city_code" optype="continuous" dataType="double">
      <MapValues outputColumn="code" defaultValue="0">
        <FieldColumnPair field="city" column="name"/>
        <InlineTable><row><name>Oslo</name><code>100</code></row><row><name>Rome</name><code>200</code></row></InlineTable>
      </MapValues>
    </DerivedField>
    <DerivedField name="x_or_zero" optype="continuous" dataType="double">
      <Apply function="if"><Apply function="isMissing"><FieldRef field="x"/></Apply>
        <Constant>0</Constant><FieldRef field="x"/></Apply>
    </DerivedField>
  </TransformationDictionary>
  <RegressionModel functionName="regression">
    <MiningSchema>
      <MiningField name="y" usageType="target"/><MiningField name="x"/><MiningField name="city"/>
    </MiningSchema>
    <RegressionTable intercept="0">
      <NumericPredictor name="x_norm" coefficient="1000"/>
      <NumericPredictor name="band" coefficient="10000"/>
      <NumericPredictor name="city_code" coefficient="1"/>
      <CategoricalPredictor name="city" value="Rome" coefficient="0.5"/>
      <NumericPredictor name="x_or_zero" coefficient="0.01"/>
    </RegressionTable>
  </RegressionModel>
</PMML>
"""


@pytest.mark.parametrize(
    ("record", "y"),
    [
        ({"x": 2.5, "city": "Oslo"}, 250 + 10000 + 100 + 0.025),
        ({"x": 5.0, "city": "Rome"}, 500 + 20000 + 200 + 0.5 + 0.05),
        ({"x": 10.0, "city": "Lima"}, 1000 + 20000 + 0 + 0.1),
    ],
)
def test_transformations(record: dict[str, Any], y: float) -> None:
    import xml.etree.ElementTree as ET

    document = PMMLDocument(ET.fromstring(TRANSFORMS))
    assert document.evaluate(record)["y"] == pytest.approx(y)


def _category(category: str | None) -> str:
    return f'targetCategory="{category}" ' if category else ""


def _general_regression(
    model_type: str, betas: dict[str | None, list[float]], target: str, classes: list[str]
) -> str:
    """A GeneralRegressionModel over the iris features: one parameter per feature plus an intercept."""
    features = pmml_sample.FEATURES
    fields = "".join(f'<DataField name="{f}" optype="continuous" dataType="double"/>' for f in features)
    values = "".join(f'<Value value="{c}"/>' for c in classes)
    optype = "categorical" if classes else "continuous"
    kind = "string" if classes else "double"
    function = "classification" if classes else "regression"
    parameters = "".join(f'<Parameter name="p{j}"/>' for j in range(len(features) + 1))
    covariates = "".join(f'<Predictor name="{f}"/>' for f in features)
    cells = "".join(
        f'<PPCell value="1" predictorName="{f}" parameterName="p{j + 1}"/>' for j, f in enumerate(features)
    )
    pcells = "".join(
        f"<PCell {_category(c)}parameterName={chr(34)}p{j}{chr(34)} beta={chr(34)}{float(b)!r}{chr(34)}/>"
        for c, bs in betas.items()
        for j, b in enumerate(bs)
    )
    schema = f'<MiningField name="{target}" usageType="target"/>' + "".join(
        f'<MiningField name="{f}"/>' for f in features
    )
    return (
        f'<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><DataDictionary>{fields}'
        f'<DataField name="{target}" optype="{optype}" dataType="{kind}">{values}</DataField>'
        "</DataDictionary>"
        f'<GeneralRegressionModel modelType="{model_type}" functionName="{function}">'
        f"<MiningSchema>{schema}</MiningSchema><ParameterList>{parameters}</ParameterList>"
        f"<CovariateList>{covariates}</CovariateList><PPMatrix>{cells}</PPMatrix>"
        f"<ParamMatrix>{pcells}</ParamMatrix></GeneralRegressionModel></PMML>"
    )


def test_general_regression(iris: tuple[np.ndarray, np.ndarray]) -> None:
    import xml.etree.ElementTree as ET

    from sklearn.linear_model import LinearRegression, LogisticRegression

    X, labels = iris
    linear = LinearRegression().fit(X[:, :4], X[:, 0] * 2 + X[:, 3])
    text = _general_regression("regression", {None: [linear.intercept_, *linear.coef_]}, "y", [])
    document = PMMLDocument(ET.fromstring(text))
    got = [document.evaluate(dict(zip(pmml_sample.FEATURES, row, strict=True)))["y"] for row in X]
    np.testing.assert_allclose(got, linear.predict(X), atol=1e-9)

    binary = np.where(labels == "virginica", "yes", "no")
    logistic = LogisticRegression(max_iter=1000).fit(X, binary)
    betas: dict[str | None, list[float]] = {"yes": [logistic.intercept_[0], *logistic.coef_[0]]}
    document = PMMLDocument(
        ET.fromstring(_general_regression("logisticRegression", betas, "s", ["no", "yes"]))
    )
    got = [
        document.evaluate(dict(zip(pmml_sample.FEATURES, row, strict=True)))["probability(yes)"] for row in X
    ]
    np.testing.assert_allclose(got, logistic.predict_proba(X)[:, 1], atol=1e-9)
