"""The embedded Celery broker: kombu's filesystem transport, made safe against half-written messages.

kombu writes a message by opening `<time>_<uuid>.<queue>.msg` in the queue folder and then writing it, and
a worker lists the folder, takes any `*.<queue>.msg` and reads it. A worker that took a file its producer
was still writing read half a message, died on JSONDecodeError (`make run` stopped) and the message was
gone (kombu's open issue). Here a message is written under a name the worker does not take
(`….msg.part`), flushed to disk, then renamed into place: a rename within one folder is atomic, so the
worker only ever sees whole messages. A file that still cannot be read (from a crash of an older
version, a full disk) is moved aside to `<broker>/unreadable/` and logged, never crashing the worker.

config/celery.py makes this the transport of `filesystem://` URLs. Redis, in production, is untouched.
"""

import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

PART_SUFFIX = ".part"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put `payload` onto `queue`: whole, or not at all."""
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        part = final + PART_SUFFIX  # "<queue>.msg.part" is not "<queue>.msg": no reader takes it
        try:
            with open(part, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
                f.flush()
                os.fsync(f.fileno())
            os.replace(part, final)
        except OSError as exc:
            try:
                os.unlink(part)
            except OSError:
                pass
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue):
        """The next message of `queue`; an unreadable one is set aside, and the next one taken."""
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            # The broker's own processed folder (kombu takes /tmp unless it keeps processed messages): on the
            # same filesystem as the queue, so taking the file is one atomic rename, and of two readers one wins.
            taken_dir = self.processed_folder if os.path.isdir(self.processed_folder) else tempfile.gettempdir()
            try:
                shutil.move(os.path.join(self.data_folder_in, name), taken_dir)
            except OSError:
                continue
            taken = os.path.join(taken_dir, name)
            try:
                with open(taken, "rb") as f:
                    payload = f.read()
                message = loads(bytes_to_str(payload))
            except (OSError, ValueError) as exc:
                self._set_aside(taken, exc)
                continue
            if not self.store_processed:
                os.remove(taken)
            return message
        raise filesystem.Empty()

    def _set_aside(self, path: str, exc: Exception) -> None:
        folder = Path(self.data_folder_in).parent / "unreadable"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            shutil.move(path, folder / Path(path).name)
            where = folder / Path(path).name
        except OSError:
            where = path
        logger.error("broker message unreadable, set aside", extra={"path": str(where), "error": repr(exc)})


class Transport(filesystem.Transport):
    Channel = Channel
