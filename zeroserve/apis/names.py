"""Kubernetes name rules: DNS-1035 labels (KServe's InferenceService / InferenceGraph names and
Knative Service names) and DNS-1123 labels and subdomains."""

from __future__ import annotations

import re

__all__ = [
    "DNS1035_LABEL_MAX",
    "dns1035_label_errors",
    "dns1123_label_errors",
]

DNS1035_LABEL_MAX = 63
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def dns1035_label_errors(value: str) -> list[str]:
    """Why ``value`` is not a DNS-1035 label (what KServe requires of InferenceService names).

    Args:
        value: The name to check.

    Returns:
        Messages, empty when the name is valid.
    """
    problems: list[str] = []
    if len(value) > DNS1035_LABEL_MAX:
        problems.append(f"must be no more than {DNS1035_LABEL_MAX} characters")
    if not _DNS1035.match(value):
        problems.append(
            "must consist of lower case alphanumeric characters or '-', start with an alphabetic "
            "character, and end with an alphanumeric character (regex used for validation is "
            "'[a-z]([-a-z0-9]*[a-z0-9])?')"
        )
    return problems


def dns1123_label_errors(value: str) -> list[str]:
    """Why ``value`` is not a DNS-1123 label (Knative traffic tags, Kubernetes object names).

    Args:
        value: The name to check.

    Returns:
        Messages, empty when the name is valid.
    """
    problems: list[str] = []
    if len(value) > DNS1035_LABEL_MAX:
        problems.append(f"must be no more than {DNS1035_LABEL_MAX} characters")
    if not _DNS1123_LABEL.match(value):
        problems.append(
            "must consist of lower case alphanumeric characters or '-', and must start and end with "
            "an alphanumeric character (regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        )
    return problems
