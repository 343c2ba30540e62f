"""Request routing: for every request moto rebuilds the service's URL table, and for S3 first reloads
moto.s3.urls (its URLs may depend on environment variables). The table depends only on the backend class
and that environment, which does not change while an engine runs: it is built once per backend class."""

from __future__ import annotations

from typing import Any

from ..patch import Patch, Target


class UrlTables(Patch):
    NAME = "url_tables"
    SPEEDUP = True
    TARGETS = (Target("moto.core.base_backend", "BaseBackend.urls", ("self",)),)  # a property

    def install(self) -> None:
        from moto.core.base_backend import BaseBackend

        orig_urls = BaseBackend.urls
        url_tables: dict[type, Any] = {}

        def urls(backend: Any) -> Any:
            table = url_tables.get(type(backend))
            if table is None:
                table = url_tables[type(backend)] = orig_urls.fget(backend)
            return table

        self.set(BaseBackend, "urls", property(urls))
