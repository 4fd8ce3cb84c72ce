"""Alerts: rules over plain data (``rules``), destinations checked before anything is stored
(``destinations``), the messages each destination receives (``messages``) and the senders that
do the network I/O (``send``).  Evaluation and the outbox live in :mod:`phaseout.app.alerts`
and :mod:`phaseout.store.alerts`."""
