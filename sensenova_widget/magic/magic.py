"""`%%sensenova` and `%sensenova`: ask SenseNova about the notebook's own values from a cell.

```
%load_ext sensenova_widget
%%sensenova -i photo -i df.image[:3] --temperature 0.2
What differs between {label} and these three?
```

The cell body is the prompt, with `{expression}` filled in from the notebook (IPython's
`FullEvalFormatter`: any expression, slices included; `{{` and `}}` are literal braces; `$name`
is left alone, so prices and shell snippets survive). The reply streams into ONE output updated
in place and ends as rendered Markdown with a quiet footer.

The cell's value: the Reply is stored as the cell's result (`_`, `Out[n]`) and under `--out
NAME`, but the magic returns None, because returning it would make IPython print the same text
a second time under the streamed output.

Errors a person can act on come out as one line, never a traceback: a bad option raises
IPython's `UsageError` with the usage line; anything else raises `SenseNovaCellError`, whose
`_render_traceback_` (IPython's hook for custom tracebacks) is that one line.
"""

from __future__ import annotations

import ast
import html
import json
import os
import warnings
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.utils.process import arg_split
from IPython.utils.text import FullEvalFormatter

from .. import media, protocol
from ..client.messages import text_message
from ..errors import Interrupted, SenseNovaError
from ..params import Params
from ..render import output_html
from .display import LiveDisplay, footer_html, reasoning_html, reasoning_plain
from .fences import code_language, extract_code, mark_generated, parse_json

__all__ = ["SenseNovaMagics", "SenseNovaCellError", "load_ipython_extension", "use_client"]

FORMATS = ("markdown", "text", "code", "json")
PARAMETERS = tuple(protocol.PARAMETERS)  # every request parameter, in the table's order
CONVERSATION_KEYS = ("model", "system")  # set on the conversation; the others go with each turn
CONNECTION_KEYS = ("base_url", "file_base_url")
CONFIG_KEYS = PARAMETERS + CONNECTION_KEYS
LINE_USAGE = (
    "usage: %sensenova models | config [key=value ...] | chats | history NAME\n"
    "  config keys: " + ", ".join(CONFIG_KEYS)
)


