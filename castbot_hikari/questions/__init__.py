"""The application in its channel: questions, answers, completion, withdraw and resume, and the admins' review."""
