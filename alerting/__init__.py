"""spendwatch alerting: route → group → dedup (notification log) → notify, like Alertmanager.

    from alerting.environment import alert_environment
    from alerting.pipeline import build_alert_pipeline
    env = alert_environment(os.environ)            # read at the edge: Slack token, base URL, routes file
    pipeline = build_alert_pipeline(settings, environment=env)   # Slack with a token, else the console
    for anomaly in anomalies:
        pipeline.handle(anomaly)                   # decide; nothing is sent yet
    pipeline.flush()                               # deliver what is due, retry what failed

Stages, each a small module: :mod:`alerting.routing` (route: the routing tree),
:mod:`alerting.dedup` (known? material change?), :mod:`alerting.group` (groups and storms),
:mod:`alerting.deliver` (the outbox, in order, with retry); :mod:`alerting.pipeline` composes them.
Beside them: :mod:`alerting.nflog` (the notification log in the history database, with an
injectable clock), :mod:`alerting.render` (Block Kit), :mod:`alerting.notifiers` (Slack and
console adapters) and :mod:`alerting.environment` (what the command line reads from the
environment). See ``docs/alerting.md``.
"""
