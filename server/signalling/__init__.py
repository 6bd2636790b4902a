"""Signalling for video rooms: frames, lobby and rooms (pure), TURN credentials."""