class SenseNovaCellError(Exception):
    """An error the magic reports as its one-line message (IPython calls `_render_traceback_`)."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


class ReplyInterrupted(Interrupted):
    """The kernel was interrupted mid-reply: the partial text stays shown (and in `--out`)."""


def parameter_options(func: Callable) -> Callable:
    """The magic's option for each row of `protocol.PARAMETERS` (`--name VALUE`; a flag is
    `--name` / `--no-name`), so a new parameter is an option without a line here."""
    options: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    for spec in protocol.PARAMETERS.values():
        only = "" if spec.knows("native") else " (OpenAI-compatible endpoints only)"
        if spec.type is bool:
            flag, common = spec.option[-1], {"dest": spec.name, "action": "store_const"}
            options.append((spec.option, {**common, "const": True, "help": spec.description + only}))
            options.append(((f"--no-{flag[2:]}",), {**common, "const": False, "help": f"not {flag}"}))
            continue
        said = f"{spec.description}: {spec.allowed}" if spec.type in (int, float) else spec.description
        kind = {"type": spec.type} if spec.type in (int, float) else {}
        options.append((spec.option, dict(dest=spec.name, metavar=spec.metavar, help=said + only, **kind)))
    for flags, settings in reversed(options):  # decorators apply bottom-up
        func = argument(*flags, **settings)(func)
    return func


@magics_class
class SenseNovaMagics(Magics):
    """The session's client, its defaults (`%sensenova config`) and its named chats."""

    def __init__(self, shell: Any = None) -> None:
        super().__init__(shell)
        self.settings: dict[str, Any] = {}
        self.chats: dict[str, Any] = {}
        self._client: Any = None
        self._offered: dict[str, str] = {}  # the code last offered as the next cell, per magic cell

    # -- the client -------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """Made on first use from the environment (and `config base_url=`), or set by `use_client`."""
        if self._client is None:
            from ..client.client import Client

            self._client = Client(
                **{key: self.settings[key] for key in CONNECTION_KEYS if key in self.settings}
            )
        return self._client

    @client.setter
    def client(self, value: Any) -> None:
        self._client = value

    # -- %%sensenova -----------------------------------------------------------------------

    @magic_arguments(name="%sensenova")
    @parameter_options
    @argument(
        "-i",
        "--image",
        action="append",
        default=[],
        metavar="EXPR",
        help="an expression giving an image-like value or a list/tuple/Series of them, e.g. "
        '-i photo -i df.image[:3] -i "imgs[0]" (quote an expression with spaces); repeatable',
    )
    @argument(
        "-v", "--video", metavar="EXPR", help="an expression giving a video (frames, file, snw.video(...))"
    )
    @argument("--no-stream", action="store_true", help="wait for the whole reply instead of streaming it")
    @argument("-o", "--out", metavar="NAME", help="store the Reply in this variable")
    @argument(
        "-f",
        "--format",
        choices=FORMATS,
        default="markdown",
        metavar="FORMAT",
        help="markdown (default), text, code (offers the code as the next cell), json (pretty-printed)",
    )
    @argument("--chat", metavar="NAME", help="continue the named conversation across cells")
    @argument("--new", action="store_true", help="restart the --chat conversation")
    @cell_magic("sensenova")
    def sensenova_cell(self, line: str, cell: str) -> None:
        """Ask SenseNova: the cell body is the prompt, `{expression}` filled in from the notebook.

        The reply streams into the cell and ends as rendered Markdown. The Reply becomes the
        cell's result (`_`, `Out[n]`) and `--out NAME`; nothing is returned, so it is not shown twice.
        """
        args = self._parse(line)
        args.cell_key = _cell_key(self.shell, f"{line}\n{cell}")
        try:
            self._ask(args, cell)
        except SenseNovaError as err:
            raise SenseNovaCellError(err.one_line()) from None

    def _parse(self, line: str) -> Any:
        parser = self.sensenova_cell.parser
        usage = parser.format_usage().replace("::", "").strip()
        try:
            args = parser.parse_args(arg_split(line, posix=True))
        except (UsageError, ValueError) as err:  # ValueError: an unclosed quote
            raise UsageError(f"{err}\n{usage}") from None
        if args.out is not None and not args.out.isidentifier():
            raise UsageError(f"-o/--out {args.out!r}: expected a Python variable name\n{usage}")
        if args.new and not args.chat:
            raise UsageError(f"--new restarts a named chat: give --chat NAME too\n{usage}")
        return args

    def _ask(self, args: Any, cell: str) -> None:
        params = self._params(args)
        prompt = interpolate(cell, self.shell.user_ns).strip()
        client = self.client
        images = [part for expr in args.image for part in self._media_parts(expr, "-i", client)]
        video = self._media_parts(args.video, "-v", client)[0] if args.video else None
        if not prompt and not images and video is None:
            raise UsageError("The cell is empty: write the prompt under %%sensenova.")
        model = args.model or self.settings.get("model")
        system = args.system if args.system is not None else self.settings.get("system")
        if args.chat:
            conversation = self._conversation(args.chat, new=args.new, model=model, system=system)
            if args.system is not None:
                conversation.system = args.system  # a later cell may change the chat's system prompt
        else:
            conversation = self._one_off(model=model, system=system)
        call = dict(images=images, video=video, **params)
        if model:
            call["model"] = model  # the cell's or the session's current choice, each turn
        start = partial(conversation.stream, prompt, **call)
        wait = partial(conversation.ask, prompt, stream=False, **call)
        if args.no_stream:
            reply, failure = self._wait(wait, args)
        else:
            reply, failure = self._stream(start, args, conversation)
        if reply is not None:
            self._store(reply, args.out)
        if isinstance(failure, KeyboardInterrupt):
            if reply is None or not reply.text:
                raise ReplyInterrupted("stopped before any reply came.") from None
            kept = f" and in `{args.out}`" if args.out else ""
            raise ReplyInterrupted(f"the reply was stopped; the text received is kept above{kept}.") from None
        if failure is not None:
            raise failure

    def _params(self, args: Any) -> dict[str, Any]:
        """Each turn's parameters: the cell's options over the session's `config`, checked before sending."""
        params = {}
        for name in PARAMETERS:
            value = getattr(args, name)
            value = self.settings.get(name) if value is None else value
            if value is not None and name not in CONVERSATION_KEYS:
                params[name] = value
        Params.of(**params).check_dialect(self.client.api)  # each value, and what the endpoint takes
        return params

    def _media_parts(self, expr: str, option: str, client: Any) -> list[dict]:
        """Evaluate `expr` in the notebook and turn its value (or each of its items) into wire parts."""
        try:
            value = eval(expr, self.shell.user_ns)  # noqa: S307 - the notebook's own code, like a cell
        except Exception as err:
            raise SenseNovaCellError(f"{option} {expr}: {type(err).__name__}: {err}") from None
        if _is_frame(value):
            raise SenseNovaCellError(
                f"{option} {expr}: a DataFrame is not sent as images; caption its images row by row "
                f"with snw.caption({expr}, column, prompt), or give a column's images: "
                f'{option} "{expr}[column][:3]"'
            )
        items, kind = ([value], "video") if option == "-v" else (_items(value), "images")
        if not items:
            raise SenseNovaCellError(f"{option} {expr}: the value is empty, no image to send")
        parts = []
        for index, item in enumerate(items):
            try:  # through the client's seam: its MediaOptions, its uploads
                parts += client.media_parts(**{kind: [item]})
            except SenseNovaError as err:
                where = f" (item {index + 1} of {len(items)})" if len(items) > 1 else ""
                raise SenseNovaCellError(f"{option} {expr}{where}: {err.one_line()}") from None
        return parts

    def _one_off(self, *, model: str | None, system: str | None) -> Any:
        """A conversation of one turn for a cell without --chat (kept nowhere): the same path as
        a named chat, so both read how the reply ended from the conversation."""
        from ..conversation.conversation import Conversation  # (the client and requests load on first use)

        return Conversation(self.client, model=model, system=system)

    def _conversation(self, name: str, *, new: bool, model: str | None, system: str | None) -> Any:
        """The named chat: a saved conversation (the panel's store, `snw.conversations()` lists it),
        brought back from the store in a new kernel; `--new` forgets its turns."""
        from ..conversation.conversation import Conversation
        from ..conversation.store import StoreError

        conversation = self.chats.get(name)
        if conversation is None:
            try:
                conversation = Conversation(self.client, model=model, system=system, name=name)
            except StoreError as exc:
                warnings.warn(f"{exc} The chat {name!r} will not be saved.", RuntimeWarning, stacklevel=2)
                conversation = self._one_off(model=model, system=system)
            self.chats[name] = conversation
        if new:
            conversation.clear()
        conversation.client = self.client  # follows `config base_url=` and `use_client()`
        return conversation

    def _stream(
        self, start: Callable[[], Any], args: Any, conversation: Any
    ) -> tuple[Any, BaseException | None]:
        """Stream into one display; an interrupt or an error keeps the text that arrived.
        How the reply ended (stopped by the interrupt, say) is read from the conversation."""
        live = LiveDisplay().start()
        stream, failure = None, None
        try:
            stream = start()
            with stream:
                live.follow(((delta.text, delta.reasoning) for delta in stream), stop=conversation.stop)
        except KeyboardInterrupt as err:
            failure = err
            conversation.stop()
        except SenseNovaError as err:
            failure = SenseNovaCellError(err.one_line())
        reply = stream.reply if stream is not None else None
        if reply is None:
            live.finish({"text/plain": live.text or "(no reply: see the error below)"})
            return None, failure
        notes = []  # the reply's finish_reason says how it ended, "stopped" by the interrupt included
        if failure is not None and not isinstance(failure, KeyboardInterrupt):
            notes.append("Incomplete: the reply broke off with the error below.")
        self._show(live, reply, args.format, notes, args.cell_key)
        return reply, failure

    def _wait(self, wait: Callable[[], Any], args: Any) -> tuple[Any, BaseException | None]:
        live = LiveDisplay(placeholder="\u2026 waiting for the whole reply (--no-stream)").start()
        try:
            reply = wait()
        except KeyboardInterrupt as err:
            live.finish({"text/plain": "(interrupted before the reply came)"})
            return None, err
        except SenseNovaError as err:
            live.finish({"text/plain": "(no reply: see the error below)"})
            return None, SenseNovaCellError(err.one_line())
        self._show(live, reply, args.format, cell_key=args.cell_key)
        return reply, None

    def _show(
        self, live: LiveDisplay, reply: Any, fmt: str, notes: list[str] | None = None, cell_key: str = ""
    ) -> None:
        """The final rendering of a reply in the chosen format, with its footer."""
        text = reply.text or ""
        notes = list(notes or [])
        if fmt == "code":
            code = extract_code(text)
            notes.append(
                self._offer(mark_generated(code, code_language(text)), cell_key)
                if code
                else "No code in the reply."
            )
        notes += reply.footer_lines()
        reasoning = getattr(reply, "reasoning", "")
        seconds = live.thought_for() if reasoning else None
        thought_html, thought_plain = reasoning_html(reasoning, seconds), reasoning_plain(reasoning, seconds)
        if fmt == "text":
            live.finish({"text/plain": thought_plain + _with_notes(text, notes)})
        elif fmt == "json":
            try:
                shown = json.dumps(parse_json(text), indent=2, ensure_ascii=False)
            except ValueError as err:
                notes.insert(0, f"The reply is not JSON ({err}); shown as text.")
                shown = text
            live.finish(
                {
                    "text/html": thought_html + f"<pre>{html.escape(shown)}</pre>" + footer_html(notes),
                    "text/plain": thought_plain + _with_notes(shown, notes),
                }
            )
        else:
            live.finish(
                {
                    "text/html": thought_html + output_html(text) + footer_html(notes),
                    "text/plain": thought_plain + _with_notes(text, notes),
                }
            )

    def _offer(self, code: str, cell_key: str) -> str:
        """Offer the code as a new cell below this one (never run); the footer's note.

        JupyterLab and Notebook 7 insert a cell below for `replace=False` and overwrite the magic's
        own cell for `replace=True`; neither can replace the cell below. So the magic remembers
        what each cell offered: a cell run again offering the same code inserts nothing.
        """
        if self._offered.get(cell_key) == code:
            return "The same code was offered as the next cell by an earlier run: not inserted again."
        self._offered[cell_key] = code
        self.shell.set_next_input(code, replace=False)
        return "The code is offered as the next cell, marked as generated: review it before running it."

    def _store(self, reply: Any, out: str | None) -> None:
        """The Reply becomes the cell's result (`_`, `Out[n]`) without being displayed again."""
        if out:
            self.shell.user_ns[out] = reply
        self.shell.displayhook.update_user_ns(reply)

    # -- %sensenova -------------------------------------------------------------------------

    @line_magic("sensenova")
    def sensenova_line(self, line: str) -> None:
        """Session commands for %%sensenova.

        %sensenova models                  the models the service offers (* = the default)
        %sensenova config                  show the session defaults
        %sensenova config key=value ...    set defaults: model, system, temperature, top_p,
                                           max_new_tokens, repetition_penalty, base_url,
                                           file_base_url (`key=` resets one)
        %sensenova chats                   the saved chats (--chat NAME, panels) and their turns
        %sensenova history NAME            a chat's turns, media shown as [image] / [video]

        Credentials come from the environment (SENSENOVA_API_KEY, or SENSENOVA_ACCESS_KEY_ID and
        SENSENOVA_SECRET_ACCESS_KEY) or from `sensenova_widget.magic.magic.use_client(Client(...))`;
        they are never set here, so they never land in a saved notebook.
        """
        try:
            words = arg_split(line, posix=True)
        except ValueError as err:
            raise UsageError(f"{err}\n{LINE_USAGE}") from None
        command, rest = (words[0], words[1:]) if words else ("", [])
        commands = {
            "models": self._models,
            "config": self._config,
            "chats": self._chats,
            "history": self._history,
        }
        if command not in commands:
            said = f"unknown command {command!r}" if command else "a command is needed"
            raise UsageError(f"{said}\n{LINE_USAGE}")
        try:
            commands[command](rest)
        except SenseNovaError as err:
            raise SenseNovaCellError(err.one_line()) from None

    def _models(self, rest: list[str]) -> None:
        default = self.client.resolve_model(self.settings.get("model"))
        for model in self.client.model_list():
            reads = " (text only: no images)" if model.takes_images is False else ""
            print(("* " if model.id == default else "  ") + model.id + reads)

    def _config(self, rest: list[str]) -> None:
        for word in rest:
            key, sep, value = word.partition("=")
            if not sep or key not in CONFIG_KEYS:
                raise UsageError(
                    f"config {word!r}: expected key=value with key one of {', '.join(CONFIG_KEYS)}"
                )
            self._set(key, value)
        if not rest:
            try:
                client, note = self.client, None
            except SenseNovaError as err:  # no credentials yet: the settings can still be shown
                client, note = None, err.one_line()
            for key in CONFIG_KEYS:
                value = self.settings.get(key)
                print(f"{key} = {value!r}" if value is not None else f"{key} = ({_default(key, client)})")
            if note:
                print(note)

    def _set(self, key: str, value: str) -> None:
        if value == "":
            self.settings.pop(key, None)
        elif key in PARAMETERS:
            spec = protocol.PARAMETERS[key]
            typed: Any = value
            if spec.type is not str:
                try:
                    typed = ast.literal_eval({"true": "True", "false": "False"}.get(value, value))
                except (ValueError, SyntaxError):
                    typed = value
            try:
                spec.for_any_model.check(typed)
            except SenseNovaError as err:
                raise UsageError(f"config {key}={value}: {err.message}") from None
            self.settings[key] = typed
        else:
            self.settings[key] = value
        if key in CONNECTION_KEYS:
            self._client = None  # made again with the new address on next use

    def _chats(self, rest: list[str]) -> None:
        """The saved conversations (named chats and panels alike), most recent first."""
        from ..conversation.store import conversations

        saved = conversations()
        if not saved:
            print("No saved chats yet: start one with %%sensenova --chat NAME")
        for info in saved:
            print(f"{info.name}: {info.turns} turn{'s' if info.turns != 1 else ''}")

    def _history(self, rest: list[str]) -> None:
        if len(rest) != 1:
            raise UsageError(f"history takes one chat name\n{LINE_USAGE}")
        from ..conversation.store import UnknownConversationError, open_store

        name = rest[0]
        try:
            with open_store() as store:
                turns = store.load(name)
        except UnknownConversationError as exc:
            raise UsageError(str(exc)) from None
        for turn in turns:
            lines = [("user", turn.user_message())]
            if turn.answer is not None:
                lines.append(
                    ("assistant", text_message("assistant", turn.answer.text or turn.answer.error or ""))
                )
            for role, message in lines:
                label = f"{role}{' (refused)' if role == 'assistant' and turn.refused else ''}: "
                print(label + message_summary(message).replace("\n", "\n" + " " * len(label)))


