"""The InferenceGraph router: runs one KServe ``InferenceGraph`` (plus zeroserve's bandit nodes).

- :mod:`.planner`: graph JSON -> :class:`~.plan.ExecutableGraph` (pure), valid by the rules of
  :mod:`zeroserve.apis.serving.v1alpha1` that the controller applies (every error with its field path;
  the condition language, GJSON, lives there too).
- :mod:`.executors`: one executor per node type (Sequence, Switch, Ensemble, Splitter, bandit).
- :mod:`.client` / :mod:`.aiohttp_client`: step calls on one injected, pooled client (aiohttp by
  default, or httpx); :mod:`.headers`: which headers travel to the steps.
- :mod:`.bandit`: epsilon-greedy and Thompson-sampling routing, feedback and persisted state.
- :mod:`.app`: the ASGI app (``create_app``); :mod:`.cli`: ``zeroserve router``.

Nothing is imported here, so ``import zeroserve.router`` stays free of side effects and cheap.
"""
