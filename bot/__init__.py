"""Bot: retrieve -> answer, and the interfaces (CLI, API, widget, console)."""
