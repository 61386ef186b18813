"""The content learners are served and what is decided about it: the built-in bank (curated
entries and procedural generators), content identity (what makes two challenges the same piece of
content), learners' reports and operators' decisions (retire, correct, dismiss, reverse). Uses
core, learning (regrading) and the models."""
