"""`%%sensenova` / `%sensenova` run in an in-process IPython shell against the emulator.

Cells go through `shell.run_cell`, exactly as a notebook sends them; the display publisher is
swapped for a capturing one so every `display` / `update_display` can be checked. Every run
also checks that no credential appears anywhere in what the cell printed or displayed.
"""

from __future__ import annotations

import re
import signal
import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from IPython.core.displaypub import CapturingDisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config

from sensenova_widget import Client, Reply
from sensenova_widget.magic import magic
from sensenova_widget.magic.magic import ReplyInterrupted, SenseNovaCellError

CURSOR = "\u258c"


@dataclass
class Ran:
    outputs: list[dict]  # what the display publisher received, in order
    stdout: str
    stderr: str
    error: BaseException | None

    @property
    def final(self) -> dict:
        return self.outputs[-1]["data"]

    @property
    def everything(self) -> str:
        shown = " ".join(str(value) for output in self.outputs for value in output["data"].values())
        return f"{shown} {self.stdout} {self.stderr}"


@pytest.fixture(scope="module")
def ipython():
    """An in-process IPython shell, dropped after this module so later tests see no IPython."""
    existed = InteractiveShell.initialized()
    config = Config()
    config.HistoryManager.hist_file = ":memory:"  # no history file, no saving thread
    yield InteractiveShell.instance(config=config)
    if not existed:
        InteractiveShell.clear_instance()


@pytest.fixture
def shell(ipython, emulator, monkeypatch):
    """The shell with a fresh %sensenova session, its environment on the emulator."""
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SENSENOVA_ACCESS_KEY_ID")  # the API key alone, as most users have it
    monkeypatch.delenv("SENSENOVA_SECRET_ACCESS_KEY")
    monkeypatch.delenv("SENSENOVA_MODEL", raising=False)
    ip = ipython
    magic.load_ipython_extension(ip)
    names = set(ip.user_ns)
    yield ip
    for name in set(ip.user_ns) - names:
        ip.user_ns.pop(name, None)


@pytest.fixture
def run(shell, emulator):
    """Run one cell; return what it displayed and printed. Fails if a credential shows up."""

    def run(cell: str, publisher: CapturingDisplayPublisher | None = None) -> Ran:
        publisher = publisher or CapturingDisplayPublisher()
        saved = shell.display_pub
        shell.display_pub = publisher
        try:
            with capture_output(display=False) as captured:
                result = shell.run_cell(cell, store_history=True)
        finally:
            shell.display_pub = saved
        ran = Ran(
            list(getattr(publisher, "outputs", [])), captured.stdout, captured.stderr, result.error_in_exec
        )
        for secret in (emulator.api_key, emulator.secret_access_key):
            assert secret not in ran.everything
        assert "Traceback" not in ran.everything
        return ran

    return run


def use_faults(shell, emulator, faults: str, max_retries: int = 0) -> None:
    """Point the magic at a client whose requests carry the emulator's fault header."""
    magic.use_client(
        Client(
            api_key=emulator.api_key,
            base_url=emulator.base_url,
            file_base_url=emulator.file_base_url,
            max_retries=max_retries,
            headers={"x-emulator-fault": faults},
        ),
        shell,
    )


def texts(ran: Ran) -> list[str]:
    return [output["data"].get("text/plain", "") for output in ran.outputs]


# -- streaming and the final rendering -------------------------------------------------------


def test_reply_streams_into_one_display_updated_in_place_and_ends_as_markdown(run, emulator):
    emulator.configure(delta_delay=0.05, reply_tokens=30)
    ran = run("%%sensenova\nSay **hello** to one two three four five six seven eight nine ten")
    assert ran.error is None
    first, *updates = ran.outputs
    display_id = first["transient"]["display_id"]
    assert not first["update"] and updates and all(o["update"] for o in updates)
    assert {o["transient"]["display_id"] for o in updates} == {display_id}
    streamed = [t for t in texts(ran)[1:-1] if t.endswith(CURSOR)]
    assert len(streamed) >= 3, texts(ran)  # the text grew in place, several times
    assert all(len(a) <= len(b) for a, b in zip(streamed, streamed[1:]))
    final = ran.final
    assert "<strong>hello</strong>" in final["text/html"]
    assert "prompt +" in final["text/html"] and "reply tokens" in final["text/html"]
    assert final["text/plain"].startswith("Say **hello** to one two")
    assert emulator.requests[-1]["stream"] is True


