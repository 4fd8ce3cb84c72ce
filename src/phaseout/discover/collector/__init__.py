"""Site collectors: the pure rules (schedules, scope checks, the upload's wire format) and the
collector process itself (``agent``: enrol, pull jobs, scan locally, queue and push results)."""
