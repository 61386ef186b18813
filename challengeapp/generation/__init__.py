"""Generating a challenge: the pipeline (take a quota unit, ask a provider, check, shuffle, save;
a failure costs the learner nothing), the providers (the built-in bank; OpenAI and compatible
servers, the only module that imports `openai`), parsing model output defensively, and the time
budget of one generation. Uses core, quality, content and quota."""