def test_updates_are_coalesced_not_one_per_delta(run, emulator, client):
    emulator.configure(reply_tokens=400)
    prompt = "count these words please"
    deltas = sum(1 for _ in client.stream(prompt))
    ran = run(f"%%sensenova\n{prompt}")
    assert ran.error is None and deltas > 50
    assert len(ran.outputs) < deltas / 2


def test_model_output_cannot_inject_html(run):
    ran = run("%%sensenova\n<img src=x onerror=alert(1)> <script>alert(2)</script> [a](javascript:alert(3))")
    html = ran.final["text/html"]
    assert "<img" not in html and "<script" not in html and "javascript:" not in html
    assert "&lt;script&gt;" in html


def test_in_a_terminal_the_reply_is_printed_as_it_comes_once(run, shell):
    from IPython.core.displaypub import DisplayPublisher

    ran = run("%%sensenova -o r\nplease answer in the terminal", DisplayPublisher())
    reply = shell.user_ns["r"].text
    assert ran.stdout.count(reply) == 1 and ran.stdout.startswith(reply)
    assert "reply tokens" in ran.stdout and CURSOR not in ran.stdout


def test_the_reply_is_the_cells_value_and_lands_in_out_without_a_second_display(run, shell):
    ran = run("%%sensenova -o answer\nWhat is two plus two?")
    reply = shell.user_ns["answer"]
    assert isinstance(reply, Reply) and reply.finish_reason == "stop"
    assert reply.text.startswith("What is two plus two?")
    assert shell.user_ns["_"] is reply  # the cell's result, as `Out[n]` too
    assert shell.user_ns["Out"][shell.execution_count - 1] is reply
    assert sum(1 for o in ran.outputs if not o["update"]) == 1  # shown once: no Out[] repeating it
    assert reply.text not in ran.stdout


def test_no_stream_waits_then_shows_the_whole_reply(run, shell, emulator):
    ran = run("%%sensenova --no-stream -o r\nplain question")
    assert emulator.requests[-1]["stream"] is False
    assert len(ran.outputs) == 2  # a placeholder, then the reply
    assert shell.user_ns["r"].text in ran.final["text/plain"]


def test_options_reach_the_request(run, emulator):
    run(
        "%%sensenova -m SenseChat-Vision -s 'Answer tersely.' --temperature 0.2 --top-p 0.5 "
        "--max-new-tokens 64 --repetition-penalty 1.1\nhello"
    )
    body = emulator.requests[-1]
    assert body["model"] == "SenseChat-Vision"
    assert body["messages"][0] == {"role": "system", "content": [{"type": "text", "text": "Answer tersely."}]}
    assert (body["temperature"], body["top_p"], body["max_new_tokens"], body["repetition_penalty"]) == (
        0.2,
        0.5,
        64,
        1.1,
    )


def test_length_ending_gets_a_footer_notice(run):
    ran = run("%%sensenova --max-new-tokens 3\none two three four five six")
    assert "max_new_tokens" in ran.final["text/html"] and "cut off" in ran.final["text/plain"]


def test_help_lists_the_options(shell):
    doc = shell.find_cell_magic("sensenova").__doc__
    for option in (
        "--model",
        "--image",
        "--video",
        "--system",
        "--temperature",
        "--top-p",
        "--max-new-tokens",
        "--repetition-penalty",
        "--no-stream",
        "--out",
        "--format",
        "--chat",
        "--new",
    ):
        assert option in doc


# -- images and interpolation ------------------------------------------------------------------


