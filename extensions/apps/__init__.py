"""``/apps``: admins post and manage Apply buttons (Manage Server only). Glue only.

The subcommands and their component listeners live in private modules by topic; they are registered
here, on the one group and loader, in the order admins read them.
"""

from extensions.apps._common import apps, loader
from extensions.apps._delete import Delete, NotifyChannel
from extensions.apps._manage import Close, Edit, List, Open
from extensions.apps._post import Post
from extensions.apps._questions import ApplicationsCommand, QuestionsCommand
from extensions.apps._reports import PendingList, RetryPending, Stats

for _command in (
    Post,
    List,
    Edit,
    Close,
    Open,
    Delete,
    NotifyChannel,
    PendingList,
    RetryPending,
    Stats,
    QuestionsCommand,
    ApplicationsCommand,
):
    apps.register(_command)

__all__ = ["loader"]
