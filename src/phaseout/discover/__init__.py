"""Network discovery: active probes of the hosts a user declares in scope (I/O at the edge)."""
