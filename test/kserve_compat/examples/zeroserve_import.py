"""A KServe-style custom model after changing only its import to ``zeroserve.servers``: started from
``__main__`` with ``ModelServer().start([model])``, it binds the ``--http_port`` / ``--grpc_port``
given on its command line, as KServe's ``ModelServer`` does."""

from zeroserve.servers import Model, ModelServer


class Echo(Model):
    def load(self) -> bool:
        self.ready = True
        return self.ready

    def predict(self, payload, headers=None):  # type: ignore[no-untyped-def]
        return {"predictions": payload["instances"]}


if __name__ == "__main__":
    model = Echo("m")
    model.load()
    ModelServer().start([model])
