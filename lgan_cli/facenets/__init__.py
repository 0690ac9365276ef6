"""Frozen third-party networks rebuilt in plain torch: identity embedding, expression classifier, LPIPS."""
