"""`python -m sensenova_widget.emulator --port 8765`: serve until Ctrl-C; flags mirror the knobs."""

from __future__ import annotations

import argparse
import shlex
import sys

from .faults import KNOBS
from .runner import Emulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sensenova_widget.emulator",
        description="A local SenseNova chat-completions service for offline work.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one; default 8765)")
    parser.add_argument("--api-key", help="the API key to accept (default: generated)")
    parser.add_argument("--access-key-id", help="the access key id to accept (default: generated)")
    parser.add_argument("--secret-access-key", help="the access key secret (default: generated)")
    knobs = parser.add_argument_group("knobs (every request; a request's x-emulator-fault header overrides)")
    for name, (_, allowed) in KNOBS.items():
        knobs.add_argument("--" + name.replace("_", "-"), dest=name, metavar="VALUE", help=allowed)
    return parser.parse_args(argv)


def parser_error(message: str) -> None:
    print(f"python -m sensenova_widget.emulator: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    knobs = {name: getattr(args, name) for name in KNOBS if getattr(args, name) is not None}
    try:
        emulator = Emulator(
            args.host,
            args.port,
            api_key=args.api_key,
            access_key_id=args.access_key_id,
            secret_access_key=args.secret_access_key,
            **knobs,
        )
    except ValueError as exc:  # a knob's value
        parser_error(str(exc))
    except OSError as exc:
        parser_error(
            f"cannot listen on {args.host}:{args.port} ({exc.strerror}): choose another --port "
            "(0 picks a free one)"
        )
    emulator.start()
    print(
        f"# SenseNova emulator at {emulator.base_url} (files: {emulator.file_base_url}; OpenAI-compatible: "
        f"{emulator.openai_base_url}; the token plan: {emulator.token_plan_base_url}); Ctrl-C stops it."
    )
    for name, value in emulator.env().items():
        print(f"export {name}={shlex.quote(value)}")
    sys.stdout.flush()
    emulator.serve_forever()


if __name__ == "__main__":
    main()