def test_images_come_from_expressions_lists_and_series(run, shell, emulator):
    shell.user_ns["photo"] = np.full((30, 40, 3), (200, 10, 10), np.uint8)
    shell.user_ns["df"] = pd.DataFrame({"image": [np.zeros((10 + i, 20, 3), np.uint8) for i in range(4)]})
    shell.user_ns["imgs"] = [np.zeros((8, 9), np.uint8)]
    ran = run('%%sensenova -i photo -i df.image[:3] -i "imgs[0]" -o r\nWhat differs?')
    reply = shell.user_ns["r"].text
    assert "image 1: 40x30" in reply and "red" in reply
    assert "image 2: 20x10" in reply and "image 4: 20x12" in reply and "image 5: 9x8" in reply
    parts = emulator.requests[-1]["messages"][-1]["content"]
    assert [p["type"] for p in parts].count("image_base64") == 5
    assert ran.error is None


def test_images_are_encoded_by_the_clients_media_options(run, shell, emulator):
    from sensenova_widget.media import MediaOptions

    magic.use_client(
        Client(api_key=emulator.api_key, base_url=emulator.base_url, media=MediaOptions(max_side=32)), shell
    )
    shell.user_ns["photo"] = np.full((300, 400, 3), (200, 10, 10), np.uint8)
    run("%%sensenova -i photo -o r\nHow big?")
    width, height = map(int, re.search(r"image 1: (\d+)x(\d+)", shell.user_ns["r"].text).groups())
    assert 0.85 * 32 <= width <= 32 and height < width  # not 400x300: the client's options, not a global


def test_video_from_frames(run, shell, emulator):
    pytest.importorskip("av")
    shell.user_ns["frames"] = np.zeros((6, 32, 48, 3), np.uint8)
    run("%%sensenova -v frames -o r\nWhat happens?")
    assert "video 1: mp4, 6 frames, 48x32" in shell.user_ns["r"].text


def test_prompt_interpolates_expressions_and_keeps_doubled_braces(run, shell, emulator):
    shell.user_ns.update(label="the cat", n=21, words=["a", "b", "c"])
    run('%%sensenova\nIs {label} {n * 2} {words[1:]}? Reply as {{"yes": true}} and keep $HOME')
    text = emulator.requests[-1]["messages"][-1]["content"][-1]["text"]
    assert text == "Is the cat 42 ['b', 'c']? Reply as {\"yes\": true} and keep $HOME"


# -- formats -------------------------------------------------------------------------------------


def test_format_text_shows_plain_text_only(run):
    ran = run("%%sensenova -f text\n**not bold**")
    assert set(ran.final) == {"text/plain"} and ran.final["text/plain"].startswith("**not bold**")


def test_format_code_offers_the_fenced_code_as_the_next_cell(run, shell, monkeypatch):
    offered = []
    monkeypatch.setattr(shell, "set_next_input", lambda text, replace=False: offered.append((text, replace)))
    ran = run("%%sensenova -f code\nHere:\n```python\nprint(1 + 1)\n```")
    mark = "# generated by %%sensenova \u2014 review before running\n"
    assert offered == [(mark + "print(1 + 1)", False)]  # a new cell below, never the magic's own
    assert "offered as the next cell" in ran.final["text/plain"]
    assert "2" not in ran.stdout  # offered, not run


def test_format_code_run_again_does_not_pile_up_the_same_cell(run, shell, monkeypatch):
    offered = []
    monkeypatch.setattr(shell, "set_next_input", lambda text, replace=False: offered.append(text))
    cell = "%%sensenova -f code\n```sql\nselect 1\n```"
    first, again = run(cell), run(cell)
    assert offered == ["-- generated by %%sensenova \u2014 review before running\nselect 1"]
    assert "offered as the next cell" in first.final["text/plain"]
    assert "not inserted again" in again.final["text/plain"]
    run(cell.replace("select 1", "select 2"))  # other code: offered
    run("%%sensenova -f code\n```python\nx_from_model = 1\n```")
    assert len(offered) == 3 and offered[-1].startswith("# generated")
    assert "x_from_model" not in shell.user_ns


