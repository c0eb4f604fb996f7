"""GJSON paths: the language of an InferenceGraph step's ``condition``, over parsed JSON values.

KServe evaluates a step's ``condition`` with ``gjson.GetBytes(body, condition).Exists()``
(github.com/tidwall/gjson). This module implements the part of GJSON's path syntax that graph
conditions use, with GJSON's observable results:

- keys and nested paths ``a.b.c``, array indexes ``a.0``, escapes ``a\\.b``, wildcards ``a*``/``b?``;
- ``#`` (array length; ``a.#.b`` maps ``b`` over the array's elements);
- queries ``#(path op value)`` (first match) and ``#(...)#`` (all matches), operators
  ``== = != < <= > >= % !%``, an empty left side meaning the element itself (``#(=="x")``), a bare
  path meaning "exists" (``#(b)``), nested queries, GJSON's loose typing (a number compared with
  ``"1"`` parses the string; a boolean only supports ``==``/``!=`` and GJSON's odd ordering);
- the pipe ``|`` (stops a ``#`` mapping), multipaths ``[p1,p2]`` and ``{p1,p2}``, and the modifiers
  ``@this``, ``@reverse``, ``@keys``, ``@values``, ``@flatten``.

Unlike GJSON, which silently returns nothing for a malformed path, :func:`compile_path` raises
:class:`GJSONSyntaxError`. The language lives with the API types because it is part of the graph's
contract: :mod:`~zeroserve.apis.serving.v1alpha1.validation` refuses a condition that can never be
evaluated (for the controller, the API server and the router alike), and the router evaluates the
compiled paths.
"""

from zeroserve.apis.serving.v1alpha1.gjson.path import GJSONPath, compile_path
from zeroserve.apis.serving.v1alpha1.gjson.syntax import GJSONSyntaxError, Result

__all__ = ["GJSONPath", "GJSONSyntaxError", "Result", "compile_path"]
