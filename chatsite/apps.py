from django.apps import AppConfig


class ChatsiteConfig(AppConfig):
    """The project package as an app: only for its system checks (chatsite/checks.py)."""

    name = "chatsite"

    def ready(self) -> None:
        from chatsite import checks  # noqa: F401  (registers them)
