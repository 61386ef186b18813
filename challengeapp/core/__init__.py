"""What every capability builds on, and nothing else: the one error base class (errors), a
challenge as a provider drafts it (drafts), per-process bounds (slots), and turning a cursor's
values into what the ORM returns (sql_values). Imports nothing of the other packages."""