def test_a_dataframe_given_as_images_points_to_caption(run, shell, emulator):
    shell.user_ns["frame"] = pd.DataFrame({"image": [np.zeros((8, 8, 3), np.uint8)], "kind": ["x"]})
    sent = len(emulator.requests)
    ran = run("%%sensenova -i frame\nWhat are these?")
    assert isinstance(ran.error, SenseNovaCellError) and "a DataFrame is not sent as images" in ran.stdout
    assert "snw.caption(frame, column, prompt)" in ran.stdout
    assert "'image'" not in ran.stdout and len(emulator.requests) == sent  # no column name sent as a path


def test_format_json_pretty_prints_or_says_it_is_not_json(run):
    ran = run('%%sensenova -f json\n{{"b": [1, 2], "a": "x"}}')
    assert '"b": [\n    1,' in ran.final["text/plain"]
    ran = run("%%sensenova -f json\nthis is not json")
    assert "not JSON" in ran.final["text/plain"] and "this is not json" in ran.final["text/plain"]


# -- named chats and the line magic --------------------------------------------------------------


def test_named_chat_carries_earlier_turns_and_new_restarts_it(run, shell, emulator):
    shell.user_ns["photo"] = np.zeros((16, 16, 3), np.uint8)
    run("%%sensenova --chat trip -i photo\nfirst question")
    run("%%sensenova --chat trip\nsecond question")
    second = emulator.requests[-1]["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    assert second[0]["content"][-1]["text"] == "first question"
    assert second[1]["content"][0]["text"].startswith("first question")
    ran = run("%sensenova chats")
    assert "trip: 2 turns" in ran.stdout
    history = run("%sensenova history trip").stdout
    assert "user: [image] first question" in history and "user: second question" in history
    run("%%sensenova --chat trip --new\nstart over")
    assert [m["role"] for m in emulator.requests[-1]["messages"]] == ["user"]


def test_a_named_chat_is_a_saved_conversation_that_a_new_session_continues(run, shell, emulator):
    import sensenova_widget as snw

    run("%%sensenova --chat notes\nremember the word teal")
    assert [(c.name, c.turns) for c in snw.conversations()] == [("notes", 1)]  # the panels' store
    magic.load_ipython_extension(shell)  # a new session (as after a kernel restart): no chat in memory
    run("%%sensenova --chat notes\nwhat was the word?")
    sent = emulator.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[0]["content"][-1]["text"] == "remember the word teal"
    assert "notes: 2 turns" in run("%sensenova chats").stdout
    reopened = snw.Conversation(name="notes")  # reopened like a panel's conversation
    assert [t.text for t in reopened.turns] == ["remember the word teal", "what was the word?"]


def test_a_refused_message_in_a_named_chat_is_shown_kept_and_not_resent(run, emulator):
    run("%%sensenova --chat careful\na fine start")
    ran = run("%%sensenova --chat careful\nplease say EMULATOR-UNSAFE")
    assert isinstance(ran.error, Exception) and "content filter" in ran.everything.lower()
    run("%%sensenova --chat careful\nand a new question")
    sent = emulator.requests[-1]["messages"]
    assert "EMULATOR-UNSAFE" not in str(sent)
    assert [m["content"][-1]["text"] for m in sent if m["role"] == "user"] == [
        "a fine start",
        "and a new question",
    ]
    history = run("%sensenova history careful").stdout
    assert "user: please say EMULATOR-UNSAFE" in history and "assistant (refused):" in history


def test_models_lists_the_services_models_with_the_default_marked(run):
    out = run("%sensenova models").stdout
    assert "* SenseNova-V6-Pro" in out and "  SenseChat-Vision" in out


def test_config_sets_session_defaults_and_validates_them(run, emulator):
    run("%sensenova config temperature=0.3 model=SenseChat-Vision system='Be brief.'")
    shown = run("%sensenova config").stdout
    assert "temperature = 0.3" in shown and "model = 'SenseChat-Vision'" in shown
    assert "top_p = (server default 0.7)" in shown
    run("%%sensenova\nhi")
    body = emulator.requests[-1]
    assert body["temperature"] == 0.3 and body["model"] == "SenseChat-Vision"
    assert body["messages"][0]["content"][0]["text"] == "Be brief."
    run("%%sensenova --temperature 0.9\nhi")
    assert emulator.requests[-1]["temperature"] == 0.9  # the cell's option wins
    bad = run("%sensenova config top_p=1")
    assert "open interval (0, 1)" in bad.stderr
    unknown = run("%sensenova config api_key=secret")
    assert "top_p" in unknown.stderr and "base_url" in unknown.stderr  # what is allowed
    run("%sensenova config temperature=")
    run("%%sensenova\nhi")
    assert "temperature" not in emulator.requests[-1]


def test_config_shows_without_credentials_and_says_what_is_missing(run, monkeypatch):
    monkeypatch.delenv("SENSENOVA_API_KEY")
    out = run("%sensenova config temperature=0.5\n").stdout + run("%sensenova config").stdout
    assert "temperature = 0.5" in out and "model = (default)" in out
    assert "AuthenticationError: No SenseNova credentials found" in out
    ran = run("%%sensenova\nhi")
    assert ran.stdout.startswith("AuthenticationError: No SenseNova credentials found")


def test_config_base_url_makes_a_new_client(run, emulator):
    run("%sensenova config base_url=http://127.0.0.1:9/v1")
    ran = run("%%sensenova\nhi")
    assert isinstance(ran.error, SenseNovaCellError) and "127.0.0.1:9" in ran.stdout
    run(f"%sensenova config base_url={emulator.base_url}")
    assert run("%%sensenova\nhi").error is None


# -- errors a person can act on ----------------------------------------------------------------


def test_a_bad_option_prints_the_usage_line(run):
    ran = run("%%sensenova --tempreature 0.2\nhi")
    assert "unrecognized arguments: --tempreature" in ran.stderr
    assert "%%sensenova [-m MODEL] [--temperature T]" in ran.stderr
    ran = run("%%sensenova --temperature warm\nhi")
    assert "invalid float value: 'warm'" in ran.stderr
    ran = run("%%sensenova -f md\nhi")
    assert "invalid choice: 'md'" in ran.stderr and "'markdown', 'text', 'code', 'json'" in ran.stderr
    ran = run('%%sensenova -s "unclosed\nhi')
    assert "No closing quotation" in ran.stderr and "usage" not in ran.stdout


def test_an_unknown_name_in_an_image_option_is_named(run):
    ran = run("%%sensenova -i phtoo\nhi")
    assert isinstance(ran.error, SenseNovaCellError)
    assert ran.stdout.strip() == "-i phtoo: NameError: name 'phtoo' is not defined"


def test_an_unknown_name_in_the_prompt_is_named(run):
    ran = run("%%sensenova\nWhat is {lable}?")
    assert "{lable}" in ran.stdout and "name 'lable' is not defined" in ran.stdout and "{{" in ran.stdout


def test_an_out_of_range_parameter_is_refused_before_sending(run, emulator):
    ran = run("%%sensenova --top-p 1.0\nhi")
    assert "top_p=1.0 is not allowed" in ran.stdout and not emulator.requests


@pytest.mark.parametrize("option", ["", "--no-stream"])
def test_an_api_error_is_one_line_with_class_code_and_request_id(run, shell, emulator, option):
    use_faults(shell, emulator, "status=429")
    ran = run(f"%%sensenova {option}\nhi")
    lines = ran.stdout.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("RateLimitError: ") and "code 8" in lines[0] and "request id " in lines[0]
    assert ran.final["text/plain"] == "(no reply: see the error below)"


def test_an_error_midstream_keeps_the_partial_text(run, shell, emulator):
    use_faults(shell, emulator, "error_after=2")
    ran = run("%%sensenova -o r\none two three four five six seven eight")
    assert ran.stdout.startswith("StreamError: ")
    partial = shell.user_ns["r"].text
    assert partial and "one" in partial and partial in ran.final["text/plain"]
    assert "Incomplete" in ran.final["text/plain"]


class InterruptingPublisher(CapturingDisplayPublisher):
    """Captures, and raises KeyboardInterrupt at the first streamed update, as a kernel interrupt would."""

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False):
        super().publish(data, metadata, source, transient=transient, update=update)
        if update and data.get("text/plain", "").endswith(CURSOR) and not getattr(self, "fired", False):
            self.fired = True
            raise KeyboardInterrupt


