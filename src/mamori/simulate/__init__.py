"""`mamori simulate`: a legitimate population and attack campaigns driven over HTTP against a
running Mamori (or a comparison peer), with the outcomes measured from the server's answers.

Modules:
  scenario    TOML scenario files -> validated dataclasses (suites, `extends`)
  networks    real address ranges (geoip2fast's bundled data): Japanese ISPs, foreign
              residential networks, data centers; realistic user agents
  population  PURE: seeded users, devices, home networks, habits
  campaigns   PURE: each campaign kind -> timed attempts
  browser     one simulated browser: its own cookie jar, user agent and address
  targets     the Target protocol: MamoriTarget (JSON API, dev outbox, operator API) and
              PeerTarget (the Django comparison peer's contract)
  seed        sign the population up (email, phone, habitual devices, login history)
  runner      the event loop: legitimate logins and campaigns on a compressed clock
  outcomes    PURE: the accounting (takeovers, credentials confirmed, friction, timings)
  report      Markdown, results.json and PNG plots (matplotlib, Agg)
  server      compressed server settings, a managed `mamori serve`, database snapshots
See docs/simulate.md.
"""
