"""The engine's speed shortcuts: each module is one patch that makes moto (or botocore) redo less work
with the same answers, switchable on its own (``LocalEngine(caches={...})``); ../registry.py lists them."""