def sigint_later(seconds: float) -> threading.Timer:
    """SIGINT to the main thread (a kernel interrupt) in `seconds`; cancel it once the cell is over,
    so that a cell which ended early cannot interrupt pytest itself."""
    timer = threading.Timer(seconds, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    timer.start()
    return timer


class SigintPublisher(CapturingDisplayPublisher):
    """Sends SIGINT to the main thread a moment after the first streamed text, while it waits on
    the socket."""

    timer = None

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False):
        super().publish(data, metadata, source, transient=transient, update=update)
        if update and data.get("text/plain", "").endswith(CURSOR) and self.timer is None:
            self.timer = sigint_later(0.2)


@pytest.mark.parametrize("publisher", [InterruptingPublisher, SigintPublisher])
def test_an_interrupt_stops_the_stream_and_keeps_the_partial_text(run, shell, emulator, publisher):
    if publisher is SigintPublisher and threading.current_thread() is not threading.main_thread():
        pytest.skip("SIGINT reaches the main thread only")
    # the first deltas come at once, then nothing for 20 s: what came must be on screen during the stall
    use_faults(shell, emulator, "stall_after=2,stall=20")
    publisher = publisher()
    ran = run("%%sensenova -o r\none two three four five six seven eight nine ten", publisher)
    if getattr(publisher, "timer", None):
        publisher.timer.cancel()
    assert isinstance(ran.error, ReplyInterrupted)
    on_screen = [t for t in texts(ran) if t.endswith(CURSOR)][-1].removesuffix(" " + CURSOR)
    assert ran.stdout.strip().startswith("KeyboardInterrupt: the reply was stopped")
    reply = shell.user_ns["r"]
    assert reply.finish_reason == "stopped" and reply.text.startswith("one")
    assert "ten" not in reply.text and on_screen == reply.text
    final = ran.final["text/plain"]
    assert final.startswith(reply.text) and "Stopped" in final and not final.endswith(CURSOR)


