"""spendwatch alerting: route → group → dedup (notification log) → notify, like Alertmanager.

    from alerting.pipeline import build_alert_pipeline
    pipeline = build_alert_pipeline(settings)      # Slack if SPENDWATCH_SLACK_TOKEN[_FILE], else console
    for anomaly in anomalies:
        pipeline.handle(anomaly)                   # decide; nothing is sent yet
    pipeline.flush()                               # deliver what is due, retry what failed

Modules: :mod:`alerting.routing` (the routing tree), :mod:`alerting.nflog` (the notification log in
the history database), :mod:`alerting.render` (Block Kit), :mod:`alerting.notifiers` (Slack and
console adapters), :mod:`alerting.pipeline` (the stages composed). See ``docs/alerting.md``.
"""
