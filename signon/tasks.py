from celery import shared_task

from signon import services


@shared_task(name="signon.expired_tokens_purge")
def expired_tokens_purge_task() -> None:
    services.expired_tokens_purge()