@pytest.mark.parametrize("option", ["", "--no-stream"])
def test_an_interrupt_before_the_reply_says_nothing_came(run, shell, emulator, option):
    use_faults(shell, emulator, "ttft=20")
    timer = sigint_later(0.5)
    ran = run(f"%%sensenova {option} -o r\nhello")
    timer.cancel()
    assert isinstance(ran.error, ReplyInterrupted)
    assert ran.stdout.strip() == "KeyboardInterrupt: stopped before any reply came."
    assert (
        any(word in ran.final["text/plain"] for word in ("Stopped", "interrupted"))
        and CURSOR not in ran.final["text/plain"]
    )


@pytest.mark.parametrize(
    "faults, prompt, notice",
    [
        ("", "a sensitive-trigger word", "content filter"),
        ("context_length=12", "one two three four five six seven eight", "context length"),
    ],
)
def test_unusual_endings_get_a_footer_notice(run, shell, emulator, faults, prompt, notice):
    if faults:
        use_faults(shell, emulator, faults)
    ran = run(f"%%sensenova -o r\n{prompt}")
    assert shell.user_ns["r"].finish_reason in ("sensitive", "context")
    assert notice in ran.final["text/html"] and notice in ran.final["text/plain"]


def test_media_left_out_of_a_long_chat_are_noted_in_the_footer(run, shell):
    shell.user_ns["pics"] = [np.full((8, 8, 3), i * 40, np.uint8) for i in range(4)]
    run("%%sensenova --chat album -i pics\nfirst four")
    ran = run("%%sensenova --chat album -i pics\nfour more")
    assert "omitted" in ran.final["text/plain"]
    assert "omitted" in " ".join(shell.user_ns["_"].omitted)


