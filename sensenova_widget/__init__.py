"""SenseNova's multimodal chat in Jupyter: `Client`, `ChatPanel`, `%%sensenova`, `caption()` and `extract()`.

Names are imported lazily so that `import sensenova_widget` stays cheap: it pulls in neither
pandas, numpy, PIL nor anywidget until the name that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "Client": "client.client",
    "Reply": "client.client",
    "Delta": "client.client",
    "Stream": "client.client",
    "PreparedRequest": "client.client",
    "Params": "params",
    "Conversation": "conversation.conversation",
    "Turn": "conversation.turns",
    "Answer": "conversation.turns",
    "to_part": "media",
    "MediaOptions": "media",
    "image": "media",
    "video": "media",
    "file_id": "media",
    "ChatPanel": "panel.widget",
    "conversations": "conversation.store",
    "delete_conversation": "conversation.store",
    "rename_conversation": "conversation.store",
    "caption": "captions",
    "extract": "captions",
    "show_captions": "captions",
    "Emulator": "emulator",
    "connect": "client.connection",
    "SenseNovaError": "errors",
    "InvalidRequestError": "errors",
    "AuthenticationError": "errors",
    "PermissionDeniedError": "errors",
    "NotFoundError": "errors",
    "ConflictError": "errors",
    "RateLimitError": "errors",
    "QuotaExceededError": "errors",
    "ServerError": "errors",
    "APIConnectionError": "errors",
    "APITimeoutError": "errors",
    "StreamError": "errors",
    "MediaError": "errors",
    "ContextLengthError": "errors",
    "ContentFilterError": "errors",
    "UsageError": "errors",
    "PanelBusyError": "errors",
    "CaptionError": "captions",
    "StoreError": "conversation.store",
    "UnknownConversationError": "conversation.store",
}

__all__ = sorted(_EXPORTS) + ["load_ipython_extension"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sensenova_widget' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext sensenova_widget` registers `%%sensenova` and `%sensenova`."""
    from .magic.magic import load_ipython_extension as load

    load(ipython)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .captions import CaptionError, caption, extract, show_captions
    from .client.client import Client, Delta, PreparedRequest, Reply, Stream
    from .client.connection import connect
    from .conversation.conversation import Conversation
    from .conversation.store import (
        StoreError,
        UnknownConversationError,
        conversations,
        delete_conversation,
        rename_conversation,
    )
    from .conversation.turns import Answer, Turn
    from .emulator import Emulator
    from .errors import *  # noqa: F403
    from .media import MediaOptions, file_id, image, to_part, video
    from .panel.widget import ChatPanel
    from .params import Params
