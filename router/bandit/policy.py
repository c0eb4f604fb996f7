"""Bandit policies over a node's steps (arms), after Seldon's ``mab_epsilon_greedy`` and
``mab_thompson_sampling`` routers.

Both treat a reward in [0, 1] as the success fraction of one routed request (a Bernoulli bandit):

- **EpsilonGreedy** routes to the current best arm with probability 1 - epsilon, otherwise to one of
  the other arms uniformly. The best arm starts as the step with the largest Splitter weight and is
  then the arm with the highest mean reward (ties broken at random).
- **ThompsonSampling** keeps a Beta(1 + successes, 1 + failures) posterior per arm and routes to
  the arm whose sample is largest.

Policies are pure apart from their injected ``random.Random``, so a seed makes them reproducible.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from zeroserve.router.plan import BanditConfig, BanditStrategy, Node

__all__ = ["ArmStats", "BanditPolicy", "EpsilonGreedy", "ThompsonSampling", "make_policy"]


@dataclass(slots=True)
class ArmStats:
    """What a policy knows about one arm (step)."""

    step: str
    routed: int = 0
    """Requests routed to the arm."""
    feedback: int = 0
    """Rewards received."""
    reward: float = 0.0
    """Sum of the rewards received."""

    @property
    def mean(self) -> float:
        """The mean reward, 0 before any feedback."""
        return self.reward / self.feedback if self.feedback else 0.0


class BanditPolicy(Protocol):
    """Chooses arms and learns from rewards."""

    arms: list[ArmStats]

    def choose(self) -> int:
        """The index of the arm to route to."""
        ...

    def update(self, arm: int, reward: float) -> None:
        """Learn a reward in [0, 1] for ``arm``."""
        ...


class _Base:
    def __init__(self, arms: list[ArmStats], rng: random.Random) -> None:
        self.arms = arms
        self.rng = rng

    def update(self, arm: int, reward: float) -> None:
        stats = self.arms[arm]
        stats.feedback += 1
        stats.reward += reward

    def snapshot(self) -> list[dict[str, Any]]:
        return [asdict(a) for a in self.arms]


class EpsilonGreedy(_Base):
    """Epsilon-greedy routing.

    Args:
        arms: one entry per step, in step order.
        rng: the random source.
        epsilon: the exploration probability.
        best: the initial best arm.
    """

    def __init__(self, arms: list[ArmStats], rng: random.Random, *, epsilon: float, best: int) -> None:
        super().__init__(arms, rng)
        self.epsilon = epsilon
        self.best = best
        if any(a.feedback for a in arms):
            self._elect()

    def choose(self) -> int:
        """Exploit the best arm, or explore another one with probability epsilon."""
        if len(self.arms) > 1 and self.rng.random() < self.epsilon:
            others = [i for i in range(len(self.arms)) if i != self.best]
            return self.rng.choice(others)
        return self.best

    def update(self, arm: int, reward: float) -> None:
        """Add the reward and re-elect the best arm."""
        super().update(arm, reward)
        self._elect()

    def _elect(self) -> None:
        top = max(a.mean for a in self.arms)
        leaders = [i for i, a in enumerate(self.arms) if a.mean == top]
        if self.best not in leaders:
            self.best = self.rng.choice(leaders)


class ThompsonSampling(_Base):
    """Thompson sampling with Beta(1, 1) priors."""

    def choose(self) -> int:
        """Sample every arm's posterior and take the largest sample."""
        samples = [self.rng.betavariate(1.0 + a.reward, 1.0 + a.feedback - a.reward) for a in self.arms]
        return max(range(len(samples)), key=samples.__getitem__)


def make_policy(
    node: Node, config: BanditConfig, arms: list[ArmStats], rng: random.Random
) -> EpsilonGreedy | ThompsonSampling:
    """Build the policy a node's bandit config names.

    Args:
        node: the Splitter node (its weights pick EpsilonGreedy's initial best arm).
        config: the bandit config.
        arms: the arms' stats, restored or fresh, in step order.
        rng: the policy's random source.

    Returns:
        The policy.
    """
    if config.strategy is BanditStrategy.EPSILON_GREEDY:
        weights = [s.weight or 0 for s in node.steps]
        return EpsilonGreedy(arms, rng, epsilon=config.epsilon, best=weights.index(max(weights)))
    return ThompsonSampling(arms, rng)
