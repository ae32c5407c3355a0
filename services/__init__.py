"""Everything that does work, and the words it works with (models, config, errors). Never
imports textual, screens or sheetstage_tui (docs/architecture.md)."""
