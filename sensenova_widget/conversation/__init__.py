"""Conversations: turns kept in order, saved to the store, exported and transcribed."""
