"""One cog per feature: asking questions, and information/admin commands."""
