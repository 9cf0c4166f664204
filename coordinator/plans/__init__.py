"""Rehabilitation planning: the mapping (*kartläggning*), the sick-leave and rehabilitation plan
with its measures, follow-ups and versions, and the treatments reported under the state
agreements."""