# -- small pure helpers ------------------------------------------------------------------------


def interpolate(template: str, namespace: Mapping[str, Any]) -> str:
    """Fill `{expression}` from the namespace (IPython's FullEvalFormatter); `{{` is a brace."""
    formatter = FullEvalFormatter()
    try:
        return formatter.vformat(template, args=[], kwargs=namespace)
    except Exception as err:
        field = _failing_field(formatter, template, namespace)
        where = f"{{{field}}}" if field is not None else "the braces"
        raise SenseNovaCellError(
            f"The prompt's {where} could not be filled in: {type(err).__name__}: {err}. "
            "Write {{ and }} for literal braces."
        ) from None


def _failing_field(formatter: FullEvalFormatter, template: str, namespace: Mapping[str, Any]) -> str | None:
    try:
        fields = [
            (f + ":" + spec if spec else f) for _, f, spec, _ in formatter.parse(template) if f is not None
        ]
    except ValueError:
        return None
    for field in fields:
        try:
            eval(field, dict(namespace))  # noqa: S307 - same evaluation as the formatter's
        except Exception:
            return field
    return None


def _items(value: Any) -> list[Any]:
    """One image-like value, or each item of a list/tuple/Series/array of them."""
    if isinstance(value, (str, bytes, os.PathLike, Mapping)) or media.is_image_like(value):
        return [value]
    if hasattr(value, "__iter__"):
        return list(value)
    return [value]


