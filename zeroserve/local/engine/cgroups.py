"""CPU limits of process instances: a cgroup per instance where one can be made, else a throttle.

Kubernetes gives every container a cgroup whose CPU quota is its ``resources.limits.cpu``. Locally
the engine does the same for process instances (containers get the engine's ``--cpus``), with the
best mechanism this machine offers, found once (:meth:`CpuControl.probe`) and logged once:

1. ``cgroup2``: a group with ``cpu.max`` (``<quota> <period>``) under the engine's own cgroup in the
   unified hierarchy, where the ``cpu`` controller can be enabled there (a delegated subtree);
2. ``cgroup1``: a group with ``cpu.cfs_quota_us``/``cpu.cfs_period_us`` under the engine's own cgroup
   of the ``cpu`` controller's hierarchy, where it is writable (root);
3. ``throttle``: otherwise a duty cycle over the instance's process group, as ``cpulimit`` does
   (see :mod:`.cputhrottle`);
4. ``none`` when the throttle is turned off: the limit is not enforced, and the log says why.

Groups live in ``zeroserve-<hash of the state folder>/<namespace>.<revision>.<engine pid>.<n>``: one
per instance (each replica has its own quota, as pods do). The instance joins its group before it runs
any code of its own (the zygote's child and a fresh process's ``preexec`` write their pid into the
group first thing), so whatever it forks lands there too. A group is removed when its instance exits
(processes still in it are killed first, as a pod's are), the parent with its last group (made again
for the next one), and empty leftovers of a crashed platform are removed when the next one first
probes. No failure here stops an instance: each is a warning.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CpuControl", "CpuGroup", "CpuStat"]

_LOG = logging.getLogger(__name__)
_PERIOD_US = 100_000
"""The scheduling period of a quota (Kubernetes' and the kernel's default, 100 ms)."""
_MIN_QUOTA_US = 1_000
"""The kernel's smallest quota (1 ms per period)."""


@dataclass(frozen=True)
class CpuStat:
    """How often and how long an instance was held back by its CPU limit."""

    periods: int
    """Enforcement periods that have elapsed (cgroup ``nr_periods``; throttle: its ticks)."""
    throttled_periods: int
    """Periods in which it was held back (``nr_throttled``)."""
    throttled_seconds: float
    """Total time it was held back (``throttled_time``/``throttled_usec``)."""


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _own_cgroups() -> tuple[str | None, str | None]:
    """The engine's cgroup in the unified hierarchy and in v1's ``cpu`` one (``/proc/self/cgroup``)."""
    unified = cpu = None
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and not parts[1]:
            unified = parts[2]
        elif "cpu" in parts[1].split(","):
            cpu = parts[2]
    return unified, cpu


def _mounts() -> tuple[tuple[Path, str] | None, tuple[Path, str] | None]:
    """Where the unified hierarchy and the v1 ``cpu`` hierarchy are mounted, with each mount's root."""
    unified = cpu = None
    for line in _read(Path("/proc/self/mountinfo")).splitlines():
        fields = line.split()
        try:
            fstype = fields[fields.index("-") + 1]
            options = fields[fields.index("-") + 3].split(",")
        except (ValueError, IndexError):
            continue
        if fstype == "cgroup2" and unified is None:
            unified = (Path(fields[4]), fields[3])
        elif fstype == "cgroup" and "cpu" in options and cpu is None:
            cpu = (Path(fields[4]), fields[3])
    return unified, cpu


def _below(mount: tuple[Path, str], own: str) -> Path:
    """The folder of cgroup ``own`` in a hierarchy mounted at ``mount`` (whose root may be a subtree)."""
    path, root = mount
    rel = own[len(root) :] if root != "/" and own.startswith(root) else own
    return path / rel.lstrip("/")


def default_cgroup_root() -> tuple[Path | None, str]:
    """The engine's own cgroup folder of the hierarchy that has the ``cpu`` controller.

    Returns:
        The folder (``None``: none found) and, without one, why.
    """
    own_unified, own_cpu = _own_cgroups()
    unified, cpu = _mounts()
    if unified is not None and own_unified is not None:
        folder = _below(unified, own_unified)
        if "cpu" in _read(folder / "cgroup.controllers").split():
            return folder, ""
    if cpu is not None and own_cpu is not None:
        return _below(cpu, own_cpu), ""
    if unified is not None:
        return None, "the unified cgroup hierarchy has no cpu controller here and no cgroup v1 cpu is mounted"
    return None, "no cgroup file system with the cpu controller is mounted"


