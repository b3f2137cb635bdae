"""The enrolled identities: store, matching, calibration and enrollment (issue 3)."""
