# The chat panel in marimo: `marimo edit notebooks/marimo_chat.py` (or `marimo run` for the app view).
# marimo has no IPython namespace; the panel's "From notebook" picker reads the app's globals, so
# `photo` and `chart` below are listed there (`snw.ChatPanel(namespace=globals())` says it explicitly).
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import marimo as mo

    import sensenova_widget as snw

    # the service with credentials in the environment, else the local emulator: said once, here
    client = snw.connect(verbose=False)
    mo.md(f"Asking `{client.base_url}` ({client.api} shape).")
    return mo, snw


@app.cell
def _():
    from PIL import Image, ImageDraw

    photo = Image.new("RGB", (320, 240), (70, 130, 180))
    ImageDraw.Draw(photo).ellipse([110, 70, 210, 170], fill=(250, 200, 40))
    return (photo,)


@app.cell
def _(mo, snw):
    panel = snw.ChatPanel(system="Answer in one short paragraph.")
    chat = mo.ui.anywidget(panel)  # streaming, Stop and the pickers work as in Jupyter
    chat
    return (panel,)


@app.cell
def _(mo):
    mo.md(
        """
        Type below the panel's log and press Enter, or open **From notebook** to attach `photo`.
        From code: `panel.attach(photo)` stages it under its own name, `panel.ask("What is this?")`
        sends a turn that streams into the panel.
        """
    )
    return


if __name__ == "__main__":
    app.run()