class CpuGroup:
    """One instance's cgroup."""

    def __init__(self, path: Path, version: int, cpus: float) -> None:
        """Describe a group that exists (see :meth:`CpuControl.group`).

        Args:
            path: its folder.
            version: 1 or 2.
            cpus: its quota in cores.
        """
        self.path = path
        self.version = version
        self.cpus = cpus

    @property
    def mechanism(self) -> str:
        """``cgroup1`` or ``cgroup2``."""
        return f"cgroup{self.version}"

    @property
    def procs_file(self) -> str:
        """The file a process writes its pid into to join the group."""
        return str(self.path / "cgroup.procs")

    def pids(self) -> list[int]:
        """The processes in the group."""
        return [int(p) for p in _read(self.path / "cgroup.procs").split() if p.isdigit()]

    def add(self, pid: int) -> bool:
        """Move a process into the group (its later children follow it).

        Args:
            pid: the process.

        Returns:
            Whether it is in the group (a failure is logged as a warning).
        """
        try:
            _write(self.path / "cgroup.procs", str(pid))
        except OSError as err:
            if err.errno == errno.ESRCH:
                return False
            _LOG.warning("cannot move process %d into its CPU cgroup %s: %s", pid, self.path, err)
            return False
        return True

    def stat(self) -> CpuStat | None:
        """The group's throttling counters (``cpu.stat``), ``None`` when unreadable."""
        values: dict[str, int] = {}
        for line in _read(self.path / "cpu.stat").splitlines():
            key, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                values[key] = int(value)
        if "nr_periods" not in values:
            return None
        throttled = values.get("throttled_usec", 0) / 1e6 if self.version == 2 else 0.0
        if self.version == 1:
            throttled = values.get("throttled_time", 0) / 1e9
        return CpuStat(values["nr_periods"], values.get("nr_throttled", 0), throttled)

    def remove(self, wait: float = 2.0) -> bool:
        """Kill what is still in the group (an instance's leftover children), then remove it.

        Args:
            wait: seconds to wait for those processes to go.

        Returns:
            Whether the group is gone (a failure is logged as a warning).
        """
        deadline = time.monotonic() + wait
        while True:
            try:
                self.path.rmdir()
                with contextlib.suppress(OSError):  # the engine's parent goes with its last group
                    self.path.parent.rmdir()
                return True
            except FileNotFoundError:
                return True
            except OSError as err:
                if err.errno != errno.EBUSY or time.monotonic() > deadline:
                    _LOG.warning("cannot remove the CPU cgroup %s: %s", self.path, err)
                    return False
            for pid in self.pids():
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)


