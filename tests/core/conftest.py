"""The config report lists the demos a checkpoint offers; the tasks it offers are declared a layer
above core, in explorer.tasks, which hands them to the core's catalog when imported. The window and
the command line import it; so do these tests."""

import explorer.tasks  # noqa: F401
