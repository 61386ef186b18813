"""Whether a drafted challenge can be trusted: the content gate (schema-valid nonsense), the
verification of a "what does this print?" key by running the code, and the sandbox that runs it
(bubblewrap, fail closed). Uses core only."""
