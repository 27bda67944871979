"""The ground floor's helpers: atomic file writes and locks (:mod:`.io`)."""
