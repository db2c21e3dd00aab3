"""The client: a request checked and sent, retried, streamed back as `Delta`s and a `Reply`."""