class CpuControl:
    """The engine's CPU limits of process instances: which mechanism, and the groups it makes."""

    def __init__(self, state_dir: Path, root: Path | None = None, *, throttle: bool = True) -> None:
        """Describe the control; :meth:`probe` finds the mechanism on first use.

        Args:
            state_dir: the platform's state folder (its hash names the engine's parent group).
            root: the cgroup folder to make groups under (``None``: the engine's own cgroup).
            throttle: fall back to the duty-cycle throttle when no cgroup can be used.
        """
        self.label = hashlib.sha256(str(Path(state_dir).resolve()).encode()).hexdigest()[:16]
        self._root = root
        self._throttle = throttle
        self._mechanism: str | None = None
        self.reason = ""
        """Why no cgroup is used (empty when one is)."""
        self.parent: Path | None = None
        """The engine's parent group (``zeroserve-<hash>``), once probed with a cgroup mechanism."""
        self._version = 0
        self._made_under: Path | None = None
        self._ids = 0

    @property
    def mechanism(self) -> str:
        """``cgroup2``, ``cgroup1``, ``throttle`` or ``none`` (probed on first use)."""
        if self._mechanism is None:
            self.probe()
        assert self._mechanism is not None
        return self._mechanism

    def probe(self) -> str:
        """Find the mechanism (once), remove empty leftover groups, and log what is used.

        Returns:
            The mechanism.
        """
        if self._mechanism is not None:
            return self._mechanism
        root, why = (self._root, "") if self._root is not None else default_cgroup_root()
        if root is not None:
            why = self._prepare(root)
        if not why:
            self._mechanism = f"cgroup{self._version}"
            removed = self.sweep()
            _LOG.info(
                "CPU limits of process instances: cgroup v%d groups under %s%s",
                self._version,
                self.parent,
                f" ({removed} leftover group(s) of an earlier run removed)" if removed else "",
            )
        else:
            self.reason = why
            self._mechanism = "throttle" if self._throttle else "none"
            how = (
                "a SIGSTOP/SIGCONT duty cycle over each instance's process group (coarser than a cgroup)"
                if self._throttle
                else "not enforced (ZEROSERVE_ENGINE_CPU_THROTTLE is off)"
            )
            _LOG.warning("CPU limits of process instances: %s, because %s", how, why)
        return self._mechanism

    def _prepare(self, root: Path) -> str:
        """Make the parent group under ``root``; returns why it cannot be used (empty: it can)."""
        if (root / "cgroup.controllers").exists():
            version = 2
            if "cpu" not in _read(root / "cgroup.controllers").split():
                return f"the cgroup {root} has no cpu controller (cgroup.controllers)"
        elif (root / "cpu.cfs_quota_us").exists():
            version = 1
        else:
            return f"{root} is not a cgroup with the cpu controller (no cpu.cfs_quota_us, cgroup.controllers)"
        parent = root / f"zeroserve-{self.label}"
        try:
            if version == 2 and "cpu" not in _read(root / "cgroup.subtree_control").split():
                _write(root / "cgroup.subtree_control", "+cpu")
            parent.mkdir(exist_ok=True)
            if version == 2 and "cpu" not in _read(parent / "cgroup.subtree_control").split():
                _write(parent / "cgroup.subtree_control", "+cpu")
        except OSError as err:
            if err.errno == errno.EBUSY:  # cgroup v2: no controller below a group that has processes
                return (
                    f"the cpu controller cannot be enabled below {root}: processes run in it (start the "
                    "platform in a delegated cgroup of its own: systemd-run --user --scope -p Delegate=yes)"
                )
            return f"the cgroup {root} is not writable here ({err.strerror or err})"
        self.parent, self._version, self._made_under = parent, version, root
        return ""

    def sweep(self) -> int:
        """Remove the empty groups an earlier run of this platform left (ones in use stay: adopted).

        Returns:
            How many were removed.
        """
        removed = 0
        if self.parent is None:
            return removed
        with contextlib.suppress(OSError):
            for entry in self.parent.iterdir():
                if entry.is_dir():
                    with contextlib.suppress(OSError):
                        entry.rmdir()
                        removed += 1
        return removed

    def close(self) -> None:
        """Remove the engine's parent group when no group is left in it (the engine stops)."""
        if self.parent is not None:
            with contextlib.suppress(OSError):
                self.parent.rmdir()
                self.parent, self._mechanism = None, None  # a later use probes again

    def group(self, name: str, cpus: float) -> CpuGroup | None:
        """Make a new group with a quota of ``cpus`` cores.

        Args:
            name: what it is for (``<namespace>.<revision>``), made unique here.
            cpus: the quota in cores.

        Returns:
            The group, or ``None`` when no cgroup is used or it could not be made (logged).
        """
        if self.mechanism not in ("cgroup1", "cgroup2") or self.parent is None:
            return None
        self._ids += 1
        path = self.parent / f"{name}.{os.getpid()}.{self._ids}"
        quota = max(_MIN_QUOTA_US, round(cpus * _PERIOD_US))
        try:
            try:
                path.mkdir()
            except FileNotFoundError:  # the last group took the parent with it a moment ago
                assert self._made_under is not None
                self._prepare(self._made_under)
                path.mkdir()
            if self._version == 2:
                _write(path / "cpu.max", f"{quota} {_PERIOD_US}")
            else:
                _write(path / "cpu.cfs_period_us", str(_PERIOD_US))
                _write(path / "cpu.cfs_quota_us", str(quota))
        except OSError as err:
            _LOG.warning("cannot make the CPU cgroup %s (limit %g cores not enforced): %s", path, cpus, err)
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return CpuGroup(path, self._version, cpus)

    def group_of(self, pid: int, cpus: float) -> CpuGroup | None:
        """The group an adopted instance already runs in (made by an earlier run), if one of ours.

        Args:
            pid: the instance's process.
            cpus: its quota in cores.

        Returns:
            The group, or ``None`` when it is in none of this platform's groups.
        """
        if self.mechanism not in ("cgroup1", "cgroup2") or self.parent is None:
            return None
        prefix = f"/zeroserve-{self.label}/"
        for line in _read(Path(f"/proc/{pid}/cgroup")).splitlines():
            parts = line.split(":", 2)
            if len(parts) != 3 or prefix not in parts[2]:
                continue
            v2 = parts[0] == "0" and not parts[1]
            if v2 if self._version == 2 else "cpu" in parts[1].split(","):
                path = self.parent / parts[2].rsplit(prefix, 1)[1]
                if path.is_dir():
                    return CpuGroup(path, self._version, cpus)
        return None
