"""Active learning and semi-automatic annotation (proofreading)."""
