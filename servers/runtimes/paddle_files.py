"""A PaddlePaddle model folder: finding the program + weights pair and reading the program's signature.

``paddle.jit.save(layer, "DIR/model")`` writes a program and its weights side by side: Paddle 3 (PIR,
its default) ``model.json`` + ``model.pdiparams``, earlier releases (or ``FLAGS_enable_pir_api=0``)
``model.pdmodel`` + ``model.pdiparams``; KServe's samples name them ``inference.*``. Any stem is taken;
the folder's top level is searched first, its sub-folders only when it holds none.

The program is checked here before Paddle sees it (Paddle's loader crashes the process on a
``.pdmodel`` that is not a program), and its feeds and fetches give the inputs' and outputs' shapes.
The ``.pdmodel`` reader needs Paddle's own protobuf classes, imported when a model loads.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zeroserve.servers.runtimes.errors import AmbiguousModelError, ModelFormatError, ModelMissingError

__all__ = ["PROGRAM_SUFFIXES", "PaddleFiles", "find_paddle_model", "program_shapes"]

PROGRAM_SUFFIXES = (".json", ".pdmodel")
"""The program's file name endings: Paddle 3's PIR JSON, the earlier ProgramDesc protobuf."""
WEIGHTS_SUFFIX = ".pdiparams"
_EXPECTED = (
    "a program <name>.json (Paddle 3) or <name>.pdmodel with its weights <name>.pdiparams next to it, "
    "as paddle.jit.save writes them"
)


@dataclass(frozen=True)
class PaddleFiles:
    """One saved model: the program file and its weights file."""

    program: Path
    params: Path

    @property
    def layout(self) -> str:
        """``pir`` for a ``.json`` program, ``pdmodel`` for the earlier protobuf one."""
        return "pir" if self.program.suffix == ".json" else "pdmodel"


def find_paddle_model(where: Path) -> PaddleFiles:
    """The single program + weights pair in ``where`` (a folder, or the program file itself).

    Raises:
        ModelMissingError: the folder does not exist, or holds no complete pair; the message names the
            folder, what it holds and the files expected.
        AmbiguousModelError: several pairs, or one name with both a ``.json`` and a ``.pdmodel``.
    """
    if where.is_file():
        if where.suffix not in PROGRAM_SUFFIXES:
            raise ModelMissingError(f"paddle: model file {where} is not a program: expected {_EXPECTED}")
        params = where.with_suffix(WEIGHTS_SUFFIX)
        if not params.is_file():
            raise ModelMissingError(f"paddle: program {where} has no weights file {params.name} next to it")
        return PaddleFiles(where, params)
    if not where.is_dir():
        raise ModelMissingError(f"paddle: model folder {where} does not exist")
    pairs = _pairs(where, recursive=False) or _pairs(where, recursive=True)
    if not pairs:
        raise ModelMissingError(
            f"paddle: no PaddlePaddle model in {where}: expected {_EXPECTED}; {_holds(where)}"
        )
    if len(pairs) > 1:
        names = ", ".join(f"{p.program.relative_to(where)} + {p.params.name}" for p in pairs)
        raise AmbiguousModelError(
            f"paddle: expected exactly one model ({_EXPECTED}) in {where}, found {len(pairs)}: {names}"
        )
    return pairs[0]


def _pairs(folder: Path, *, recursive: bool) -> list[PaddleFiles]:
    hits = folder.rglob(f"*{WEIGHTS_SUFFIX}") if recursive else folder.glob(f"*{WEIGHTS_SUFFIX}")
    pairs = []
    for params in sorted(p for p in hits if p.is_file() and not p.name.startswith(".")):
        programs = [params.with_suffix(s) for s in PROGRAM_SUFFIXES if params.with_suffix(s).is_file()]
        if len(programs) > 1:
            names = " and ".join(p.name for p in programs)
            raise AmbiguousModelError(
                f"paddle: {params.parent} holds both {names} for {params.name}; keep one program "
                "(.json for Paddle 3, .pdmodel for earlier releases)"
            )
        if programs:
            pairs.append(PaddleFiles(programs[0], params))
    return pairs


def _holds(folder: Path) -> str:
    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    if not names:
        return "the folder is empty"
    listed = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    orphans = [n for n in names if n.endswith((WEIGHTS_SUFFIX, ".pdmodel"))]
    hint = ""
    if orphans:
        stem = orphans[0].rsplit(".", 1)[0]
        missing = (
            f"{stem}{WEIGHTS_SUFFIX}" if orphans[0].endswith(".pdmodel") else f"{stem}.json or {stem}.pdmodel"
        )
        hint = f" ({orphans[0]} has no {missing} next to it)"
    return f"it holds {listed}{hint}"


def program_shapes(files: PaddleFiles) -> tuple[dict[str, tuple[int, ...]], list[tuple[int, ...]]]:
    """The program's input shapes by feed name and its output shapes in fetch order (``-1``: free).

    Raises:
        ModelFormatError: the program file is not a Paddle program of its kind; the message names it.
    """
    if files.layout == "pir":
        return _pir_shapes(files.program)
    return _pdmodel_shapes(files.program)


def _not_a_program(path: Path, kind: str, why: str) -> ModelFormatError:
    return ModelFormatError(f"paddle: {path} is not a Paddle program ({kind}): {why}")


def _pir_shapes(path: Path) -> tuple[dict[str, tuple[int, ...]], list[tuple[int, ...]]]:
    kind = "PIR JSON, as paddle.jit.save writes it in Paddle 3"
    try:
        doc = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise _not_a_program(path, kind, f"not JSON ({exc})") from None
    magic = (doc.get("base_code") or {}).get("magic") if isinstance(doc, dict) else None
    if magic != "pir" or not isinstance(doc.get("program"), dict):
        raise _not_a_program(path, kind, 'no "base_code": {"magic": "pir"} and "program"')
    inputs: dict[str, tuple[int, ...]] = {}
    outputs: list[tuple[int, ...]] = []
    try:
        ops = doc["program"]["regions"][0]["blocks"][0]["ops"]
        for op in ops:
            kind_of = str(op.get("#", ""))
            if kind_of.endswith(".data"):
                attrs = {a.get("N"): (a.get("AT") or {}).get("D") for a in op.get("A") or []}
                inputs[str(attrs.get("name"))] = _dims(attrs.get("shape"))
            elif kind_of.endswith(".fetch"):
                outputs.append(_dims(op["O"][0]["TT"]["D"][1]))
    except (KeyError, IndexError, TypeError, AttributeError):
        raise _not_a_program(path, kind, "its program has no readable block of operations") from None
    return inputs, outputs


def _pdmodel_shapes(path: Path) -> tuple[dict[str, tuple[int, ...]], list[tuple[int, ...]]]:
    from google.protobuf.message import DecodeError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # importing Paddle warns (no ccache ...)
        from paddle.base.proto import framework_pb2

    kind = "a ProgramDesc protobuf, as paddle.jit.save writes it before Paddle 3"
    protos: Any = framework_pb2  # generated protobuf classes: no attributes mypy can see
    desc = protos.ProgramDesc()
    try:
        desc.ParseFromString(path.read_bytes())
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise _not_a_program(path, kind, f"it does not parse ({exc})") from None
    if not desc.blocks:
        raise _not_a_program(path, kind, "it has no blocks")
    block = desc.blocks[0]
    variables = {v.name: v for v in block.vars}
    inputs: dict[str, tuple[int, ...]] = {}
    outputs: list[tuple[int, ...]] = []
    for op in block.ops:
        if op.type == "feed":
            for name in (a for slot in op.outputs for a in slot.arguments):
                inputs[name] = _var_dims(variables.get(name))
        elif op.type == "fetch":
            for name in (a for slot in op.inputs for a in slot.arguments):
                outputs.append(_var_dims(variables.get(name)))
    if not inputs:
        raise _not_a_program(path, kind, "it has no feed operations (no inputs)")
    return inputs, outputs


def _var_dims(var: Any) -> tuple[int, ...]:
    if var is None:
        return ()
    try:
        return _dims(list(var.type.dense_tensor.tensor.dims))
    except AttributeError:
        return ()


def _dims(dims: Any) -> tuple[int, ...]:
    if not isinstance(dims, list):
        return ()
    return tuple(d if isinstance(d, int) and d >= 0 else -1 for d in dims)
