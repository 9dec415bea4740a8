"""``outbox_send``: send the mail, SMS and webhooks that are due, then exit (cron).

``--loop`` keeps sending (waiting ``OUTBOX_POLL_INTERVAL`` seconds, or
``--interval``, whenever nothing is due) until SIGTERM or SIGINT, which
end the wait at once and let the message being sent finish: the process
manager's stop is a clean shutdown. Several senders may run side by side
on PostgreSQL; on SQLite run one.
"""

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from protection.core.outbox import SendReport, outbox_run, outbox_send_due


def _summary(report: SendReport) -> str:
    return f"sent {report.sent}, retried later {report.retried}, gave up {report.dead}"


class Command(BaseCommand):
    help = "Send what the outbox has due (mail, SMS, webhooks), then exit; --loop keeps going."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--loop",
            action="store_true",
            help="keep sending until SIGTERM/SIGINT (for a process manager)",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="with --loop: seconds to wait when nothing is due (default OUTBOX_POLL_INTERVAL)",
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=None,
            help="without --loop: send at most this many (default: everything due)",
        )
        parser.add_argument(
            "--channels",
            default="",
            help="comma list of channels to send (default: all), e.g. mail,sms",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        channels = [name.strip() for name in options["channels"].split(",") if name.strip()]
        if options["interval"] is not None and options["interval"] <= 0:
            raise CommandError("--interval must be a positive number of seconds")
        if not options["loop"]:
            limit = options["limit"] if options["limit"] is not None else 10**9
            report = outbox_send_due(limit=limit, channels=channels or None)
            if options["verbosity"] >= 1:
                self.stdout.write(_summary(report))
            return
        stop = threading.Event()

        def request_stop(signum: int, frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        if options["verbosity"] >= 1:
            self.stdout.write("outbox sender running (SIGTERM or Ctrl-C stops it)")
            self.stdout.flush()
        total = outbox_run(stop=stop, interval=options["interval"], channels=channels or None)
        if options["verbosity"] >= 1:
            self.stdout.write(f"outbox sender stopped: {_summary(total)}")
