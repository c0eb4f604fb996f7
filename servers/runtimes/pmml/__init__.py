"""The PMML runtime: a pure-Python PMML reader (no Java) serving ``model.pmml`` over V1 and V2.

Supported: RegressionModel, GeneralRegressionModel (simple forms), TreeModel, MiningModel
(segmentation: sum, average, weighted average, median, max, majority votes, select first, and model
chains as sklearn2pmml writes gradient boosting) and NeuralNetwork (feed-forward), with the
transformations and predicates listed in :mod:`.document`; see :mod:`.models` and :mod:`.neural`.
Other model elements (SupportVectorMachineModel, NaiveBayesModel, ...) are not supported: loading
such a document fails with a message naming the element.
"""

from zeroserve.servers.runtimes.pmml.document import PMMLError
from zeroserve.servers.runtimes.pmml.reader import InvalidRecord, PMMLDocument
from zeroserve.servers.runtimes.pmml.runtime import PMMLModel, PMMLOptions

__all__ = ["InvalidRecord", "PMMLDocument", "PMMLError", "PMMLModel", "PMMLOptions"]
