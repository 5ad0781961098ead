"""Where the work happens: one Target interface, one implementation per place."""
