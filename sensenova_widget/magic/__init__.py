"""`%%sensenova`: the cell magic, its output updated in place, fenced code in replies.

`use_client(client)` points the magic at a client of your own; `%load_ext sensenova_widget`
(or `sensenova_widget.magic`) registers it.
"""

from .magic import SenseNovaCellError, SenseNovaMagics, load_ipython_extension, use_client

__all__ = ["SenseNovaCellError", "SenseNovaMagics", "load_ipython_extension", "use_client"]
