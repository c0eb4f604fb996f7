"""``kserve.utils``: KServe's helper module (``kserve.utils.utils``)."""

from kserve.utils import utils
from kserve.utils.utils import generate_uuid, get_predict_input, get_predict_response, strtobool

__all__ = ["generate_uuid", "get_predict_input", "get_predict_response", "strtobool", "utils"]
