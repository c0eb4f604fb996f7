"""Seldon-style multi-armed bandits for Splitter nodes, which KServe lacks.

- :mod:`.policy`: EpsilonGreedy and ThompsonSampling over a node's steps, as Bernoulli bandits
  (a reward in [0, 1] is the success fraction of the request), seedable.
- :mod:`.store`: the learned state in ``<state-dir>/bandits.json``, written atomically.
- :mod:`.state`: the router's bandits: choosing steps, remembering decisions by request id, and
  applying ``POST /feedback``.
"""

from zeroserve.router.bandit.policy import (
    ArmStats,
    BanditPolicy,
    EpsilonGreedy,
    ThompsonSampling,
    make_policy,
)
from zeroserve.router.bandit.state import Bandits, Feedback
from zeroserve.router.bandit.store import BanditStore

__all__ = [
    "ArmStats",
    "BanditPolicy",
    "BanditStore",
    "Bandits",
    "EpsilonGreedy",
    "Feedback",
    "ThompsonSampling",
    "make_policy",
]
