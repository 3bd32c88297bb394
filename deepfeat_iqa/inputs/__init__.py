"""The first stage: a file becomes RGB pixels (:mod:`.images`), pixels become the crops a network sees (:mod:`.views`)."""
