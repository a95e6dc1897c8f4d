"""Bulk jobs on Celery workers, with Redis as broker and store (``pip install 'norq[celery]'``).

Nothing here is imported by ``import norq``: :meth:`norq.Norq.enqueue_many`
and the ``norq worker`` / ``norq jobs`` commands load it when used.
"""
