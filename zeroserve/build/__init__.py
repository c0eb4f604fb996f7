"""``zeroserve build DIR -t IMAGE``: a model folder becomes an image, and an image the embedded platform runs.

- :mod:`.source`: reading the folder (``Model.py`` or a kserve model module, ``requirements.txt``,
  ``.s2i/environment``) into a :class:`~.source.ModelSource`, with one-line errors naming file and line.
- :mod:`.context`: the build context (a Dockerfile FROM our model-server image) and the builders
  (podman, docker, buildah) that build it.
- :mod:`.environment`: the folder's own virtual environment for local runs, cached by content hash.
- :mod:`.registry`: the registry of built images under the platform's state folder, which the local
  engine's image table consults first.
"""
