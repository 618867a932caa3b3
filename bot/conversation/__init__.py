"""The conversation engine: step-by-step forms in chat (fields, navigation, drafts)."""