def _cell_key(shell: Any, source: str) -> str:
    """Which notebook cell runs now: the front end's cell id (JupyterLab and Notebook 7 send it in
    the execute request's metadata), else the cell's own text."""
    get_parent = getattr(shell, "get_parent", None)
    parent = get_parent() if callable(get_parent) else None
    metadata = parent.get("metadata") if isinstance(parent, Mapping) else None
    cell_id = metadata.get("cellId") if isinstance(metadata, Mapping) else None
    return f"id:{cell_id}" if isinstance(cell_id, str) and cell_id else f"source:{source}"


def _is_frame(value: Any) -> bool:
    """A table (pandas, polars, Dask, ...): iterating it gives column names, not images."""
    return type(value).__name__ in ("DataFrame", "LazyFrame") and hasattr(value, "columns")


def _with_notes(text: str, notes: list[str]) -> str:
    """The plain-text twin of a final output: the text, then the footer's lines."""
    return text + ("\n\n" + "\n".join(notes) if notes else "")


def message_summary(message: Mapping[str, Any], width: int = 300) -> str:
    """A message's text with media as short markers, for `%sensenova history`."""
    content = message.get("content")
    if isinstance(content, str):
        pieces = [content]
    else:
        pieces = []
        for part in content or []:
            kind = protocol.part_kind(part)
            pieces.append(part.get("text", "") if kind == "text" else f"[{kind}]")
    text = " ".join(piece for piece in pieces if piece)
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _default(key: str, client: Any) -> str:
    """What applies when the session sets nothing: the client's or the server's default."""
    if key == "model":
        return "default" if client is None else f"client default {client.resolve_model()}"
    if key in PARAMETERS:
        default = protocol.PARAMETERS[key].default
        return "not sent" if default is None else f"server default {default}"
    if client is None:
        return "default"
    if key in CONNECTION_KEYS:
        return f"from the environment: {getattr(client, key)}"
    return "none"


def _magics(shell: Any = None) -> SenseNovaMagics:
    from IPython import get_ipython

    shell = shell or get_ipython()
    if shell is None:
        raise RuntimeError("use_client() needs a running IPython (a notebook or the ipython shell)")
    magics = shell.magics_manager.registry.get(SenseNovaMagics.__name__)
    if magics is None:
        load_ipython_extension(shell)
        magics = shell.magics_manager.registry[SenseNovaMagics.__name__]
    return magics


def use_client(client: Any, shell: Any = None) -> None:
    """Make `%%sensenova` use this Client (credentials, headers, retries of your choice)."""
    _magics(shell).client = client


def load_ipython_extension(ipython: Any) -> None:
    """Register `%%sensenova` and `%sensenova` (a fresh session: no chats, no config)."""
    output_html("")  # load the renderer now, not in the middle of a reply an interrupt may hit
    ipython.register_magics(SenseNovaMagics(ipython))