# -- today's service: reasoning, codes 17 and 18 ------------------------------------------------


def test_thinking_shows_the_reasoning_live_in_an_open_section_then_closed_above_the_answer(run, emulator):
    emulator.configure(delta_delay=0.03)
    ran = run("%%sensenova --thinking -m SenseNova-V6-5-Pro -o r\nis the sky blue today")
    assert ran.error is None and emulator.requests[-1]["thinking"] == {"enabled": True}
    live = [o["data"].get("text/html", "") for o in ran.outputs[1:-1]]
    thinking = [h for h in live if "<details" in h and " open" in h.split(">", 1)[0]]
    assert thinking and "Thinking\u2026" in thinking[0]  # open while the reasoning arrives
    html = ran.final["text/html"]
    details, answer = html.split("</details>", 1)
    assert "<details" in details and " open" not in details.split(">", 1)[0]
    assert "Thought for " in details and "Reasoning: 1 message" in details
    assert "Reasoning" not in answer and "is the sky blue today" in answer
    assert ran.final["text/plain"].startswith("[Thought for ")


def test_no_thinking_is_sent_and_shows_no_section(run, emulator):
    ran = run("%%sensenova --no-thinking -m SenseNova-V6-5-Pro\nplain please")
    assert ran.error is None and emulator.requests[-1]["thinking"] == {"enabled": False}
    assert "<details" not in ran.final["text/html"]


def test_inline_think_blocks_are_shown_apart_without_streaming_too(run, emulator):
    emulator.configure(think_inline=True)
    ran = run("%%sensenova --no-stream -m SenseNova-V6-Reasoner -o r\nwhy so")
    assert ran.error is None
    assert "always on" in ran.final["text/html"].split("</details>")[0]
    assert "<think>" not in ran.final["text/html"]


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        ("%%sensenova --max-new-tokens 16000\nhi", ("ContextLengthError", "shorten", "max_new_tokens")),
        ("%%sensenova\nsay EMULATOR-UNSAFE", ("ContentFilterError", "code 18", "rephrase")),
    ],
)
def test_codes_17_and_18_say_what_happened_and_what_to_do(run, emulator, cell, words):
    emulator.configure(context_length=1000)
    ran = run(cell)
    assert all(word in ran.stdout for word in words), ran.stdout
    assert len(emulator.requests) == 1  # never retried


def test_on_the_token_plan_models_marks_the_text_only_one_and_a_cell_shows_its_reasoning_apart(
    run, shell, emulator, monkeypatch
):
    monkeypatch.setenv("SENSENOVA_API_BASE", emulator.token_plan_base_url)
    monkeypatch.delenv("SENSENOVA_API_DIALECT", raising=False)
    listed = run("%sensenova models").stdout
    assert "  deepseek-v4-flash (text only: no images)" in listed
    assert "* sensenova-6.7-flash-lite" in listed
    ran = run("%%sensenova\nis the sky blue today")
    assert ran.error is None and emulator.requests[-1]["model"] == "sensenova-6.7-flash-lite"
    details, answer = ran.final["text/html"].split("</details>", 1)
    assert "Reasoning: 1 message" in details and "Reasoning" not in answer
    shell.user_ns["photo"] = np.full((30, 40, 3), (200, 10, 10), np.uint8)
    ran = run("%%sensenova -i photo\nwhat is this")  # no model named: the listed vision model
    assert ran.error is None and emulator.requests[-1]["model"] == "sensenova-6.7-flash-lite"
    assert "image 1: 40x30" in ran.final["text/html"]
    ran = run("%%sensenova -i photo --model deepseek-v4-flash\nwhat is this")
    assert "reads text only" in ran.stdout + ran.stderr + str(ran.error)
    assert emulator.requests[-1]["model"] == "sensenova-6.7-flash-lite"  # the refused cell sent nothing
