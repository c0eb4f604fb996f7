"""``zeroserve apply / get / delete``: kubectl-like commands for users without kubectl.

Thin clients of the API server through the ``kubernetes`` client: resources are resolved with the
server's discovery documents (plural, singular, short name or kind, optionally ``.group``), ``get``
prints the server's ``Table`` (its printer columns), ``apply`` creates or merge-patches each document.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["apply_command", "delete_command", "get_command"]

_log = logging.getLogger(__name__)

_TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


class CommandError(Exception):
    """A failure reported to the user as ``error: ...`` (or the server's ``Error from server ...``).

    Args:
        message: what went wrong.
        code: the HTTP status of a server error; 0 otherwise.
    """

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class _Kind:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...]

    @property
    def qualified(self) -> str:
        return f"{self.singular}.{self.group}" if self.group else self.singular

    def path(self, namespace: str | None, name: str = "") -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            prefix += f"/namespaces/{namespace}"
        return f"{prefix}/{self.plural}" + (f"/{name}" if name else "")


class _Api:
    """The few REST calls the commands need, over a configured ``kubernetes`` ApiClient."""

    def __init__(self, kubeconfig: Path) -> None:
        import kubernetes

        self.client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
        _contexts, current = kubernetes.config.list_kube_config_contexts(config_file=str(kubeconfig))
        self.namespace = (current or {}).get("context", {}).get("namespace") or "default"
        self._kinds: list[_Kind] | None = None

    def close(self) -> None:
        self.client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
        accept: str = "application/json",
        content_type: str = "application/json",
    ) -> Any:
        method_, url, headers, payload, _ = self.client.param_serialize(
            method,
            path,
            query_params=list((query or {}).items()),
            header_params={"Accept": accept, "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self.client.call_api(method_, url, header_params=headers, body=payload)
            response.read()
        except Exception as exc:
            _log.debug("%s %s failed", method, path, exc_info=True)
            where = self.client.configuration.host
            raise CommandError(
                f"cannot reach the API server at {where}: {_root_reason(exc)}; "
                "is the platform running? ('zeroserve status')"
            ) from None
        data = response.data
        if response.status >= 400:
            raise _server_error(response.status, data)
        return json.loads(data) if data else None

    def kinds(self) -> list[_Kind]:
        if self._kinds is None:
            found: list[_Kind] = []
            lists = [("", "v1", self.request("GET", "/api/v1"))]
            for group in self.request("GET", "/apis")["groups"]:
                for version in group["versions"]:
                    listing = self.request("GET", f"/apis/{version['groupVersion']}")
                    lists.append((group["name"], version["version"], listing))
            for group_name, version, listing in lists:
                for res in listing["resources"]:
                    if "/" in res["name"]:
                        continue
                    found.append(
                        _Kind(
                            group_name,
                            version,
                            res["name"],
                            res.get("singularName") or res["kind"].lower(),
                            res["kind"],
                            res["namespaced"],
                            tuple(res.get("shortNames") or ()),
                        )
                    )
            self._kinds = found
        return self._kinds

    def resolve(self, term: str) -> _Kind:
        name, _, group = term.partition(".")
        lowered = name.lower()
        for kind in self.kinds():
            if group and kind.group != group:
                continue
            names = {kind.plural, kind.singular, kind.kind.lower(), *kind.short_names}
            if lowered in names:
                return kind
        raise CommandError(f'the server doesn\'t have a resource type "{term}"')

    def kind_of(self, obj: dict[str, Any]) -> _Kind:
        api_version = str(obj.get("apiVersion", ""))
        group, _, version = api_version.rpartition("/")
        for kind in self.kinds():
            if (kind.group, kind.version, kind.kind) == (group, version, obj.get("kind")):
                return kind
        raise CommandError(f'no matches for kind "{obj.get("kind")}" in version "{api_version}"')


def _root_reason(exc: BaseException) -> str:
    """The innermost cause of a failed request in a few words (e.g. "connection refused"), not urllib3's
    nested retry and connection wrappers."""
    current = exc
    for _ in range(10):
        reason = getattr(current, "reason", None)
        nested = reason if isinstance(reason, BaseException) else current.__cause__ or current.__context__
        if nested is None:
            break
        current = nested
    if isinstance(current, OSError) and current.strerror:
        return current.strerror[:1].lower() + current.strerror[1:]
    return (str(current).splitlines() or ["the request failed"])[0]


def _server_error(code: int, body: bytes | None) -> CommandError:
    try:
        status = json.loads(body) if body else {}
    except ValueError:
        status = {}
    reason = status.get("reason") or "Error"
    message = status.get("message") or (body or b"").decode(errors="replace")
    return CommandError(f"Error from server ({reason}): {message}", code)


def _documents(files: list[str]) -> Iterator[dict[str, Any]]:
    for file in files:
        paths = (
            [file]
            if file == "-" or not Path(file).is_dir()
            else sorted(str(p) for p in Path(file).glob("*.y*ml"))
        )
        for path in paths:
            text = sys.stdin.read() if path == "-" else Path(path).read_text()
            for doc in yaml.safe_load_all(text):
                if not doc:
                    continue
                if doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
                    yield from doc["items"]
                else:
                    yield doc


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig", type=Path, help="kubeconfig (default: the platform's, in the state folder)"
    )
    parser.add_argument(
        "--state-dir", type=Path, help="platform state folder (default $ZEROSERVE_HOME or ~/.zeroserve)"
    )
    parser.add_argument("-n", "--namespace", help="namespace (default: the kubeconfig context's)")


def _open(args: argparse.Namespace) -> _Api:
    if args.kubeconfig:
        path = args.kubeconfig
    else:
        from zeroserve.local.apiserver import default_state_dir
        from zeroserve.local.kubeconfig import kubeconfig_path

        path = kubeconfig_path(Path(args.state_dir or default_state_dir()).expanduser())
    if not Path(path).exists():
        raise CommandError(f"{path} does not exist; run 'zeroserve up' first or pass --kubeconfig")
    return _Api(Path(path))


def _run(argv: list[str], parser: argparse.ArgumentParser, body: Any) -> int:
    args = parser.parse_args(argv)
    try:
        api = _open(args)
        try:
            return int(body(api, args))
        finally:
            api.close()
    except CommandError as exc:
        print(str(exc) if str(exc).startswith("Error from server") else f"error: {exc}", file=sys.stderr)
        return 1


def apply_command(argv: list[str]) -> int:
    """Create or update every object in the given files (``-f FILE``, ``-f -`` for stdin, or a folder).

    Args:
        argv: arguments after ``apply``.

    Returns:
        The exit code.
    """
    parser = argparse.ArgumentParser(
        prog="zeroserve apply", description="Create or update resources from YAML."
    )
    _common(parser)
    parser.add_argument(
        "-f", "--filename", action="append", required=True, help="file, folder or - (repeatable)"
    )

    def body(api: _Api, args: argparse.Namespace) -> int:
        failed = 0
        for doc in _documents(args.filename):
            kind = api.kind_of(doc)
            meta = doc.setdefault("metadata", {})
            namespace = (
                (meta.get("namespace") or args.namespace or api.namespace) if kind.namespaced else None
            )
            name = meta.get("name", "")
            try:
                current = api.request("GET", kind.path(namespace, name)) if name else None
            except CommandError as exc:
                if exc.code != 404:
                    raise
                current = None
            try:
                if current is None:
                    created = api.request("POST", kind.path(namespace), body=doc)
                    print(f"{kind.qualified}/{created['metadata']['name']} created")
                    continue
                patched = api.request(
                    "PATCH", kind.path(namespace, name), body=doc, content_type="application/merge-patch+json"
                )
            except CommandError as exc:
                print(str(exc), file=sys.stderr)
                failed += 1
                continue
            same = patched["metadata"]["resourceVersion"] == current["metadata"]["resourceVersion"]
            print(f"{kind.qualified}/{name} {'unchanged' if same else 'configured'}")
        return 1 if failed else 0

    return _run(argv, parser, body)


def _print_table(table: dict[str, Any], with_namespace: bool, wide: bool) -> None:
    columns = [
        (i, c["name"].upper())
        for i, c in enumerate(table["columnDefinitions"])
        if wide or not c.get("priority")
    ]
    rows = []
    for row in table.get("rows", []):
        cells = ["" if row["cells"][i] is None else str(row["cells"][i]) for i, _ in columns]
        if with_namespace:
            cells.insert(0, row.get("object", {}).get("metadata", {}).get("namespace", ""))
        rows.append(cells)
    headers = (["NAMESPACE"] if with_namespace else []) + [name for _, name in columns]
    widths = [max(len(x) for x in column) for column in zip(headers, *rows, strict=False)]
    for line in [headers, *rows]:
        print("   ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False)).rstrip())


def get_command(argv: list[str]) -> int:
    """List or show resources, with the server's printer columns, YAML or JSON.

    Args:
        argv: arguments after ``get``.

    Returns:
        The exit code.
    """
    parser = argparse.ArgumentParser(prog="zeroserve get", description="List or show resources.")
    _common(parser)
    parser.add_argument("kind", help="resource type: plural, singular, short name or kind (e.g. isvc)")
    parser.add_argument("name", nargs="?", default="")
    parser.add_argument("-A", "--all-namespaces", action="store_true")
    parser.add_argument("-l", "--selector", help="label selector")
    parser.add_argument("-o", "--output", choices=("table", "wide", "yaml", "json", "name"), default="table")

    def body(api: _Api, args: argparse.Namespace) -> int:
        kind = api.resolve(args.kind)
        namespace = None if args.all_namespaces else (args.namespace or api.namespace)
        query = {"labelSelector": args.selector} if args.selector else {}
        path = kind.path(namespace, args.name)
        if args.output in ("table", "wide"):
            table = api.request("GET", path, query=query, accept=_TABLE)
            if not table.get("rows"):
                where = "" if namespace is None or not kind.namespaced else f" in {namespace} namespace"
                print(f"No resources found{where}.", file=sys.stderr)
                return 0
            _print_table(table, args.all_namespaces and kind.namespaced, args.output == "wide")
            return 0
        result = api.request("GET", path, query=query)
        if args.output == "name":
            items = [result] if args.name else result.get("items", [])
            for item in items:
                print(f"{kind.qualified}/{item['metadata']['name']}")
        elif args.output == "json":
            print(json.dumps(result, indent=2))
        else:
            sys.stdout.write(yaml.safe_dump(result, sort_keys=False))
        return 0

    return _run(argv, parser, body)


def delete_command(argv: list[str]) -> int:
    """Delete resources by type and name, or every object in files.

    Args:
        argv: arguments after ``delete``.

    Returns:
        The exit code.
    """
    parser = argparse.ArgumentParser(prog="zeroserve delete", description="Delete resources.")
    _common(parser)
    parser.add_argument("kind", nargs="?", help="resource type (with names), or use -f")
    parser.add_argument("names", nargs="*")
    parser.add_argument("-f", "--filename", action="append", help="file, folder or - (repeatable)")
    parser.add_argument("--ignore-not-found", action="store_true")

    def body(api: _Api, args: argparse.Namespace) -> int:
        targets: list[tuple[_Kind, str | None, str]] = []
        if args.filename:
            for doc in _documents(args.filename):
                kind = api.kind_of(doc)
                meta = doc.get("metadata", {})
                namespace = (
                    (meta.get("namespace") or args.namespace or api.namespace) if kind.namespaced else None
                )
                targets.append((kind, namespace, meta.get("name", "")))
        elif args.kind and args.names:
            kind = api.resolve(args.kind)
            targets += [(kind, args.namespace or api.namespace, name) for name in args.names]
        else:
            raise CommandError("give a resource type and names, or -f FILE")
        failed = 0
        for kind, namespace, name in targets:
            try:
                api.request("DELETE", kind.path(namespace, name), body={"propagationPolicy": "Background"})
                print(f'{kind.qualified} "{name}" deleted')
            except CommandError as exc:
                if exc.code == 404 and args.ignore_not_found:
                    continue
                print(str(exc), file=sys.stderr)
                failed += 1
        return 1 if failed else 0

    return _run(argv, parser, body)
