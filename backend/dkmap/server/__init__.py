"""HTTP API: the app factory (`dkmap.server.app.create_app`) plus one blueprint per resource."""


def __getattr__(name: str):
    # Lazy, so importing one server module does not pull in the whole app.
    if name == "create_app":
        from dkmap.server.app import create_app

        return create_app
    raise AttributeError(f"module 'dkmap.server' has no attribute {name!r}")
