"""Everything that does work. Never imports textual."""
