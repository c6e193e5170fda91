"""Auditing: histories, digests, timelines, reconstruction and replay."""
