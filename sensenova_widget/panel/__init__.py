"""The chat panel: the anywidget `ChatPanel`, its turns run in a kernel thread, what outlives the kernel."""
