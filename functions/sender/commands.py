"""`spillway sender`: check the settings, then run the sender until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging

from functions.cliargs import fail
from functions.errors import ConfigError
from functions.sender.errors import SenderError
from functions.settings import get_settings


def sender(args: argparse.Namespace) -> None:
    try:
        settings = get_settings()
        if args.concurrency:
            settings = settings.model_copy(update={"SENDER_CONCURRENCY": args.concurrency})
    except ConfigError as exc:
        fail(str(exc))
    logging.basicConfig(
        level=settings.LOG_LEVEL.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from functions.sender.run import main

    try:
        asyncio.run(main(settings))
    except (ConfigError, SenderError) as exc:
        fail(str(exc))
